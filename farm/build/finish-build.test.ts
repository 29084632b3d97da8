import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeExecutable, pruneStaleOutputs, sourceOf } from './finish-build.js';

test('sourceOf maps every tsc output to its .ts source and leaves other files alone', () => {
  assert.equal(sourceOf('farm/cli.js'), 'farm/cli.ts');
  assert.equal(sourceOf('farm/cli.js.map'), 'farm/cli.ts');
  assert.equal(sourceOf('farm/index.d.ts'), 'farm/index.ts');
  assert.equal(sourceOf('farm/index.d.ts.map'), 'farm/index.ts');
  assert.equal(sourceOf('.tsbuildinfo'), undefined);
});

test('outputs of a deleted source are removed (a deleted test does not run on), the rest stays', () => {
  const root = mkdtempSync(join(tmpdir(), 'farm-finish-build-'));
  try {
    const dist = join(root, 'dist');
    mkdirSync(join(root, 'a'), { recursive: true });
    mkdirSync(join(dist, 'a'), { recursive: true });
    mkdirSync(join(dist, 'gone'), { recursive: true });
    writeFileSync(join(root, 'a', 'kept.test.ts'), '');
    for (const file of ['a/kept.test.js', 'a/kept.test.js.map', 'a/deleted.test.js', 'a/deleted.test.js.map', 'a/deleted.d.ts', 'gone/x.js', '.tsbuildinfo']) {
      writeFileSync(join(dist, file), '');
    }
    const removed = pruneStaleOutputs(root, dist).sort();
    assert.deepEqual(removed, ['a/deleted.d.ts', 'a/deleted.test.js', 'a/deleted.test.js.map', 'gone/x.js']);
    assert.ok(existsSync(join(dist, 'a', 'kept.test.js')));
    assert.ok(existsSync(join(dist, '.tsbuildinfo')));
    assert.ok(!existsSync(join(dist, 'gone')), 'a folder left empty goes too');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('makeExecutable gives the CLI its execute bits (0644 -> 0755)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'farm-finish-build-'));
  try {
    const file = join(dir, 'cli.js');
    writeFileSync(file, '', { mode: 0o644 });
    makeExecutable(file);
    assert.equal(statSync(file).mode & 0o777, 0o755);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
