import { test } from 'node:test';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_RUN_CASES_FLOOR, fuzzRuns, PROPERTY_BUDGETS, propertyRuns, type PropertyName } from './fuzz-runs.js';

test('defaults apply when FARM_FUZZ_RUNS is unset, empty or invalid', () => {
  assert.equal(fuzzRuns(3000, {}), 3000);
  assert.equal(fuzzRuns(3000, { FARM_FUZZ_RUNS: '' }), 3000);
  assert.equal(fuzzRuns(3000, { FARM_FUZZ_RUNS: 'lots' }), 3000);
  assert.equal(fuzzRuns(3000, { FARM_FUZZ_RUNS: '-5' }), 3000);
});

test('FARM_FUZZ_RUNS scales every default relative to the 10,000-run reference', () => {
  assert.equal(fuzzRuns(3000, { FARM_FUZZ_RUNS: '200000' }), 60000);
  assert.equal(fuzzRuns(3000, { FARM_FUZZ_RUNS: '1000' }), 300);
  assert.equal(fuzzRuns(10, { FARM_FUZZ_RUNS: '1' }), 1, 'never below one run');
});

test('propertyRuns scales the named budget like fuzzRuns', () => {
  assert.equal(propertyRuns('elf: garbage input', {}), PROPERTY_BUDGETS['elf: garbage input']);
  assert.equal(propertyRuns('elf: garbage input', { FARM_FUZZ_RUNS: '200000' }), 20 * PROPERTY_BUDGETS['elf: garbage input']);
});

test(`the default test run generates at least ${DEFAULT_RUN_CASES_FLOOR.toLocaleString('en-US')} property cases`, () => {
  const total = Object.values(PROPERTY_BUDGETS).reduce((sum: number, runs: number) => sum + runs, 0);
  assert.ok(total >= DEFAULT_RUN_CASES_FLOOR, `budgets add up to ${total}`);
});

/** Compiled test files (and test helpers) under the build's root, two levels above this file. */
function compiledTestFiles(): string[] {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 8) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name !== 'node_modules' && !entry.name.startsWith('.')) walk(join(dir, entry.name), depth + 1);
      else if (entry.isFile() && /\.test(-helper)?\.js$/.test(entry.name)) found.push(join(dir, entry.name));
    }
  };
  walk(root, 0);
  return found.map((file) => relative(root, file));
}

test('every property test takes its budget from the table, and every budget in the table is used once', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const uses = new Map<string, string[]>();
  const unbudgeted: string[] = [];
  for (const file of compiledTestFiles()) {
    if (file === join('openamp', 'testing', 'fuzz-runs.test.js')) continue;
    const source = readFileSync(join(root, file), 'utf8');
    const asserts = source.match(/\bfc\.(assert|check)\(/g)?.length ?? 0;
    const budgeted = [...source.matchAll(/numRuns:\s*propertyRuns\((['"])(.+?)\1\)/g)].map((match) => match[2]!);
    if (budgeted.length !== asserts) unbudgeted.push(`${file}: ${asserts} fast-check run(s), ${budgeted.length} with numRuns: propertyRuns(...)`);
    for (const name of budgeted) uses.set(name, [...(uses.get(name) ?? []), file]);
  }
  assert.deepEqual(unbudgeted, [], 'properties without a budget from PROPERTY_BUDGETS');
  assert.ok(uses.size > 0, 'found no property test at all: wrong build root?');
  for (const name of Object.keys(PROPERTY_BUDGETS) as PropertyName[]) {
    assert.equal(uses.get(name)?.length, 1, `budget "${name}" is used by ${uses.get(name)?.join(', ') ?? 'no property'}`);
  }
  for (const name of uses.keys()) assert.ok(name in PROPERTY_BUDGETS, `"${name}" is not in PROPERTY_BUDGETS`);
});

test('a failing property says which check failed, not only its seed and path', () => {
  // This file imports fuzz-runs.js, as every property test does.
  assert.throws(
    () => fc.assert(fc.property(fc.integer({ min: 0, max: 1000 }), (n) => assert.ok(n < 500, `poll made ${n} accesses`)), { numRuns: 1000, seed: 42 }),
    (error: unknown) => error instanceof Error && /seed: 42/.test(error.message) && /poll made 500 accesses/.test(error.message),
  );
});
