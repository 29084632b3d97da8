import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { aptGetInstall } from './apt-get.js';
import { recordingTool } from './recording-tool.test-helper.js';

/** Runs `body` with the recording apt-get first on PATH. */
function withAptGet<T>(body: (tool: ReturnType<typeof recordingTool>) => T): T {
  const tool = recordingTool('apt-get');
  const saved = process.env.PATH;
  process.env.PATH = `${dirname(tool.path)}:${saved ?? ''}`;
  try {
    return body(tool);
  } finally {
    process.env.PATH = saved;
    tool.remove();
  }
}

test('aptGetInstall runs apt-get update, then install -y --no-install-recommends of the packages', () => {
  withAptGet((tool) => {
    assert.equal(aptGetInstall(['qemu-system-misc', 'docker.io']), true);
    assert.deepEqual(tool.calls(), [['update'], ['install', '-y', '--no-install-recommends', 'qemu-system-misc', 'docker.io']]);
  });
});

test('aptGetInstall: a failing apt-get is false, and nothing is installed after a failed update', () => {
  withAptGet((tool) => {
    tool.respond('', 100);
    assert.equal(aptGetInstall(['debootstrap']), false);
    assert.deepEqual(tool.calls(), [['update']]);
  });
});
