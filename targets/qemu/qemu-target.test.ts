/** QemuTarget lifecycle edges against a real QEMU (riscv64 virt). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { descendants, isAlive } from '../../farm/testing/cli-harness.js';
import { ensureFirmwareBuilt } from '../../firmware/build.js';
import { QEMU_MACHINES } from '../../qemu/machines.js';
import type { OpenAmpHost } from '../openamp-host.js';
import { QEMU_PARAM_DEFAULTS } from './qemu-params.js';
import { QemuTarget } from './qemu-target.js';

function qemuChildren(): number[] {
  return descendants(process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('qemu-system');
    } catch {
      return false;
    }
  });
}

function ownRunFiles(): string[] {
  const ours = `farm-qemu-${process.pid}-`;
  return ['/dev/shm', '/tmp'].flatMap((dir) => readdirSync(dir).filter((name) => name.startsWith(ours)).map((name) => `${dir}/${name}`));
}

test('teardown while a stop relaunches QEMU: the QEMU started meanwhile is closed by the relaunch, nothing is left', { timeout: 60_000 }, async () => {
  await ensureFirmwareBuilt('riscv64-virt');
  const target = new QemuTarget('race', 'qemu-riscv64-virt', QEMU_MACHINES['riscv64-virt'], QEMU_PARAM_DEFAULTS, { configDir: process.cwd(), firmware: {}, workDir: tmpdir() });
  await target.setup({ info: () => {}, console: () => {} });
  try {
    const first = target.instance;
    assert.ok(first, 'QEMU is up after setup');
    // The remoteproc stop relaunches QEMU; teardown (Ctrl-C) comes while the new one starts.
    const stopping = (target.host as OpenAmpHost).remoteproc.ops.stop();
    await target.teardown();
    await assert.rejects(stopping, /race: the target was torn down while QEMU was starting/);
    assert.deepEqual(qemuChildren().filter(isAlive), [], 'no QEMU process left');
    assert.deepEqual(ownRunFiles(), [], 'no RAM or QMP file left');
  } finally {
    await target.instance?.close();
    await target.teardown();
  }
});
