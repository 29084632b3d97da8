/**
 * The linux-remoteproc kind against the STM32MP157 board double, at the boundary a real board
 * has (SSH, files at the kernel's paths, /dev/rpmsg*): the lab failures each end in one
 * classified error naming the target, within their deadlines, with nothing left running.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfrastructureError, ProtocolError, RemoteCrashedError, TimeoutError } from '../../base/errors.js';
import { echoRound, range } from '../../suites/support/echo.js';
import { recordingTool } from '../../base/process/recording-tool.test-helper.js';
import { HostKeyMismatchError, SshAuthenticationError } from '../ssh/ssh-shell.js';
import { keygen, mountNamespaceOf } from '../ssh/testing/sshd-for-tests.js';
import type { TargetLog } from '../target.js';
import { BoardDouble, DOUBLE_MACHINE_ID } from './testing/board-double.js';
import { linuxRemoteprocKind } from './index.js';
import type { LinuxRemoteprocHost } from './linux-remoteproc-host.js';
import { WrongBoardError, type LinuxRemoteprocTarget } from './linux-remoteproc-target.js';

const DEMO = 'rpmsg-openamp-demo-channel';
const CONSOLE_PASSWORD = 'console-secret-1';
let double: BoardDouble;
let scratch: string;
const logLines: string[] = [];
const log: TargetLog = { info: (line) => logLines.push(line), console: () => {} };

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'farm-linux-remoteproc-test-'));
  double = await BoardDouble.start({ consolePassword: CONSOLE_PASSWORD });
});

after(async () => {
  const namespace = mountNamespaceOf(double.sshd.process.pid);
  await double?.stop();
  // Nothing of the double is left: no process in its namespace, no state directory.
  if (namespace) {
    const left = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry) && mountNamespaceOf(Number(entry)) === namespace);
    assert.deepEqual(left, [], 'processes left in the double namespace');
  }
  assert.equal(existsSync(double.dir), false);
  rmSync(scratch, { recursive: true, force: true });
});

function target(overrides: Record<string, unknown> = {}, ssh: Record<string, unknown> = {}): LinuxRemoteprocTarget {
  const params = linuxRemoteprocKind.parseParams(
    {
      preset: 'stm32mp157c-dk2',
      helperAbi: 'host',
      identity: { machineId: DOUBLE_MACHINE_ID },
      startTimeoutMs: 5000,
      bootTimeoutMs: 2000,
      ssh: { host: '127.0.0.1', port: double.port, privateKey: double.clientKey, knownHosts: double.knownHosts, connectTimeoutMs: 2000, ...ssh },
      ...overrides,
    },
    'targets.mp157.params',
  );
  return linuxRemoteprocKind.create('mp157', params, { configDir: scratch, firmware: {}, workDir: scratch }) as LinuxRemoteprocTarget;
}

async function withTarget(body: (t: LinuxRemoteprocTarget, host: LinuxRemoteprocHost) => Promise<void>, overrides?: Record<string, unknown>): Promise<void> {
  const t = target(overrides);
  await t.setup(log);
  try {
    await body(t, t.host as LinuxRemoteprocHost);
  } finally {
    await t.teardown();
  }
}

const isNamed = (error: unknown) => error instanceof Error && error.message.startsWith('mp157: ');

test('setup walks off -> powered -> shell -> ready; firmware is uploaded once per content; echo through rpmsg_char; stop', async () => {
  logLines.length = 0;
  await withTarget(async (t, host) => {
    assert.equal(t.strategy.state, 'ready');
    assert.deepEqual(
      logLines.filter((line) => / -> /.test(line) && /^mp157: \w+ -> \w+:/.test(line)).map((line) => line.split(':')[1]?.trim()),
      ['off -> powered', 'powered -> shell', 'shell -> ready'],
    );
    const firmware = await t.firmwareFor('echo');
    for (let round = 0; round < 2; round++) {
      await host.start(firmware);
      assert.equal(host.state, 'running');
      const channel = await host.waitForChannel(DEMO, { timeoutMs: 10_000 });
      const endpoint = await host.openEndpoint({ name: DEMO });
      await echoRound(endpoint, channel.remoteAddr, range(1, 40));
      await endpoint.close();
      await host.stop();
      assert.equal(host.state, 'offline');
    }
    assert.equal(logLines.filter((line) => line.includes('uploading echo.elf')).length <= 1, true, 'the same image is not uploaded twice');
    assert.match(await host.trace(), /^$|rpmsg/);
  });
});

test('a wrong key: SshAuthenticationError naming the target, at once (no waiting for a boot)', async () => {
  const stranger = join(scratch, 'stranger');
  keygen(stranger);
  const started = Date.now();
  const t = target({}, { privateKey: stranger });
  await assert.rejects(t.setup(log), (error: unknown) => error instanceof SshAuthenticationError && isNamed(error));
  assert.ok(Date.now() - started < 5000);
  await t.teardown();
  assert.equal(t.strategy.state, 'off');
});

test('a changed host key: HostKeyMismatchError naming the target; the board is not used', async () => {
  const knownHosts = join(scratch, 'known_hosts_changed');
  writeFileSync(knownHosts, `[127.0.0.1]:${double.port} ${keygen(join(scratch, 'old_host_key'))}\n`);
  const t = target({}, { knownHosts });
  await assert.rejects(t.setup(log), (error: unknown) => error instanceof HostKeyMismatchError && isNamed(error));
  await t.teardown();
});

test('another board at the address (identity mismatch): WrongBoardError before any test', async () => {
  const t = target({ identity: { machineId: '0123456789abcdef0123456789abcdef' } });
  await assert.rejects(t.setup(log), (error: unknown) => error instanceof WrongBoardError && isNamed(error) && error.message.includes(DOUBLE_MACHINE_ID));
  await t.teardown();
});

test('a silent board without power control: InfrastructureError naming the target within bootTimeoutMs', async () => {
  const closed = await new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
  const started = Date.now();
  const t = target({}, { port: closed });
  await assert.rejects(t.setup(log), (error: unknown) => error instanceof InfrastructureError && isNamed(error));
  assert.ok(Date.now() - started < 8000, `gave up after ${Date.now() - started} ms`);
  await t.teardown();
});

test('a silent board is power-cycled once and then answers', async () => {
  // The "board": a TCP relay to the double's sshd that only listens while the power flag exists.
  const flag = join(scratch, 'powered');
  const tool = recordingTool('pdu');
  writeFileSync(tool.path, `#!/bin/sh\necho "$@" >> '${join(scratch, 'pdu-calls')}'\ncase "$1" in on|cycle) touch '${flag}';; off) rm -f '${flag}';; esac\n`);
  let relay: net.Server | undefined;
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(free));
    });
  });
  const watcher = setInterval(() => {
    if (existsSync(flag) && !relay) {
      relay = net.createServer((socket) => {
        const upstream = net.connect(double.port, '127.0.0.1');
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      }).listen(port, '127.0.0.1');
    }
  }, 20);
  writeFileSync(join(scratch, 'known_hosts_relay'), `[127.0.0.1]:${port} ${double.hostKey}\n`);
  try {
    const t = target({ power: { type: 'command', on: [tool.path, 'noop'], off: [tool.path, 'off'], cycle: [tool.path, 'cycle'] } }, { port, knownHosts: join(scratch, 'known_hosts_relay') });
    logLines.length = 0;
    await t.setup(log);
    await t.teardown();
    assert.deepEqual(readFileSync(join(scratch, 'pdu-calls'), 'utf8').trim().split('\n'), ['noop', 'cycle']);
    assert.ok(logLines.some((line) => /mp157: board silent .*power-cycling it/.test(line)));
  } finally {
    clearInterval(watcher);
    relay?.close();
    tool.remove();
  }
});

test('firmware missing on the board: InfrastructureError naming the target and the file', async () => {
  await withTarget(async (_t, host) => {
    await assert.rejects(host.boot('not-there.elf'), (error: unknown) => error instanceof InfrastructureError && isNamed(error) && /firmware not-there\.elf is missing on the board/.test(error.message));
    assert.equal(host.state, 'offline');
  });
});

test('a core stuck offline after start: TimeoutError naming the target within startTimeoutMs', async () => {
  await withTarget(async (t, host) => {
    double.kernel.faults.stuckOffline = true;
    try {
      const started = Date.now();
      await assert.rejects(host.start(await t.firmwareFor('echo')), (error: unknown) => error instanceof TimeoutError && isNamed(error) && /still offline 5000 ms after start/.test(error.message));
      assert.ok(Date.now() - started < 9000);
    } finally {
      double.kernel.faults.stuckOffline = false;
    }
  });
});

test('a remote crash mid-exchange: RemoteCrashedError naming the target, state crashed, the next start recovers', async () => {
  await withTarget(async (t, host) => {
    const firmware = await t.firmwareFor('echo');
    await host.start(firmware);
    const channel = await host.waitForChannel(DEMO, { timeoutMs: 10_000 });
    const endpoint = await host.openEndpoint({ name: DEMO });
    await echoRound(endpoint, channel.remoteAddr, range(1, 5));
    await host.injectFault('crash');
    const reason = await host.waitForCrash({ timeoutMs: 10_000 });
    assert.match(reason, /crash/);
    assert.equal(host.state, 'crashed');
    await assert.rejects(endpoint.receive({ timeoutMs: 2000 }), (error: unknown) => error instanceof RemoteCrashedError && isNamed(error));
    await host.start(firmware);
    const restarted = await host.waitForChannel(DEMO, { timeoutMs: 10_000 });
    const again = await host.openEndpoint({ name: DEMO });
    await echoRound(again, restarted.remoteAddr, range(1, 5));
    await host.stop();
  });
});

test('the helper killed on the board: pending receives fail naming the target; the next start runs a new helper', async () => {
  await withTarget(async (t, host) => {
    const firmware = await t.firmwareFor('echo');
    await host.start(firmware);
    const channel = await host.waitForChannel(DEMO, { timeoutMs: 10_000 });
    const endpoint = await host.openEndpoint({ name: DEMO });
    const pending = endpoint.receive({ timeoutMs: 10_000 });
    pending.catch(() => {}); // asserted below, after the kill
    const started = Date.now();
    // This target's own helper, by the pid it reported: never every helper on the machine (other
    // doubles, other engineers' runs share this pid namespace).
    const pid = host.helperPid;
    assert.ok(pid !== undefined, 'the helper reported its pid');
    await t.board.shell?.runCheck(`kill -9 ${pid}`);
    await assert.rejects(pending, (error: unknown) => error instanceof InfrastructureError && isNamed(error) && /rpmsg helper/.test(error.message));
    assert.ok(Date.now() - started < 5000);
    await assert.rejects(endpoint.send(new Uint8Array(17)), (error: unknown) => error instanceof Error && isNamed(error));
    await host.start(firmware);
    await host.waitForChannel(DEMO, { timeoutMs: 10_000 });
    const fresh = await host.openEndpoint({ name: DEMO });
    await echoRound(fresh, channel.remoteAddr, range(1, 5));
    await host.stop();
  });
});

test('the SSH connection dropped mid-test: InfrastructureError naming the target, no hang; teardown completes', async () => {
  const t = target();
  await t.setup(log);
  const host = t.host as LinuxRemoteprocHost;
  const firmware = await t.firmwareFor('echo');
  await host.start(firmware);
  const endpoint = await host.openEndpoint({ name: DEMO });
  const pending = endpoint.receive({ timeoutMs: 15_000 });
  pending.catch(() => {}); // asserted below, after the drop
  const started = Date.now();
  // The board side of the connection dies (sshd's session process: as a network drop or a reboot).
  await t.board.shell?.run('kill -9 $(ps -o ppid= -p $PPID)', { timeoutMs: 5000 }).catch(() => {});
  await assert.rejects(pending, (error: unknown) => error instanceof InfrastructureError && !(error instanceof ProtocolError) && isNamed(error));
  assert.ok(Date.now() - started < 10_000);
  await assert.rejects(host.openEndpoint({ name: DEMO }), (error: unknown) => error instanceof Error && isNamed(error));
  const teardownStarted = Date.now();
  await t.teardown();
  assert.ok(Date.now() - teardownStarted < 10_000);
  // The double still serves the next session; leftovers of the dropped one are swept at its connect.
  await withTarget(async (_t, next) => {
    await next.stop();
  });
});

test('the serial console is captured from powered on, and a shell on it sees the board', async () => {
  const t = target({ console: { path: double.consolePath, passwordEnv: 'FARM_TEST_MP157_CONSOLE_PW', loginTimeoutMs: 8000 } });
  await t.setup(log);
  try {
    const shell = await t.board.serialShell({ FARM_TEST_MP157_CONSOLE_PW: CONSOLE_PASSWORD });
    assert.equal(await shell.runCheck('cat /sys/class/remoteproc/remoteproc0/name'), 'm4\n');
    await shell.close();
    const captured = t.takeConsole();
    assert.match(captured, /login: /);
    assert.ok(!captured.includes(CONSOLE_PASSWORD), 'no password in the capture');
  } finally {
    await t.teardown();
  }
  assert.equal(t.board.console, undefined, 'the console is closed at teardown');
  await assert.rejects(t.board.serialShell(), (error: unknown) => error instanceof InfrastructureError && isNamed(error));
});

test('an rpmsg-tty channel goes through /dev/ttyRPMSG0 in raw mode: control bytes arrive unchanged behind the remote\'s prefix', async () => {
  logLines.length = 0;
  await withTarget(async (t, host) => {
    await host.start(await t.firmwareFor('multi-endpoint'));
    const channel = await host.waitForChannel('rpmsg-tty', { timeoutMs: 10_000 });
    const endpoint = await host.openEndpoint({ name: 'rpmsg-tty' });
    assert.ok(logLines.some((line) => line.includes('through /dev/ttyRPMSG0 in raw mode')), 'the tty was used');
    // ^C, ^D, ^Z, CR, LF, DEL, 0xff: a cooked terminal would signal, end, translate or erase.
    const message = Buffer.from([0x03, 0x04, 0x1a, 0x0d, 0x0a, 0x7f, 0x00, 0xff, 0x41]);
    await endpoint.send(message);
    const reply = await endpoint.receive({ timeoutMs: 5000 });
    const prefix = `TTY 0x${channel.remoteAddr.toString(16).padStart(4, '0')}: `;
    assert.deepEqual(Buffer.from(reply.data), Buffer.concat([Buffer.from(prefix), message]));
    await endpoint.close();
    await host.stop();
  });
});

test('a host-announced rpmsg-tty (RPMSG_CREATE_DEV_IOCTL): the remote binds it ("bound" from a new address, learned by the kernel), replies through its tty, and RPMSG_RELEASE_DEV_IOCTL sends the NS DESTROY', async () => {
  logLines.length = 0;
  await withTarget(async (t, host) => {
    await host.start(await t.firmwareFor('multi-endpoint'));
    const announced = await host.waitForChannel('rpmsg-tty', { timeoutMs: 10_000 });
    // ST's demo: the remote learns the first tty's host end from a first message on it.
    const first = await host.openEndpoint({ name: 'rpmsg-tty' });
    await first.send(Buffer.from('hello'));
    await first.receive({ timeoutMs: 5000 });
    const endpoint = await host.openEndpoint({ name: 'rpmsg-tty', localAddr: 257, announce: true });
    assert.ok(logLines.some((line) => /"rpmsg-tty" \(0x0*101 -> its peer\) through \/dev\/ttyRPMSG1 in raw mode/.test(line)), logLines.join('\n'));
    const bound = await endpoint.receive({ timeoutMs: 5000 });
    assert.equal(Buffer.from(bound.data).toString('latin1').replace(/\0$/, ''), 'bound');
    assert.equal(bound.dst, 257);
    assert.notEqual(bound.src, announced.remoteAddr);
    assert.notEqual(bound.src, 0xffffffff, 'the peer was learned from sysfs');
    const dst = await t.board.shell?.runCheck('cat /sys/bus/rpmsg/devices/virtio0.rpmsg-tty.257.-1/dst');
    assert.equal(Number(dst?.trim()), bound.src, 'sysfs dst is the address "bound" came from');
    await endpoint.send(Buffer.from('dynamic'), { dest: bound.src });
    const reply = await endpoint.receive({ timeoutMs: 5000 });
    assert.equal(Buffer.from(reply.data).toString('latin1'), `TTY 0x${bound.src.toString(16).padStart(4, '0')}: dynamic`);
    // The same device twice: EEXIST from the kernel, a ProtocolError naming the target.
    await assert.rejects(host.openEndpoint({ name: 'rpmsg-tty', localAddr: 257, announce: true }), (error: unknown) => error instanceof ProtocolError && isNamed(error) && /RPMSG_CREATE_DEV_IOCTL.*File exists/.test(error.message));
    await endpoint.close();
    assert.equal((await t.board.shell?.run('ls -d /sys/bus/rpmsg/devices/virtio0.rpmsg-tty.257.-1'))?.exitCode, 2, 'the device is released');
    assert.match(double.kernel.kernelLog(), /destroying channel rpmsg-tty addr 0x101/);
    await assert.rejects(endpoint.send(Buffer.from('after close'), { dest: bound.src }), (error: unknown) => error instanceof ProtocolError && isNamed(error));
    // Without a fixed local address the kernel announces nothing: refused before any ioctl.
    await assert.rejects(host.openEndpoint({ name: 'rpmsg-tty', announce: true }), (error: unknown) => error instanceof ProtocolError && /needs a local address/.test(error.message));
    await first.close();
    await host.stop();
  });
});
