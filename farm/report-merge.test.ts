/**
 * `farm report merge`: the out dirs of the shards of a run become one report, the same a
 * single unsharded run writes (real CLI, runner and reporters, test-only fake kind).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { junitAllCases, runCli, workspace } from './testing/cli-harness.js';
import { readJunit } from '../reports/junit-reader.js';
import { readHtmlReport } from '../reports/testing/html-report.js';
import { parseCommandLine } from './cli-args.js';
import { UsageError } from './selection.js';

const space = workspace();
after(() => space.remove());

const CONFIG = space.write(
  'farm.yaml',
  `targets:
  - name: a
    kind: fake
    suites: [echo, matrix-multiply, multi-endpoint]
  - name: b
    kind: fake
    suites: [echo, matrix-multiply]
    params: { corrupt: [matrix-multiply] }
`,
);

const read = (out: string) => readFileSync(join(space.dir, out, 'junit.xml'), 'utf8');

test('two shards merged are one report: the JUnit cases, metrics and HTML tests of the unsharded run', async () => {
  const full = await runCli(['run', '--config', CONFIG, '--out', 'full'], space.dir);
  assert.equal(full.code, 1, full.stdout + full.stderr);
  for (const shard of ['1/2', '2/2']) {
    const result = await runCli(['run', '--config', CONFIG, '--shard', shard, '--out', `shard-${shard[0]}`], space.dir);
    assert.ok(result.code === 0 || result.code === 1, result.stdout + result.stderr);
    assert.ok(existsSync(join(space.dir, `shard-${shard[0]}`, 'blob')), 'a shard keeps its blob report');
  }
  const merged = await runCli(['report', 'merge', 'shard-1', 'shard-2', '--out', 'merged'], space.dir);
  assert.equal(merged.code, 1, `a failed test in a shard fails the merge too\n${merged.stdout}${merged.stderr}`);
  const expected = junitAllCases(read('full')).sort();
  assert.ok(expected.length >= 5);
  // The unsharded run's output too: when the two differ, which of them went wrong and why.
  assert.deepEqual(junitAllCases(read('merged')).sort(), expected, `unsharded run:\n${full.stdout}${full.stderr}`);
  assert.ok(junitAllCases(read('shard-1')).length < expected.length, 'each shard alone has only part of it');
  const file = readJunit(read('merged'));
  assert.deepEqual(file.suites.map((suite) => suite.attributes.name).sort(), ['a', 'b']);
  for (const suite of file.suites) {
    assert.equal(suite.properties.get('run.status'), 'failed');
    assert.equal(suite.properties.get('target.kind'), 'fake');
    assert.ok(suite.attributes.timestamp && suite.attributes.hostname);
  }
  assert.equal(file.suites.flatMap((suite) => suite.cases).filter((testCase) => testCase.failure?.attributes.type === 'assertion').length, 1);
  const metrics = JSON.parse(readFileSync(join(space.dir, 'merged', 'metrics.json'), 'utf8')) as { status: string; tests: unknown[] };
  assert.equal(metrics.status, 'failed');
  assert.equal(metrics.tests.length, expected.length);
  assert.equal(readHtmlReport(join(space.dir, 'merged', 'html', 'index.html')).flatMap((entry) => entry.tests).length, expected.length);
  assert.match(merged.stdout, /^b\s+matrix-multiply\s+0\s+1\s+0\s+0/m);
  assert.ok(!existsSync(join(space.dir, 'merged', 'merge-blobs')), 'the copied blobs are cleaned up');

  const one = await runCli(['report', 'merge', 'shard-1', '--out', 'merged-one'], space.dir);
  assert.match(one.stdout, /note: shard\(s\) 2\/2 not given/);
  assert.deepEqual(junitAllCases(read('merged-one')).sort(), junitAllCases(read('shard-1')).sort());
});

test('farm report merge refuses what it cannot merge, in one line', async () => {
  const unsharded = await runCli(['run', '--config', CONFIG, '--target', 'a', '--suite', 'echo', '--out', 'plain'], space.dir);
  assert.equal(unsharded.code, 0, unsharded.stdout + unsharded.stderr);
  const noBlob = await runCli(['report', 'merge', 'plain', '--out', 'm'], space.dir);
  assert.equal(noBlob.code, 2);
  assert.match(noBlob.stderr, /^farm report: \S*plain: no blob report .*a shard that was stopped cannot be merged/);
  assert.throws(() => parseCommandLine(['report', 'merge', 'x']), (error: unknown) => error instanceof UsageError && /missing --out DIR/.test(error.message));
  assert.throws(() => parseCommandLine(['report', 'join', 'x', '--out', 'y']), (error: unknown) => error instanceof UsageError && /unknown subcommand "join"/.test(error.message));
  assert.throws(() => parseCommandLine(['report', 'merge', '--out', 'y']), (error: unknown) => error instanceof UsageError && /missing DIR/.test(error.message));
});
