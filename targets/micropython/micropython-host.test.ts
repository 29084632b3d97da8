/**
 * The MicroPython Host driver end to end on the board double (real MicroPython on a pty, its
 * openamp module over our OpenAMP stack, the reference firmware on a QEMU Cortex-M4), and the
 * failures a MicroPython board brings: a script that raises, the board resetting mid-test, a
 * remote that never announces, an M4 that auto-boots from option bytes. Every failure must be a
 * classified error within its deadline, and nothing may be left running.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FirmwareError, InfrastructureError, ProtocolError } from '../../base/errors.js';
import { ensureFirmwareBuilt, firmwarePath } from '../../firmware/build.js';
import { firmwareImageFromFile } from '../firmware-image.js';
import type { FirmwareImage } from '../target.js';
import { BoardConnection } from './board-connection.js';
import { BoardDouble } from './testing/board-double.js';
import { AnnouncementTimeout, MicroPythonHost, RemoteAlreadyBootedError } from './micropython-host.js';
import { MicroPythonError } from './raw-repl.js';
import { recordingTool } from '../../base/process/recording-tool.test-helper.js';
import { micropythonOpenampKind } from './index.js';

const DEMO = 'rpmsg-openamp-demo-channel';
let dir: string;
let board: BoardDouble;
let connection: BoardConnection;
let host: MicroPythonHost;
let echo: FirmwareImage;
const log: string[] = [];

/** Processes whose parent is this test process (the double's pty-relay and QEMU). */
function children(): string[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !/\bps$/.test(line));
  } catch {
    return [];
  }
}

before(async () => {
  await ensureFirmwareBuilt('cortex-m4', { programs: ['echo'] });
  echo = await firmwareImageFromFile('h747', 'echo', firmwarePath('cortex-m4', 'echo'));
  dir = mkdtempSync(join(tmpdir(), 'farm-mpy-host-'));
  board = new BoardDouble({ dir, resetMs: 100, log: (line) => log.push(`double: ${line}`) });
  await board.start();
  connection = new BoardConnection({ port: board.serialPath, baudRate: 115200, name: 'h747', rawPaste: true, log: (line) => log.push(line) });
  await connection.open({ timeoutMs: 10_000 });
  host = new MicroPythonHost({ name: 'h747', connection, firmwareLoad: 'file', entry: 0x0810_0000, boardDir: '/flash', execTimeoutMs: 5000, resetTimeoutMs: 15_000, faults: ['crash', 'hang'], stallTimeoutMs: 1000, log: (line) => log.push(line) });
  await host.prepare();
});

after(async () => {
  host?.dispose();
  await connection?.close();
  await board?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('echo through the real openamp API: byte-identical replies; the image is copied once, then found by its hash', async () => {
  await host.start(echo);
  const channel = await host.waitForChannel(DEMO, { timeoutMs: 10_000 });
  const endpoint = await host.openEndpoint({ name: DEMO });
  for (const size of [1, 17, 255, 496]) {
    const payload = new Uint8Array(size).map((_, index) => (index * 7 + size) & 0xff);
    await endpoint.send(payload);
    const reply = await endpoint.receive({ timeoutMs: 5000 });
    assert.equal(reply.src, channel.remoteAddr);
    assert.deepEqual(reply.data, payload);
  }
  await host.stop();
  assert.equal(host.state, 'offline');
  await host.start(echo);
  assert.ok(log.some((line) => line.includes('/flash/echo.elf copied')), log.join('\n'));
  assert.ok(log.some((line) => line.includes('/flash/echo.elf already on the board (same SHA-256)')), log.join('\n'));
  await host.stop();
});

test('a failing board-side step is a classified MicroPython error with the traceback', async () => {
  await host.start(echo);
  await assert.rejects(connection.exec('_fa.send(999, "00", _fa.ANY, 100)', { timeoutMs: 5000 }), (error: unknown) => {
    assert.ok(error instanceof MicroPythonError);
    assert.equal(error.exceptionType, 'KeyError');
    assert.match(error.traceback, /farm_agent/);
    return true;
  });
  await host.stop();
});

test('the board resetting mid-test: the waiting step fails as infrastructure within its timeout, the board is found again by its stable path', async () => {
  await host.start(echo);
  await host.waitForChannel(DEMO, { timeoutMs: 10_000 });
  const endpoint = await host.openEndpoint({ name: DEMO });
  const boots = board.bootCount;
  const started = Date.now();
  const waiting = endpoint.receive({ timeoutMs: 8000 });
  setTimeout(() => void board.reset(), 300);
  await assert.rejects(waiting, (error: unknown) => error instanceof InfrastructureError);
  assert.ok(Date.now() - started < 8000, `the reset was noticed after ${Date.now() - started} ms`);
  await board.waitForBoot(boots, 15_000);
  await host.reconnect();
  assert.equal(host.state, 'offline');
  await host.start(echo);
  await host.waitForChannel(DEMO, { timeoutMs: 10_000 });
  const again = await host.openEndpoint({ name: DEMO });
  await again.send(new Uint8Array([1, 2, 3]));
  assert.deepEqual((await again.receive({ timeoutMs: 5000 })).data, new Uint8Array([1, 2, 3]));
  await host.stop();
});

test('a remote that never announces: waitForChannel is an announcement timeout (firmware class) at its deadline', async () => {
  board.configure({ silentRemote: true });
  try {
    await host.start(echo);
    const started = Date.now();
    await assert.rejects(host.waitForChannel(DEMO, { timeoutMs: 1500 }), (error: unknown) => {
      assert.ok(error instanceof AnnouncementTimeout);
      assert.ok(error instanceof FirmwareError);
      assert.match(error.message, /did not announce "rpmsg-openamp-demo-channel" within 1500 ms \(announced: nothing\)/);
      return true;
    });
    assert.ok(Date.now() - started < 1500 + 3000);
    await host.stop();
  } finally {
    board.configure({ silentRemote: false });
  }
});

test('an M4 that auto-boots from option bytes: RemoteProc.start() is refused and reported as such', async () => {
  board.configure({ autoBoot: true, flashImage: echo.path as string });
  const boots = board.bootCount;
  await board.reset();
  await board.waitForBoot(boots, 15_000);
  await host.reconnect();
  try {
    await assert.rejects(host.start(echo), (error: unknown) => {
      assert.ok(error instanceof RemoteAlreadyBootedError);
      assert.ok(error instanceof InfrastructureError);
      assert.match(error.message, /auto-boots from its option bytes \(BCM4 set\)/);
      return true;
    });
  } finally {
    board.configure({ autoBoot: false });
    const again = board.bootCount;
    await board.reset();
    await board.waitForBoot(again, 15_000);
    await host.reconnect();
  }
  assert.equal(host.state, 'offline');
});

test('a stale endpoint from before a stop is refused (protocol class)', async () => {
  await host.start(echo);
  const endpoint = await host.openEndpoint({ name: DEMO });
  await host.stop();
  await host.start(echo);
  await assert.rejects(endpoint.send(new Uint8Array(4)), ProtocolError);
  await host.stop();
});

test('crash detection: a healthy remote is not called stalled; after the hang word it is, as no progress', async () => {
  await host.start(echo);
  await host.waitForChannel(DEMO, { timeoutMs: 10_000 });
  await assert.rejects(host.waitForCrash({ timeoutMs: 1500 }), (error: unknown) => error instanceof ProtocolError && /neither crashed nor stalled within 1500 ms/.test(error.message));
  assert.equal(host.state, 'running');
  await host.injectFault('hang');
  const reason = await host.waitForCrash({ timeoutMs: 10_000 });
  assert.match(reason, /^no progress: rpmsg-openamp-demo-channel@0x00000400: a ping went unanswered for 1000 ms$/);
  assert.equal(host.state, 'crashed');
  await host.stop();
  assert.equal(host.state, 'offline');
});

test('firmwareLoad entry: RemoteProc(0x08100000) starts the image flashed to the M4', async () => {
  board.configure({ flashImage: echo.path as string });
  const byEntry = new MicroPythonHost({ name: 'h747-entry', connection, firmwareLoad: 'entry', entry: 0x0810_0000, boardDir: '/flash', execTimeoutMs: 5000, resetTimeoutMs: 15_000, faults: [], stallTimeoutMs: 1000, log: (line) => log.push(line) });
  await byEntry.prepare();
  await byEntry.start(echo);
  const channel = await byEntry.waitForChannel(DEMO, { timeoutMs: 10_000 });
  const endpoint = await byEntry.openEndpoint({ name: DEMO });
  await endpoint.send(new Uint8Array([9, 8, 7]));
  const reply = await endpoint.receive({ timeoutMs: 5000 });
  assert.equal(reply.src, channel.remoteAddr);
  assert.deepEqual(reply.data, new Uint8Array([9, 8, 7]));
  assert.ok(!log.some((line) => line.startsWith('h747-entry') && line.includes('copied')), 'entry mode copies no image');
  await byEntry.stop();
  byEntry.dispose();
  await host.prepare();
});

test('the kind end to end: strategy up to host-ready, the flasher writes a changed image once (by probe serial), teardown walks down to off', async () => {
  await connection.dropConsole();
  const dfuUtil = recordingTool('dfu-util');
  board.configure({ flashImage: echo.path as string });
  const steps: string[] = [];
  const params = micropythonOpenampKind.parseParams(
    { port: board.serialPath, firmwareLoad: 'entry', flasher: { tool: 'dfu-util', probeSerial: '0041003B3438510A', binary: dfuUtil.path } },
    'targets[0].params',
  );
  const target = micropythonOpenampKind.create('h747', params, { configDir: dir, firmware: {}, workDir: dir });
  try {
    await target.setup({ info: (line) => steps.push(line), console: () => {} });
    assert.deepEqual(
      steps.filter((line) => / -> /.test(line)).map((line) => line.split(':')[1]?.trim()),
      ['off -> powered', 'powered -> repl', 'repl -> host-ready'],
    );
    assert.match(target.properties()['micropython.version'] ?? '', /MicroPython v1\.27\.0/);
    const firmware = await target.firmwareFor('echo');
    for (let round = 0; round < 2; round++) {
      await target.host.start(firmware);
      const channel = await target.host.waitForChannel(DEMO, { timeoutMs: 10_000 });
      const endpoint = await target.host.openEndpoint({ name: DEMO });
      await endpoint.send(new Uint8Array([round]));
      assert.deepEqual((await endpoint.receive({ timeoutMs: 5000 })).data, new Uint8Array([round]));
      assert.equal(channel.remoteAddr, 0x400);
      await target.host.stop();
    }
    assert.deepEqual(dfuUtil.calls(), [['-S', '0041003B3438510A', '-a', '0', '-s', '0x08100000:leave', '-D', firmware.path as string]]);
    assert.match(target.takeConsole(), /raw REPL; CTRL-B to exit/);
  } finally {
    await target.teardown();
    dfuUtil.remove();
  }
  assert.ok(steps.some((line) => /powered -> off/.test(line)), steps.join('\n'));
});

test('closing the double leaves nothing running (no pty-relay, no QEMU)', async () => {
  const running = children();
  assert.ok(running.some((line) => /pty-relay/.test(line)), running.join('\n'));
  host.dispose();
  await connection.close();
  await board.close();
  // QEMU may take a moment after its QMP quit.
  const deadline = Date.now() + 5000;
  while (children().some((line) => /pty-relay|qemu/.test(line)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(children().filter((line) => /pty-relay|qemu/.test(line)), []);
});
