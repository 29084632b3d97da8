/**
 * firmware/tools/ping-host.c --demo: the board's own demo host of the riscv64 Linux test image
 * (there built for riscv64), here on this machine against the reference linux-process remote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { execa } from 'execa';
import { runFileStem } from '../base/process/run-files.js';
import { ensureFirmwareBuilt, firmwarePath } from './build.js';
import { ensureHostTool } from './tools.js';

async function demo(remoteProgram: 'echo' | 'matrix-multiply', mode: 'echo' | 'matrix', rounds: number) {
  await ensureFirmwareBuilt('linux-process', { programs: [remoteProgram] });
  const pingHost = await ensureHostTool('ping-host');
  const stem = runFileStem('ping-demo');
  const shm = `${stem}.shm`;
  const socket = `/tmp/${stem}.sock`;
  // Every process bounded: a hung demo fails the test instead of holding it.
  const remote = execa(firmwarePath('linux-process', remoteProgram), ['--shm', shm, '--socket', socket], { reject: false, timeout: 60_000, forceKillAfterDelay: 1000, all: true });
  try {
    const host = await execa(pingHost, ['--demo', mode, '--shm', shm, '--socket', socket, '--rounds', String(rounds), '--timeout-ms', '20000'], { reject: false, timeout: 60_000, forceKillAfterDelay: 1000, all: true });
    const ended = await Promise.race([remote, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10_000).unref())]);
    return { host, remote: ended };
  } finally {
    remote.kill('SIGKILL');
    await remote;
    rmSync(`/dev/shm/${shm}`, { force: true });
    rmSync(socket, { force: true });
  }
}

test('ping-host --demo echo: open-amp rpmsg-ping lines, "Test Results: Error count = 0", exit 0, and the remote ends on the channel\'s destroy', { timeout: 180_000 }, async () => {
  const { host, remote } = await demo('echo', 'echo', 300);
  assert.equal(host.exitCode, 0, String(host.all));
  assert.match(String(host.stdout), /^received payload number 299 of size 316$/m);
  assert.match(String(host.stdout), /^Test Results: Error count = 0$/m);
  assert.equal(remote?.exitCode, 0, 'the remote exited on NS DESTROY');
  assert.match(String(remote?.all), /host destroyed rpmsg-openamp-demo-channel after 300 message/);
});

test('ping-host --demo matrix: products checked, "CLIENT> Test Results: Error count = 0"', { timeout: 180_000 }, async () => {
  const { host, remote } = await demo('matrix-multiply', 'matrix', 50);
  assert.equal(host.exitCode, 0, String(host.all));
  assert.match(String(host.stdout), /^CLIENT> Test Results: Error count = 0$/m);
  assert.equal(remote?.exitCode, 0);
});

test('ping-host --demo counts wrong replies: matrices sent to an echo remote come back unmultiplied, every round an error, exit 1', { timeout: 180_000 }, async () => {
  const { host } = await demo('echo', 'matrix', 5);
  assert.equal(host.exitCode, 1, String(host.all));
  assert.match(String(host.stdout), /^CLIENT> Test Results: Error count = 5$/m);
  assert.match(String(host.stdout), /the product differs \(296 bytes back, want 148\)/);
});
