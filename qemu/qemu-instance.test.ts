/** QemuInstance.launch when QEMU dies while starting. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { InfrastructureError } from '../base/errors.js';
import { QEMU_MACHINES } from './machines.js';
import { QemuInstance } from './qemu-instance.js';

/** Timers and pending connects of this process (what would keep the event loop busy). */
function pendingWork(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout' || kind === 'PipeConnectWrap').length;
}

test('QEMU exiting while starting: launch fails at once and stops retrying the QMP connect; no file is left', { timeout: 30_000 }, async () => {
  const profile = { ...QEMU_MACHINES['riscv64-virt'], machineArgs: ['-M', 'no-such-machine'] };
  const before = new Set([...fs.readdirSync('/dev/shm'), ...fs.readdirSync('/tmp')]);
  const baseline = pendingWork();
  const started = Date.now();
  await assert.rejects(QemuInstance.launch({ profile, stubDir: '/nonexistent', name: 'bad-machine', startTimeoutMs: 10_000 }), (error: unknown) => {
    assert.ok(error instanceof InfrastructureError, String(error));
    assert.match((error as Error).message, /bad-machine: QEMU exited while starting \(exit code 1\): .*unsupported machine type/);
    return true;
  });
  assert.ok(Date.now() - started < 5000, `failed after ${Date.now() - started} ms`);
  // Before the abort, the connect went on retrying every 10 ms until its 10 s deadline.
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(pendingWork(), baseline, `timers / connects left: ${process.getActiveResourcesInfo().join(', ')}`);
  const left = [...fs.readdirSync('/dev/shm'), ...fs.readdirSync('/tmp')].filter((name) => !before.has(name) && name.startsWith(`farm-qemu-${process.pid}-`));
  assert.deepEqual(left, []);
});
