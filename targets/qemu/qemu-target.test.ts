/** QemuTarget lifecycle edges against a real QEMU (riscv64 virt). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { descendants, isAlive } from '../../farm/testing/cli-harness.js';
import { ensureFirmwareBuilt, firmwarePath } from '../../firmware/build.js';
import { TimeoutError } from '../../base/errors.js';
import { QEMU_MACHINES } from '../../qemu/machines.js';
import type { OpenAmpHost } from '../openamp-host/openamp-host.js';
import { MissingToolError } from '../../base/process/managed-process.js';
import { SUITE_NAMES } from '../target.js';
import { QEMU_PARAM_DEFAULTS } from './qemu-params.js';
import { QemuTarget } from './qemu-target.js';
import { PROGRAM_FOR_SUITE } from '../reference-firmware.js';
import { withRestrictedPath } from '../../base/process/restricted-path.test-helper.js';

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
    await assert.rejects(stopping, /race: the machine was powered off while QEMU was starting/);
    assert.deepEqual(qemuChildren().filter(isAlive), [], 'no QEMU process left');
    assert.deepEqual(ownRunFiles(), [], 'no RAM or QMP file left');
  } finally {
    await target.instance?.close();
    await target.teardown();
  }
});

test('prebuilt images from farm.yaml need no compiler: with every image given the target sets up and runs without make or a cross compiler; a suite left to the reference firmware still needs them', { timeout: 60_000 }, async () => {
  await ensureFirmwareBuilt('riscv64-virt');
  const given = Object.fromEntries(SUITE_NAMES.map((suite) => [suite, firmwarePath('riscv64-virt', PROGRAM_FOR_SUITE[suite])]));
  const target = new QemuTarget('prebuilt', 'qemu-riscv64-virt', QEMU_MACHINES['riscv64-virt'], QEMU_PARAM_DEFAULTS, { configDir: process.cwd(), firmware: given, workDir: tmpdir() });
  try {
    await withRestrictedPath(['qemu-system-riscv64', 'setpriv'], async () => {
      await target.setup({ info: () => {}, console: () => {} });
      const image = await target.firmwareFor('echo');
      assert.equal(image.label.endsWith('echo.elf'), true, image.label);
      await target.host.start(image);
      await target.host.stop();
    });
  } finally {
    await target.teardown();
  }

  const partial = new QemuTarget('partial', 'qemu-riscv64-virt', QEMU_MACHINES['riscv64-virt'], QEMU_PARAM_DEFAULTS, { configDir: process.cwd(), firmware: { echo: given.echo! }, workDir: tmpdir() });
  try {
    await withRestrictedPath(['qemu-system-riscv64', 'setpriv'], async () => {
      await assert.rejects(partial.setup({ info: () => {}, console: () => {} }), (error: unknown) => error instanceof MissingToolError && error.tool === 'riscv64-unknown-elf-gcc');
    });
  } finally {
    await partial.teardown();
  }
  assert.deepEqual(qemuChildren().filter(isAlive), [], 'no QEMU process left');
});

test('the wrong image for a suite: the receive timeout names the firmware and quotes the end of its trace; its stop is no crash; a real crash is logged with its reason', { timeout: 60_000 }, async () => {
  await ensureFirmwareBuilt('riscv64-virt');
  const wrong = firmwarePath('riscv64-virt', 'matrix-multiply');
  const target = new QemuTarget('wrong', 'qemu-riscv64-virt', QEMU_MACHINES['riscv64-virt'], QEMU_PARAM_DEFAULTS, { configDir: process.cwd(), firmware: { echo: wrong }, workDir: tmpdir() });
  const log: string[] = [];
  await target.setup({ info: (line) => log.push(line), console: () => {} });
  try {
    await target.host.start(await target.firmwareFor('echo'));
    const channel = await target.host.waitForChannel('rpmsg-openamp-demo-channel');
    const endpoint = await target.host.openEndpoint({ name: channel.name });
    await endpoint.send(new Uint8Array(17));
    await assert.rejects(endpoint.receive({ timeoutMs: 1000 }), (error: unknown) => {
      assert.ok(error instanceof TimeoutError, String(error));
      assert.match(error.message, /no message for endpoint "rpmsg-openamp-demo-channel" @1024 within 1000 ms/);
      assert.ok(error.message.includes(`(firmware ${wrong})`), error.message);
      assert.match(error.message, /the remote's trace ends: .*"matrix: ignoring a 17-byte message \(want 296\)"/);
      assert.equal(error.message.includes('\n'), false, 'one line: reporters show the first');
      return true;
    });
    await target.host.stop();
    assert.deepEqual(log.filter((line) => /-> crashed/.test(line)), [], `no crash in an orderly stop: ${log.join('\n')}`);
    assert.ok(log.some((line) => line.endsWith('state running -> offline')), log.join('\n'));

    await target.host.start(await target.firmwareFor('echo'));
    (target.host as OpenAmpHost).remoteproc.reportCrash('test: a crash with a reason');
    assert.ok(log.some((line) => line.endsWith('state running -> crashed: test: a crash with a reason')), log.join('\n'));
  } finally {
    await target.teardown();
  }
});

test('doorbell uart over both UART transports (pty through serialport, the default, and the socket chardev): the firmware kicks on the console UART, kicks answer the echoes (not the 1 s safety poll), and neither the tests\' console nor the log gets a kick byte; doorbell poll echoes as well', { timeout: 120_000 }, async () => {
  await ensureFirmwareBuilt('riscv64-virt');
  assert.equal(QEMU_PARAM_DEFAULTS.uart, 'pty', 'the default transport is the serialport path boards use');
  for (const [uart, doorbell] of [['pty', 'uart'], ['socket', 'uart'], ['pty', 'poll']] as const) {
    const params = { ...QEMU_PARAM_DEFAULTS, uart, doorbell, uartSafetyPollMs: 1000 };
    const target = new QemuTarget(`kick-${uart}-${doorbell}`, 'qemu-riscv64-virt', QEMU_MACHINES['riscv64-virt'], params, { configDir: process.cwd(), firmware: {}, workDir: tmpdir() });
    const logged: string[] = [];
    await target.setup({ info: () => {}, console: (_stream, text) => logged.push(text) });
    try {
      assert.match(target.instance!.console.path, uart === 'pty' ? /^\/dev\/pts\/\d+$/ : /\.uart$/, `the UART is a ${uart}`);
      await target.host.start(await target.firmwareFor('echo'));
      const channel = await target.host.waitForChannel('rpmsg-openamp-demo-channel');
      const endpoint = await target.host.openEndpoint({ name: channel.name });
      const rounds = 50;
      for (let i = 0; i < rounds; i++) {
        const message = new Uint8Array([i, 1, 2, 3]);
        await endpoint.send(message);
        assert.deepEqual((await endpoint.receive({ timeoutMs: 5000 })).data, message);
      }
      if (doorbell === 'uart') {
        const kicks = target.kickDoorbell!;
        // One kick per reply; a few may share a chunk with the next one (one doorbell event).
        assert.ok(kicks.stats.delivered >= rounds * 0.8, `${uart}: kicks delivered: ${JSON.stringify(kicks.stats)}`);
        assert.ok(kicks.pollStats.timerPolls < 10, `${uart}: the safety poll did not carry the echoes: ${JSON.stringify(kicks.pollStats)}`);
      } else {
        assert.equal(target.kickDoorbell, undefined);
      }
      await target.host.stop();
      const console = target.takeConsole();
      assert.match(console, /DRIVER_OK/, 'the firmware log reached the console');
      assert.equal(console.includes('\x05'), false, 'no kick byte in the console attached to tests');
      assert.equal(logged.join('').includes('\x05'), false, 'no kick byte in the console log');
    } finally {
      await target.teardown();
    }
  }
  assert.deepEqual(qemuChildren().filter(isAlive), [], 'no QEMU process left');
  assert.deepEqual(ownRunFiles(), [], 'no RAM, QMP or UART socket file left');
});
