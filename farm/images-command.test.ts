import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine } from './cli-args.js';
import { imagesCommand } from './images-command.js';
import { UsageError } from './selection.js';

test('farm images: an action is required and checked; only build takes recipe names', () => {
  assert.deepEqual(parseCommandLine(['images', 'build', 'base', 'qemu']).positionals, ['build', 'base', 'qemu']);
  assert.deepEqual(parseCommandLine(['images', 'list']).positionals, ['list']);
  assert.throws(() => parseCommandLine(['images']), (error: unknown) => error instanceof UsageError && /farm images: missing action \(usage: farm images build \[RECIPE\.\.\.\] \| farm images list \| farm images prune\)/.test(error.message));
  assert.throws(() => parseCommandLine(['images', 'push']), /farm images: unknown action "push" \(actions: build, list, prune\)/);
  assert.throws(() => parseCommandLine(['images', 'list', 'qemu']), /farm images list: unexpected argument "qemu"/);
  assert.throws(() => parseCommandLine(['images', 'list', '--fix']), /--fix: not an option of farm images/);
});

test('farm images build: an unknown recipe is a usage error before the engine is asked', async () => {
  await assert.rejects(imagesCommand('build', ['qemu', 'nope']), (error: unknown) => error instanceof UsageError && /unknown recipe "nope" \(recipes: base, qemu, board-double\)/.test(error.message));
});
