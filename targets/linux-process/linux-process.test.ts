import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, after } from 'node:test';
import { ConfigError } from '../../base/errors.js';
import { InfrastructureError, RemoteCrashedError } from '../../base/errors.js';
import { DEMO_CHANNEL } from '../../openamp/remote/program.js';
import { controlMessage } from '../../openamp/remote/control-words.js';
import type { NameServiceEvent, TargetLog } from '../target.js';
import { linuxProcessKind } from './index.js';
import { LINUX_PROCESS_PARAM_DEFAULTS, substitutePlaceholders, type LinuxProcessParams } from './linux-process-params.js';
import { LinuxProcessTarget } from './linux-process-target.js';
import { RemoteDidNotStartError } from './linux-process-ops.js';
import { ensureFirmwareBuilt, firmwarePath } from '../../firmware/build.js';
import { FileMemory } from '../../openamp/memory/file-memory.js';
import { VRING_USED_F_NO_NOTIFY, vringLayout } from '../../openamp/virtio/vring-layout.js';

const scratch = mkdtempSync(join(tmpdir(), 'farm-lp-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Files any linux-process start of this test process may have created. */
function ourFiles(): string[] {
  const mine = new RegExp(`^farm-linux-process-${process.pid}-`);
  return ['/dev/shm', '/tmp'].flatMap((dir) => readdirSync(dir).filter((name) => mine.test(name)).map((name) => join(dir, name)));
}

function quietLog(lines: string[] = []): TargetLog {
  return { info: (line) => lines.push(line), console: () => {} };
}

function makeTarget(params: Partial<LinuxProcessParams> = {}): LinuxProcessTarget {
  const parsed = { ...LINUX_PROCESS_PARAM_DEFAULTS, stopGraceMs: 500, ...params };
  return linuxProcessKind.create('lp', parsed, { configDir: scratch, firmware: {}, workDir: scratch }) as LinuxProcessTarget;
}

async function echoOnce(target: LinuxProcessTarget, payload: Uint8Array): Promise<Uint8Array> {
  const channel = await target.host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 5000 });
  const endpoint = await target.host.openEndpoint({ name: DEMO_CHANNEL });
  await endpoint.send(payload, { dest: channel.remoteAddr });
  const reply = await endpoint.receive({ timeoutMs: 5000 });
  await endpoint.close();
  return reply.data;
}

test('params: defaults, unique names unless fixed, placeholders required for commands, field paths in errors', () => {
  assert.deepEqual(linuxProcessKind.parseParams(undefined, 'p'), LINUX_PROCESS_PARAM_DEFAULTS);
  const ok = linuxProcessKind.parseParams({ commands: { echo: ['./remote', '--shm', '{shm}', '--socket', '{socket}'] } }, 'p');
  assert.deepEqual(ok.commands.echo, ['./remote', '--shm', '{shm}', '--socket', '{socket}']);
  // A remote that cannot be told its names (open-amp's demos) needs the names set explicitly.
  assert.throws(
    () => linuxProcessKind.parseParams({ commands: { echo: ['rpmsg-echo'] } }, 'targets[1].params'),
    (e: unknown) => e instanceof ConfigError && e.field === 'targets[1].params.commands.echo' && /shmPath/.test(e.message),
  );
  assert.throws(
    () => linuxProcessKind.parseParams({ shmPath: '/dev/shm/openamp.shm', commands: { echo: ['rpmsg-echo'] } }, 'p'),
    (e: unknown) => e instanceof ConfigError && e.field === 'p.commands.echo' && /socketPath/.test(e.message),
  );
  const demo = linuxProcessKind.parseParams(
    { shmPath: '/dev/shm/openamp.shm', socketPath: '/tmp/openamp.event.0', commands: { echo: ['rpmsg-echo'] } },
    'p',
  );
  assert.equal(demo.shmPath, '/dev/shm/openamp.shm');
  assert.throws(() => linuxProcessKind.parseParams({ shmPath: '/tmp/x.shm' }, 'p'), (e: unknown) => e instanceof ConfigError && e.field === 'p.shmPath');
  assert.throws(() => linuxProcessKind.parseParams({ socketPath: 'relative' }, 'p'), (e: unknown) => e instanceof ConfigError && e.field === 'p.socketPath');
  assert.throws(() => linuxProcessKind.parseParams({ commands: { ping: ['x'] } }, 'p'), (e: unknown) => e instanceof ConfigError && e.field === 'p.commands.ping');
  assert.throws(() => linuxProcessKind.parseParams({ commands: { echo: [] } }, 'p'), (e: unknown) => e instanceof ConfigError && e.field === 'p.commands.echo');
  assert.throws(() => linuxProcessKind.parseParams({ shm: 1 }, 'p'), (e: unknown) => e instanceof ConfigError && /unknown parameter/.test(e.message));
  assert.deepEqual(
    substitutePlaceholders(['r', '--shm', '{shm}', '--path={shmPath}', '{socket}'], { shmPath: '/dev/shm/a.shm', socketPath: '/tmp/a.event' }),
    ['r', '--shm', 'a.shm', '--path=/dev/shm/a.shm', '/tmp/a.event'],
  );
});

test('reference echo: start, echo, stop; a restart is a fresh process with fresh files; nothing is left', async () => {
  const target = makeTarget();
  await target.setup(quietLog());
  try {
    const firmware = await target.firmwareFor('echo');
    assert.match(firmware.command![0]!, /firmware\/build\/linux-process\/echo\.elf$/);
    assert.match(firmware.sha256, /^[0-9a-f]{64}$/);
    await target.host.start(firmware);
    assert.equal(target.host.state, 'running');
    const firstPid = target.ops.running!.pid;
    const files = ourFiles();
    assert.equal(files.length, 2, `shm + socket of this start: ${files.join(', ')}`);
    const payload = new Uint8Array(100).fill(0xa5);
    assert.deepEqual(await echoOnce(target, payload), payload);
    // The layout is open-amp's: table at 0, vrings at 0x4000 / 0x8000 with notify ids 1 / 2.
    const vdev = target.host.remoteproc.vdevs[0]!;
    assert.deepEqual(vdev.entry.vrings.map((v) => [v.da, v.num, v.align, v.notifyid]), [
      [0x4000, 256, 0x1000, 1],
      [0x8000, 256, 0x1000, 2],
    ]);
    assert.equal(target.host.remoteproc.resourceTable!.da, 0);
    // As open-amp's remote, the reference firmware asks for no kick per buffer the host gives
    // back on vring 0 (it is not waiting for one), and for kicks on vring 1 (it sleeps between
    // messages).
    const shm = FileMemory.open(files.find((file) => file.startsWith('/dev/shm/'))!);
    try {
      const usedFlags = (da: number): number => shm.loadU16(da + vringLayout(256, 0x1000).usedFlags);
      assert.equal(usedFlags(0x4000), VRING_USED_F_NO_NOTIFY, 'vring 0 used.flags: no refill kicks');
      assert.equal(usedFlags(0x8000), 0, 'vring 1 used.flags: kicks wanted');
    } finally {
      shm.close();
    }

    await target.host.stop();
    assert.equal(target.host.state, 'offline');
    assert.equal(target.ops.running, undefined);
    for (const file of files) assert.equal(existsSync(file), false, `${file} removed on stop`);

    await target.host.start(firmware);
    assert.notEqual(target.ops.running!.pid, firstPid);
    assert.notDeepEqual(ourFiles(), files, 'a restart uses new names');
    assert.deepEqual(await echoOnce(target, payload), payload);
    assert.match(target.takeConsole(), /fw: rpmsg-echo on linux-process/);
  } finally {
    await target.teardown();
  }
  assert.deepEqual(ourFiles(), []);
});

test('a crash (SIGSEGV) is detected with the crash record; hang (SIGSTOP) as a stall; the next start is clean', async () => {
  const target = makeTarget({ stallTimeoutMs: 300 });
  await target.setup(quietLog());
  try {
    const firmware = await target.firmwareFor('lifecycle');
    await target.host.start(firmware);
    await target.host.waitForChannel(DEMO_CHANNEL);
    const pid = target.ops.running!.pid;
    await target.host.injectFault('crash');
    const reason = await target.host.waitForCrash({ timeoutMs: 5000 });
    assert.match(reason, /signal SIGSEGV.*crash record: cause 0x0000000b/);
    assert.equal(target.host.state, 'crashed');
    assert.match(await target.host.trace(), /\*\*\* CRASH kind=1 cause=0xb/);
    await assert.rejects(target.host.openEndpoint({ name: DEMO_CHANNEL }), RemoteCrashedError);

    await target.host.start(firmware); // restarts from clean
    assert.notEqual(target.ops.running!.pid, pid);
    assert.equal(target.host.state, 'running');
    assert.equal((await echoOnce(target, new Uint8Array(17))).length, 17);

    await target.host.injectFault('hang');
    assert.match(await target.host.waitForCrash({ timeoutMs: 5000 }), /no progress/);
    await target.host.stop(); // a stopped (SIGSTOP) process is still ended
    assert.equal(target.ops.running, undefined);
  } finally {
    await target.teardown();
  }
  assert.deepEqual(ourFiles(), []);
});

test('echo ends cleanly (exit 0, not a crash) on the host NS DESTROY of its channel, announcing its own destroy', async () => {
  const target = makeTarget();
  await target.setup(quietLog());
  try {
    await target.host.start(await target.firmwareFor('echo'));
    const channel = await target.host.waitForChannel(DEMO_CHANNEL);
    const events: NameServiceEvent[] = [];
    target.host.onNameService((event) => events.push(event));
    const process = target.ops.running!;
    // A host-announced endpoint of the same name sends NS DESTROY when closed.
    const endpoint = await target.host.openEndpoint({ name: DEMO_CHANNEL, remoteAddr: channel.remoteAddr, announce: true });
    await endpoint.send(new Uint8Array(20).fill(1));
    assert.equal((await endpoint.receive()).data.length, 20);
    await endpoint.close();
    const exit = await Promise.race([process.exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('echo did not exit')), 5000))]);
    assert.deepEqual(exit, { code: 0, signal: undefined });
    assert.ok(events.some((event) => event.kind === 'destroy' && event.name === DEMO_CHANNEL && event.addr === channel.remoteAddr), JSON.stringify(events));
    assert.equal(target.host.state, 'running', 'a program that ended is not a crashed remote');
    assert.match(await target.host.trace(), /echo: host destroyed rpmsg-openamp-demo-channel/);
  } finally {
    await target.teardown();
  }
});

test('the shutdown word ends echo with exit 0 (no crash)', async () => {
  const target = makeTarget();
  await target.setup(quietLog());
  try {
    await target.host.start(await target.firmwareFor('echo'));
    const channel = await target.host.waitForChannel(DEMO_CHANNEL);
    const process = target.ops.running!;
    const endpoint = await target.host.openEndpoint({ name: DEMO_CHANNEL });
    await endpoint.send(controlMessage('shutdown'), { dest: channel.remoteAddr });
    assert.deepEqual(await process.exited, { code: 0, signal: undefined });
    assert.equal(target.host.state, 'running');
  } finally {
    await target.teardown();
  }
});

test('bad commands are infrastructure errors: missing executable, a remote that exits at once, one that never serves', async () => {
  const missing = makeTarget({ commands: { echo: ['./no-such-remote', '{shm}', '{socket}'] } });
  await assert.rejects(missing.firmwareFor('echo'), (e: unknown) => e instanceof InfrastructureError && /no-such-remote is not an executable/.test(e.message));
  await missing.teardown();

  const failing = makeTarget({ commands: { echo: ['false', '{shm}', '{socket}'] } });
  await assert.rejects(
    failing.host.start(await failing.firmwareFor('echo')),
    (e: unknown) => e instanceof RemoteDidNotStartError && e instanceof InfrastructureError && /exit code 1/.test(e.message),
  );
  assert.equal(failing.host.state, 'offline');
  await failing.teardown();

  const silent = join(scratch, 'silent-remote');
  writeFileSync(silent, '#!/bin/sh\nexec sleep 30\n');
  chmodSync(silent, 0o755);
  const sleeper = makeTarget({ startTimeoutMs: 300, commands: { echo: ['./silent-remote', '{shm}', '{socket}'] } });
  await assert.rejects(sleeper.host.start(await sleeper.firmwareFor('echo')), (e: unknown) => e instanceof RemoteDidNotStartError && /within 300 ms/.test(e.message));
  assert.equal(sleeper.ops.running, undefined, 'the remote that never served is ended');
  await sleeper.teardown();
  assert.deepEqual(ourFiles(), []);
});

test('prerequisites: toolchain for the reference firmware and farm-reaper, the configured executables', async () => {
  const reference = await linuxProcessKind.prerequisites(LINUX_PROCESS_PARAM_DEFAULTS, { configDir: process.cwd() });
  assert.ok(reference.some((p) => p.name.startsWith('gcc') && p.debianPackages?.includes('gcc')));
  assert.ok(reference.some((p) => p.name.startsWith('make') && p.debianPackages?.includes('make')));
  assert.ok(reference.some((p) => p.name.startsWith('C library headers') && p.debianPackages?.includes('libc6-dev')), 'gcc only recommends libc6-dev');
  const all = Object.fromEntries(['echo', 'matrix-multiply', 'multi-endpoint', 'lifecycle', 'flood'].map((s) => [s, ['no-such-remote-binary', '{shm}', '{socket}']]));
  const custom = await linuxProcessKind.prerequisites({ ...LINUX_PROCESS_PARAM_DEFAULTS, commands: all }, { configDir: process.cwd() });
  // Still a compiler: every remote runs under farm-reaper, which is built from firmware/tools.
  assert.ok(custom.some((p) => p.name.startsWith('gcc') && /farm-reaper/.test(p.name)), 'gcc builds farm-reaper even when every suite has its own command');
  const echo = custom.find((p) => p.name === 'echo remote no-such-remote-binary');
  assert.equal(echo?.ok, false);
});

test("a remote that cannot be told its names (as open-amp's demo binaries) runs unchanged on open-amp's default names", async (t) => {
  // The reference firmware started with no arguments behaves as open-amp's demos do: it creates
  // /dev/shm/openamp.shm and serves /tmp/openamp.event.0. Another user of those names on this
  // machine would make the result meaningless, so the test refuses to run over them.
  const shmPath = '/dev/shm/openamp.shm';
  const socketPath = '/tmp/openamp.event.0';
  if (existsSync(shmPath) || existsSync(socketPath)) {
    t.skip(`${shmPath} or ${socketPath} is in use on this machine`);
    return;
  }
  await ensureFirmwareBuilt('linux-process', { programs: ['echo'] });
  const firmwareFile = firmwarePath('linux-process', 'echo');
  const target = makeTarget({ shmPath, socketPath, commands: { echo: [firmwareFile] } });
  await target.setup(quietLog());
  try {
    const firmware = await target.firmwareFor('echo');
    assert.deepEqual(firmware.command, [firmwareFile], 'no name arguments');
    await target.host.start(firmware);
    assert.equal(existsSync(shmPath), true, 'the remote created open-amp\'s default shm');
    const payload = new Uint8Array(496).map((_, i) => i & 0xff);
    assert.deepEqual(await echoOnce(target, payload), payload);
    await target.host.stop();
    assert.equal(existsSync(shmPath), false, 'shm removed on stop');
    assert.equal(existsSync(socketPath), false, 'socket removed on stop');
  } finally {
    await target.teardown();
  }
});
