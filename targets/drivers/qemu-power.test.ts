/** QemuPowerDriver on a real riscv64 QEMU: the one owner of the process across on / cycle / off. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { InfrastructureError } from '../../base/errors.js';
import { ensureFirmwareBuilt, firmwareBuildDir } from '../../firmware/build.js';
import { FIRMWARE_KICK_BYTE } from '../../firmware/uart-kick.js';
import { QEMU_MACHINES } from '../../qemu/machines.js';
import { QemuPowerDriver } from './qemu-power.js';
import { processExists } from '../../base/process/process-alive.js';


test('QemuPowerDriver: on launches one paused QEMU (again: the same one), cycle replaces it and removes the old one and its files, off leaves nothing and current() then fails; failures of a QEMU it replaced are not reported', { timeout: 60_000 }, async () => {
  await ensureFirmwareBuilt('riscv64-virt', { programs: [], bootStub: true });
  const power = new QemuPowerDriver({
    machine: { name: 'power-test', profile: QEMU_MACHINES['riscv64-virt'], stubDir: firmwareBuildDir('riscv64-virt'), uart: 'socket', kickByte: FIRMWARE_KICK_BYTE },
  });
  const failures: string[] = [];
  power.onFailure((reason) => failures.push(reason));
  try {
    assert.equal(await power.state(), 'off');
    assert.throws(() => power.current(), (error: unknown) => error instanceof InfrastructureError && /power-test: QEMU is not running/.test((error as Error).message));
    await power.on();
    const first = power.current();
    await power.on();
    assert.equal(power.current(), first, 'on when on keeps the running QEMU');
    assert.equal(await power.state(), 'on');
    assert.equal(await first.status(), 'prelaunch', 'launched paused');
    const firstPid = first.process.pid;
    const firstFiles = [...first.files];

    await power.cycle();
    const second = power.current();
    assert.notEqual(second, first);
    assert.equal(processExists(firstPid), false, 'the old QEMU is gone');
    for (const file of firstFiles) assert.equal(existsSync(file), false, `${file} removed`);
    assert.deepEqual(failures, [], 'quitting the old QEMU is no failure');

    const secondPid = second.process.pid;
    const secondFiles = [...second.files];
    await power.off();
    assert.equal(await power.state(), 'off');
    assert.equal(power.instance, undefined);
    assert.equal(processExists(secondPid), false);
    for (const file of secondFiles) assert.equal(existsSync(file), false, `${file} removed`);
    assert.deepEqual(failures, []);
  } finally {
    await power.off();
  }
});
