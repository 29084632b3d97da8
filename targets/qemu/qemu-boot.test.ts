import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { PollingDoorbell } from '../../openamp/doorbell/polling-doorbell.js';
import { FirmwareError } from '../../base/errors.js';
import { Remoteproc } from '../../openamp/remoteproc/remoteproc.js';
import { createRpmsgHost } from '../../openamp/rpmsg/host.js';
import type { RpmsgMessage } from '../../openamp/rpmsg/api.js';
import { ensureFirmwareBuilt, firmwarePath, firmwareBuildDir, type FirmwareMachine } from '../../firmware/build.js';
import { FIRMWARE_KICK_BYTE } from '../../firmware/uart-kick.js';
import { CrashRecordReader, RemoteWatch } from '../openamp-host/crash-record.js';
import { QEMU_MACHINES, type QemuMachineName } from '../../qemu/machines.js';
import { QemuInstance } from '../../qemu/qemu-instance.js';
import { QemuRemoteprocOps, SegmentOutsideRamError } from './qemu-remoteproc-ops.js';

const CHANNEL = 'rpmsg-openamp-demo-channel';

async function bootEcho(machine: QemuMachineName) {
  await ensureFirmwareBuilt(machine as FirmwareMachine);
  const profile = QEMU_MACHINES[machine];
  let console = '';
  let stderr = '';
  const qemu = await QemuInstance.launch({ profile, stubDir: firmwareBuildDir(machine as FirmwareMachine), onConsole: (t) => (console += t), kick: { byte: FIRMWARE_KICK_BYTE }, onStderr: (t) => (stderr += t) });
  const rp = new Remoteproc(new QemuRemoteprocOps({ current: () => qemu }), { name: machine });
  return { qemu, rp, console: () => console, stderr: () => stderr };
}

for (const machine of ['riscv64-virt', 'cortex-m4', 'versal-r5', 'zynqmp-r5'] as const) {
  test(`${machine}: the echo firmware announces, echoes, restarts and its crash is seen; nothing is left behind`, { timeout: 60_000 }, async () => {
    const { qemu, rp, console, stderr } = await bootEcho(machine);
    const files = [...qemu.files];
    const pid = qemu.process.pid;
    try {
      const elf = fs.readFileSync(firmwarePath(machine as FirmwareMachine, 'echo'));
      for (let round = 0; round < 2; round++) {
        const [vdev] = await rp.boot(elf, `${machine}/echo.elf`);
        assert.ok(vdev?.bufferCarveout, 'the firmware has a vdev0buffer carveout');
        const host = createRpmsgHost({
          transport: vdev.transport,
          doorbell: new PollingDoorbell({ intervalMs: 1 }),
          bufferPool: { da: vdev.bufferCarveout.da, size: vdev.bufferCarveout.len },
        });
        const announced = new Promise<number>((resolve) => host.onNameService((ns) => ns.name === CHANNEL && resolve(performance.now())));
        const ept = host.createEndpoint({ name: CHANNEL });
        const at = await Promise.race([announced, new Promise<never>((_, r) => setTimeout(() => r(new Error(`no announcement; console: ${console()}`)), 5000))]);
        if (round === 0) process.stdout.write(`# ${machine}: first announcement ${(at - qemu.spawnedAt).toFixed(0)} ms after spawn\n`);
        for (let n = 17; n <= 496; n += 53) {
          const payload = new Uint8Array(n).map((_, i) => (i * 7 + n + round) & 0xff);
          await ept.send(payload);
          const reply: RpmsgMessage = await ept.receive(2000);
          assert.deepEqual(reply.data, payload);
        }
        if (round === 1) {
          const trace = rp.resourceTable!.table.traces[0]!;
          const crashed = new Promise<string>((resolve) => {
            const watch = new RemoteWatch({ reader: new CrashRecordReader(qemu.memory, trace), onCrash: resolve });
            setTimeout(() => watch.stop(), 5000).unref();
          });
          await ept.send(new Uint8Array([0xde, 0xc0, 0x11, 0xfa]));
          assert.match(await crashed, /faulted/);
          assert.match(rp.readTrace(), /CRASH/);
        }
        host.close();
        await rp.stop();
      }
      assert.match(console(), /waiting for DRIVER_OK/);
      // Board devices without a backend (the Versal GEMs) make QEMU warn on every start.
      assert.doesNotMatch(stderr(), /warning/, 'QEMU printed no warning');
    } finally {
      await qemu.close();
    }
    for (const file of files) assert.equal(fs.existsSync(file), false, `${file} removed`);
    assert.throws(() => process.kill(pid, 0), 'QEMU process gone');
  });
}

test('riscv64-virt: wrong-machine images and segments outside RAM are firmware errors before the core starts', { timeout: 30_000 }, async () => {
  const { qemu, rp } = await bootEcho('riscv64-virt');
  try {
    await ensureFirmwareBuilt('cortex-m4');
    const armElf = fs.readFileSync(firmwarePath('cortex-m4', 'echo'));
    await assert.rejects(rp.load(armElf, 'cortex-m4/echo.elf'), (e: unknown) => e instanceof FirmwareError);
    // The riscv image relinked 2 MiB higher: inside RAM but outside the firmware window.
    const elf = Buffer.from(fs.readFileSync(firmwarePath('riscv64-virt', 'echo')));
    const phoff = Number(elf.readBigUInt64LE(0x20));
    const moved = elf.readBigUInt64LE(phoff + 24) + 0x0400_0000n;
    elf.writeBigUInt64LE(moved, phoff + 24);
    await assert.rejects(rp.load(elf, 'moved.elf'), (e: unknown) => e instanceof FirmwareError && /outside|not inside/.test((e as Error).message));
    assert.equal(await qemu.status(), 'prelaunch', 'the core never ran');
  } finally {
    await qemu.close();
  }
  void SegmentOutsideRamError;
});

for (const machine of ['riscv64-virt', 'cortex-m4', 'versal-r5', 'zynqmp-r5'] as const) {
  test(`${machine}: a host buffer over the firmware image is a logged protocol error; the image is not overwritten and echo goes on`, { timeout: 60_000 }, async () => {
    const { qemu, rp, console } = await bootEcho(machine);
    try {
      const [vdev] = await rp.boot(fs.readFileSync(firmwarePath(machine as FirmwareMachine, 'echo')), `${machine}/echo.elf`);
      assert.ok(vdev?.bufferCarveout);
      const host = createRpmsgHost({
        transport: vdev.transport,
        doorbell: new PollingDoorbell({ intervalMs: 1 }),
        bufferPool: { da: vdev.bufferCarveout.da, size: vdev.bufferCarveout.len },
      });
      const announced = new Promise<void>((resolve) => host.onNameService((ns) => ns.name === CHANNEL && resolve()));
      const ept = host.createEndpoint({ name: CHANNEL });
      await Promise.race([announced, new Promise<never>((_, r) => setTimeout(() => r(new Error(`no announcement; console: ${console()}`)), 5000))]);
      const echo = async (n: number): Promise<void> => {
        const payload = new Uint8Array(n).map((_, i) => (i * 3 + n) & 0xff);
        await ept.send(payload);
        assert.deepEqual((await ept.receive(2000)).data, payload);
      };
      await echo(32);

      // vring 0 carries the remote's sends in buffers the host posted. The next one the firmware
      // takes (avail.ring[used.idx]) is made to point into the firmware's code (the host keeps
      // its own copy of what it posted, so only the firmware sees the change).
      const vring = vdev.transport.vrings[0]!;
      const ram = (address: number, length: number) => qemu.memory.resolvePa(address, length);
      const availAt = vring.da + 16 * vring.num;
      const usedAt = vring.da + ((16 * vring.num + 2 * (3 + vring.num) + vring.align - 1) & ~(vring.align - 1));
      const u16 = (address: number): number => {
        const { memory, offset } = ram(address, 2);
        return memory.loadU16(offset);
      };
      const next = u16(usedAt + 2);
      assert.notEqual(u16(availAt + 2), next, 'the host has a buffer posted for the next send');
      const head = u16(availAt + 4 + 2 * (next % vring.num));
      const target = qemu.profile.imageWindow.base + 0x200; // inside .text on every machine
      const before = Uint8Array.from(ram(target, 512).memory.read(ram(target, 512).offset, 512));
      const desc = ram(vring.da + 16 * head, 8);
      desc.memory.storeU32(desc.offset, target);
      desc.memory.storeU32(desc.offset + 4, 0);

      await echo(480); // the reply goes to the next good buffer
      const after = ram(target, 512).memory.read(ram(target, 512).offset, 512);
      assert.deepEqual(Uint8Array.from(after), before, 'the firmware image is unchanged');
      assert.match(rp.readTrace(), new RegExp(`rpmsg: protocol error: descriptor buffer outside shared RAM, over the firmware image or too short \\(0x${target.toString(16)}\\)`));
      await echo(17);
      host.close();
      await rp.stop();
    } finally {
      await qemu.close();
    }
  });
}
