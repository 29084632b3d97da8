/**
 * containers/ and QEMU targets in containers against the real engine (Debian's docker.io):
 * started here when it is not running (as root) and stopped after. Every engine test lives in
 * this one file, so parallel test files never race to start dockerd. The farm's images are
 * built when missing (minutes the first time, then never while their recipes are unchanged).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { connectEngine, ContainerEngineError } from '../../containers/engine.js';
import { buildRecipe, listFarmImages, MissingImageError, pruneFarmImages } from '../../containers/images.js';
import { FarmContainer } from '../../containers/farm-container.js';
import { sweepStaleContainers } from '../../containers/container-sweep.js';
import { CONTAINER_LABELS, containerLabels } from '../../containers/labels.js';
import { recipeTag } from '../../containers/recipes.js';
import { useEngine, type EngineLease } from '../../containers/engine-lease.js';
import { ensureFirmwareBuilt, firmwareBuildDir, firmwarePath } from '../../firmware/build.js';
import { QEMU_MACHINES } from '../../qemu/machines.js';
import { QemuInstance } from '../../qemu/qemu-instance.js';
import { Remoteproc } from '../../openamp/remoteproc/remoteproc.js';
import { QemuRemoteprocOps } from './qemu-remoteproc-ops.js';
import { qemuContainerRunner } from '../drivers/qemu-container-runner.js';
import { FIRMWARE_KICK_BYTE } from '../../firmware/uart-kick.js';
import { createRpmsgHost } from '../../openamp/rpmsg/host.js';
import { PollingDoorbell } from '../../openamp/doorbell/polling-doorbell.js';
import { randomBytes } from 'node:crypto';
import { InfrastructureError } from '../../base/errors.js';
import { isAlive, startCli, trackRun, workspace, type CliResult } from '../../farm/testing/cli-harness.js';
import * as net from 'node:net';
import { prepareContainerDouble } from '../linux-remoteproc/testing/container-double.js';
import { DOUBLE_MACHINE_ID, sweepStaleDoubles } from '../linux-remoteproc/testing/board-double.js';

let engine: EngineLease;
let docker: Docker;

before(async () => {
  engine = await useEngine((line) => process.stdout.write(`# ${line}\n`));
  docker = engine.docker;
  // Every recipe (board-double builds on qemu, qemu on base): skipped when their tags are there.
  await buildRecipe(docker, 'board-double', (line) => process.stdout.write(`# ${line}\n`));
});

const space = workspace();

after(async () => {
  space.remove();
  await engine?.release();
});

/** Our containers (this process's pid label), running or not. */
async function ours(): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${CONTAINER_LABELS.pid}=${process.pid}`] }) });
}

async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('a missing engine and a missing image are one line naming the fix', { timeout: 30_000 }, async () => {
  await assert.rejects(connectEngine({ env: { DOCKER_HOST: 'unix:///tmp/farm-no-engine.sock' } }), (error: unknown) => {
    assert.ok(error instanceof ContainerEngineError);
    assert.match(error.message, /^container engine at \/tmp\/farm-no-engine\.sock: not running; start the engine as root with `dockerd/);
    assert.match(error.message, /docker\.io, `farm doctor --fix` installs it$/);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
  await assert.rejects(connectEngine({ env: { DOCKER_HOST: 'tcp://10.0.0.1:2375' } }), /only talks to a local engine over a UNIX socket/);
  await assert.rejects(
    FarmContainer.run({ docker, image: 'openamp-farm/no-such-image:1', name: 'probe', target: 'probe', command: ['true'] }),
    (error: unknown) => error instanceof MissingImageError && /image openamp-farm\/no-such-image:1 is not on this engine: build or load it/.test(error.message),
  );
  assert.deepEqual(await ours(), [], 'no container was created');
});

test('a farm container carries the run labels, its output reaches the farm, and stop removes it', { timeout: 60_000 }, async () => {
  let output = '';
  const container = await FarmContainer.run({
    docker,
    image: 'base',
    name: 'probe',
    target: 'probe-target',
    command: ['sh', '-c', 'echo ready; echo oops >&2; exec sleep 1000'],
    onOutput: (stream, text) => (output += `${stream}:${text}`),
  });
  await waitFor(async () => output.includes('stdout:ready') && output.includes('stderr:oops'), 10_000, `output (${output})`);
  const [info] = await ours();
  assert.ok(info, 'the container is listed');
  assert.equal(info.Image, recipeTag('base'));
  const expected = containerLabels('probe-target');
  for (const key of Object.values(CONTAINER_LABELS)) assert.equal(info.Labels[key], expected[key], key);
  assert.equal(container.running, true);
  const exit = await container.stop({ graceMs: 2000 });
  assert.equal(exit.signal, 'SIGTERM', 'the watchdog forwarded SIGTERM to the command');
  assert.deepEqual(await ours(), [], 'the container is gone');
  assert.equal(container.running, false);
});

test('the owning process SIGKILLed: its container dies with it (stdin watchdog), and a left-over one is swept', { timeout: 60_000 }, async () => {
  const module = fileURLToPath(new URL('../../containers/farm-container.js', import.meta.url));
  const engineModule = fileURLToPath(new URL('../../containers/engine.js', import.meta.url));
  const script = `
    const { FarmContainer } = await import(${JSON.stringify(module)});
    const { connectEngine } = await import(${JSON.stringify(engineModule)});
    const c = await FarmContainer.run({ docker: await connectEngine(), image: 'base', name: 'orphan', target: 'orphan', command: ['sleep', '1000'] });
    process.stdout.write(c.id + '\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const id = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(text.trim());
    });
    child.once('exit', (code) => reject(new Error(`child exited ${code} before starting its container`)));
  });
  const running = await docker.getContainer(id).inspect();
  assert.equal(running.State.Running, true);
  assert.equal(running.Config.Labels[CONTAINER_LABELS.pid], String(child.pid));
  child.kill('SIGKILL');
  await waitFor(
    async () => docker.getContainer(id).inspect().then(() => false, () => true),
    20_000,
    'the orphan container to be removed',
  );

  // A container the watchdog could not end (not started through FarmContainer: no watchdog,
  // no AutoRemove) whose owner is dead is swept; one whose owner lives is left alone.
  const dead = spawn('true');
  await new Promise((resolve) => dead.once('exit', resolve));
  const make = async (pid: number) =>
    docker.createContainer({ Image: recipeTag('base'), Cmd: ['sleep', '1000'], Labels: { ...containerLabels('sweep'), [CONTAINER_LABELS.pid]: String(pid) } });
  const stale = await make(dead.pid as number);
  const live = await make(process.pid);
  await stale.start();
  try {
    const removed = await sweepStaleContainers(docker);
    assert.equal(removed.length, 1, `removed ${removed.join(', ')}`);
    await assert.rejects(stale.inspect(), 'the dead owner\'s container is gone');
    assert.ok(await live.inspect(), 'the live owner\'s container is kept');
  } finally {
    await live.remove({ force: true });
    await stale.remove({ force: true }).catch(() => {});
  }
});

test('QEMU (zynqmp-r5) in a container: echo through the bind-mounted RAM file, kill from outside is a failure, nothing left', { timeout: 120_000 }, async () => {
  await ensureFirmwareBuilt('zynqmp-r5');
  const profile = QEMU_MACHINES['zynqmp-r5'];
  let console = '';
  const qemu = await QemuInstance.launch({
    profile,
    stubDir: firmwareBuildDir('zynqmp-r5'),
    container: qemuContainerRunner('qemu', 'zynqmp-in-container'),
    name: 'zynqmp-in-container',
    onConsole: (text) => (console += text),
    kick: { byte: FIRMWARE_KICK_BYTE },
  });
  const dirs = qemu.files.map((file) => file.slice(0, file.lastIndexOf('/')));
  try {
    assert.ok(qemu.files.every((file) => file.includes('.d/')), `run folders: ${qemu.files.join(', ')}`);
    assert.equal((await ours()).length, 1, 'QEMU runs in one container');
    const rp = new Remoteproc(new QemuRemoteprocOps({ current: () => qemu }), { name: 'zynqmp-in-container' });
    const [vdev] = await rp.boot(fs.readFileSync(firmwarePath('zynqmp-r5', 'echo')), 'zynqmp-r5/echo.elf');
    assert.ok(vdev?.bufferCarveout);
    const host = createRpmsgHost({ transport: vdev.transport, doorbell: new PollingDoorbell({ intervalMs: 1 }), bufferPool: { da: vdev.bufferCarveout.da, size: vdev.bufferCarveout.len } });
    const announced = new Promise<void>((resolve) => host.onNameService((ns) => ns.name === 'rpmsg-openamp-demo-channel' && resolve()));
    const ept = host.createEndpoint({ name: 'rpmsg-openamp-demo-channel' });
    await Promise.race([announced, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no announcement; console: ${console}`)), 10_000))]);
    for (const n of [1, 100, 496]) {
      const payload = new Uint8Array(n).map((_, i) => (i * 5 + n) & 0xff);
      await ept.send(payload);
      assert.deepEqual((await ept.receive(5000)).data, payload);
    }
    assert.match(console, /waiting for DRIVER_OK/, 'the UART socket reaches the host');
    host.close();

    const failed = new Promise<string>((resolve) => qemu.onFailure(resolve));
    const [info] = await ours();
    await docker.getContainer(info!.Id).kill({ signal: 'SIGKILL' });
    assert.match(await failed, /QEMU exited unexpectedly/);
  } finally {
    await qemu.close();
  }
  assert.deepEqual(await ours(), [], 'no container left');
  for (const dir of dirs) assert.equal(fs.existsSync(dir), false, `${dir} removed`);
});

test('images: list shows every recipe and stale builds; prune removes only the stale ones', { timeout: 30_000 }, async () => {
  const stale = 'openamp-farm/base:0000000000000000';
  await docker.getImage(recipeTag('base')).tag({ repo: 'openamp-farm/base', tag: '0000000000000000' });
  try {
    const rows = await listFarmImages(docker);
    assert.deepEqual(rows.filter((row) => row.current).map((row) => [row.recipe, row.tag, row.built]), [['base', recipeTag('base'), true], ['qemu', recipeTag('qemu'), true], ['board-double', recipeTag('board-double'), true]]);
    assert.ok(rows.some((row) => row.tag === stale && !row.current), 'the old build is listed as stale');
    const { removed } = await pruneFarmImages(docker);
    assert.ok(removed.includes(stale), `removed ${removed.join(', ')}`);
    assert.ok(!removed.some((tag) => rows.some((row) => row.current && row.tag === tag)), 'no current image removed');
    assert.ok(!(await listFarmImages(docker)).some((row) => !row.current), 'nothing stale left');
    assert.ok(await docker.getImage(recipeTag('base')).inspect(), 'the current base (same image id) is kept');
  } finally {
    await docker.getImage(stale).remove().catch(() => {});
  }
});

test('images: an unchanged recipe is not rebuilt', { timeout: 30_000 }, async () => {
  const started = Date.now();
  const results = await buildRecipe(docker, 'board-double');
  assert.deepEqual(results.map((result) => [result.recipe, result.built]), [['base', false], ['qemu', false], ['board-double', false]]);
  assert.ok(Date.now() - started < 10_000);
});

/** `promise`, or a failure naming `what` after `ms` (every wait on another process is bounded). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

test("a user image's own command runs under the farm's watchdog: files written before start, a port published on 127.0.0.1 only, files read back; no command is one clear error", { timeout: 90_000 }, async () => {
  // An image with its own CMD, made from base without a registry: what a vendor's image is to the farm.
  const maker = await docker.createContainer({ Image: recipeTag('base'), Cmd: ['true'] });
  const image = `openamp-farm-test/own-command:${process.pid}`;
  try {
    await maker.commit({ repo: 'openamp-farm-test/own-command', tag: String(process.pid), changes: 'CMD ["/bin/sh", "/farm-probe.sh"]' });
  } finally {
    await maker.remove({ force: true });
  }
  const script = `echo "own command, probe $(cat /etc/farm-probe)"\nexec /opt/node -e "require('net').createServer((s) => s.end('pong')).listen(7000, () => console.log('listening'))"\n`;
  let output = '';
  try {
    const container = await FarmContainer.run({
      docker,
      image,
      name: 'own-command',
      target: 'own-command',
      publish: [7000],
      binds: [{ host: process.execPath, container: '/opt/node', readOnly: true }],
      files: [
        { path: '/farm-probe.sh', content: Buffer.from(script), mode: 0o755 },
        { path: '/etc/farm-probe', content: Buffer.from('42'), mode: 0o600 },
      ],
      onOutput: (_stream, text) => (output += text),
    });
    try {
      await waitFor(async () => output.includes('listening') || !container.running, 20_000, `the image's command (${output})`);
      assert.match(output, /own command, probe 42/);
      const port = await container.hostPort(7000);
      const info = await docker.getContainer(container.id).inspect();
      assert.deepEqual(info.NetworkSettings.Ports['7000/tcp']?.map((binding) => binding.HostIp), ['127.0.0.1'], 'published on 127.0.0.1 only');
      assert.equal(info.Config.Cmd?.join(' '), '/bin/sh /farm-probe.sh', "the image's command, under the watchdog");
      const reply = await within(
        new Promise<string>((resolve, reject) => {
          const socket = net.connect({ host: '127.0.0.1', port });
          let text = '';
          socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
          socket.once('end', () => resolve(text));
          socket.once('error', reject);
        }),
        10_000,
        'the published port',
      );
      assert.equal(reply, 'pong');
      assert.deepEqual(await container.readFile('/farm-probe.sh'), Buffer.from(script));
      assert.equal(await container.readFile('/no/such/file'), undefined);
      await assert.rejects(container.readFile('/farm-probe.sh', 8), /larger than 8 bytes|more than the 8 expected/);
    } finally {
      await container.stop({ graceMs: 2000 });
    }
    assert.deepEqual(await ours(), [], 'the container is gone');
    // docker run IMAGE ARGS: the CMD replaced (this image has no ENTRYPOINT to keep).
    let replaced = '';
    const other = await FarmContainer.run({ docker, image, name: 'own-command', target: 'own-command', imageCmd: ['/bin/sh', '-c', 'echo replaced CMD; exec sleep 100'], onOutput: (_stream, text) => (replaced += text) });
    try {
      await waitFor(async () => replaced.includes('replaced CMD') || !other.running, 20_000, `the replaced command (${replaced})`);
      assert.equal((await docker.getContainer(other.id).inspect()).Config.Cmd?.join(' '), '/bin/sh -c echo replaced CMD; exec sleep 100');
    } finally {
      await other.stop({ graceMs: 2000 });
    }
    await assert.rejects(FarmContainer.run({ docker, image: 'base', name: 'bare', target: 'bare' }), /bare: image openamp-farm\/base:[0-9a-f]+ has neither ENTRYPOINT nor CMD/);
    assert.deepEqual(await ours(), [], 'nothing created for an image without a command');
  } finally {
    await docker.getImage(image).remove({ force: true }).catch(() => {});
  }
});

test('a board image whose own command fails at once: one infrastructure error with its output, nothing left', { timeout: 60_000 }, async () => {
  const { linuxRemoteprocKind } = await import('../linux-remoteproc/index.js');
  const name = `board-bad-${randomBytes(3).toString('hex')}`;
  // No binds: the board-double image's command has no Node.js to run and says so.
  const params = linuxRemoteprocKind.parseParams({ preset: 'stm32mp157c-dk2', helperAbi: 'host', container: 'board-double' }, 'test');
  const target = linuxRemoteprocKind.create(name, params, { configDir: space.dir, firmware: {}, workDir: space.dir });
  try {
    await assert.rejects(
      within(target.setup({ info: () => {}, console: () => {} }), 45_000, 'the failed setup'),
      (error: unknown) => error instanceof InfrastructureError && new RegExp(`^${name}: the container exited \\(code 1\\) before .*; its output: board-double image: bind-mount a Node\\.js 20 binary at /opt/farm/node`).test(error.message),
    );
  } finally {
    await within(target.teardown(), 30_000, 'teardown');
  }
  await waitFor(async () => (await ofTarget(name)).length === 0, 20_000, 'the failed container to be gone');
});

test('a board container whose sshd presents another key than the one pinned in farm.yaml is refused (host key mismatch naming the target), nothing left', { timeout: 90_000 }, async () => {
  await prepareContainerDouble();
  const { linuxRemoteprocKind } = await import('../linux-remoteproc/index.js');
  const name = `board-pinned-${randomBytes(3).toString('hex')}`;
  // A valid key, but not the one the container's first boot makes.
  const pinned = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOWmPmzwfHoixmilQwutlEus2ax358TaJTtJSoF9ey9C';
  const params = linuxRemoteprocKind.parseParams(
    {
      preset: 'stm32mp157c-dk2',
      helperAbi: 'host',
      container: { image: 'board-double', binds: [`${process.execPath}:/opt/farm/node:ro`, `${CHECKOUT}:/opt/farm/checkout:ro`], devices: ['/dev/fuse'], capAdd: ['SYS_ADMIN'] },
      ssh: { hostKey: pinned },
    },
    'test',
  );
  const target = linuxRemoteprocKind.create(name, params, { configDir: space.dir, firmware: {}, workDir: space.dir });
  try {
    await assert.rejects(
      within(target.setup({ info: () => {}, console: () => {} }), 60_000, 'the refused setup'),
      (error: unknown) => error instanceof InfrastructureError && new RegExp(`^${name}: host key mismatch for 127\\.0\\.0\\.1:\\d+: the board presented SHA256:\\S+, farm\\.yaml \\(ssh\\.hostKey\\) has SHA256:`).test(error.message),
    );
  } finally {
    await within(target.teardown(), 30_000, 'teardown');
  }
  await waitFor(async () => (await ofTarget(name)).length === 0, 20_000, 'the container to be gone');
});

/** FUSE bridges of board doubles running in containers (another PID namespace than ours). */
function containerFuseBridges(): number[] {
  const ours = fs.readlinkSync('/proc/self/ns/pid');
  return fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).flatMap((entry) => {
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      return cmdline.startsWith('/opt/farm/checkout/') && cmdline.includes('fuse-bridge') && fs.readlinkSync(`/proc/${entry}/ns/pid`) !== ours ? [Number(entry)] : [];
    } catch {
      return [];
    }
  });
}

/** The checkout (bind-mounted into the board-double image). */
const CHECKOUT = fileURLToPath(new URL('../../../', import.meta.url));

/** A farm file with one linux-remoteproc target whose board is the board-double image. */
function boardFarmFile(name: string): string {
  return space.write(
    `${name}.yaml`,
    [
      'targets:',
      `  - name: ${name}`,
      '    kind: linux-remoteproc',
      '    params:',
      '      preset: stm32mp157c-dk2',
      '      helperAbi: host',
      `      identity: { machineId: ${DOUBLE_MACHINE_ID} }`,
      '      container:',
      '        image: board-double',
      `        binds: ['${process.execPath}:/opt/farm/node:ro', '${CHECKOUT}:/opt/farm/checkout:ro']`,
      '        devices: [/dev/fuse]',
      '        capAdd: [SYS_ADMIN]',
      '',
    ].join('\n'),
  );
}

/** Keys the farm made for a board container (run files in /tmp) that processes of `pids` left. */
function orphanBoardKeys(pids: ReadonlySet<number>): string[] {
  return fs.readdirSync('/tmp').filter((name) => /^farm-board-key-\d+-[0-9a-f]{8}$/.test(name) && pids.has(Number(name.split('-')[3])));
}

test('a Linux board in a container image (board-double) killed from outside: an infrastructure error naming the target, the next test gets a fresh board, nothing left', { timeout: 240_000 }, async () => {
  await prepareContainerDouble();
  const name = `board-kill-${randomBytes(3).toString('hex')}`;
  const run = startCli(['run', '--config', boardFarmFile(name), '--suite', 'echo', '--repeat', '3', '--out', `out-${name}`], space.dir);
  const tracker = trackRun(run.child.pid as number);
  let result: CliResult;
  try {
    // Killed once the double inside is up: the farm is then logging in, setting the board up or testing.
    let id: string | undefined;
    await waitFor(
      async () => {
        const [info] = (await ofTarget(name)).filter((container) => container.State === 'running');
        const logs = info ? await docker.getContainer(info.Id).logs({ stdout: true, stderr: true }).catch(() => Buffer.alloc(0)) : Buffer.alloc(0);
        id = info?.Id;
        return /board double \(container\): .* up, sshd on/.test(logs.toString('latin1')) || run.child.exitCode !== null;
      },
      120_000,
      'the board double to be up in its container',
    );
    assert.equal(run.child.exitCode, null, `the run is still going: ${run.output()}`);
    assert.ok(id);
    // The host's sweep of dead doubles leaves the one in the container alone (its pids are the
    // container's: "farm-mp157-double-7-..." names no process of ours).
    const inContainer = () => containerFuseBridges().length;
    assert.ok(inContainer() > 0, 'the double in the container runs its FUSE bridge');
    sweepStaleDoubles();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(inContainer() > 0, "the host's sweep left the container's double alone");
    await docker.getContainer(id).kill({ signal: 'SIGKILL' });
    result = await within(run.result, 150_000, 'farm run after the board container was killed');
  } finally {
    run.child.kill('SIGKILL');
  }
  const text = result.stdout + result.stderr;
  assert.equal(result.code, 1, text);
  assert.match(text, new RegExp(`error \\[infrastructure\\] ${name} echo`), 'the killed board is an infrastructure error of the target');
  assert.match(text, /passed/);
  assert.ok((text.match(/^ok /gm) ?? []).length >= 2, `tests before and after the kill pass on a board: ${text}`);
  await waitFor(async () => (await ofTarget(name)).length === 0, 30_000, "the run's containers to be gone");
  await waitFor(async () => [...tracker.pids].every((pid) => !isAlive(pid)), 30_000, "the run's processes to end");
  tracker.stop();
  assert.deepEqual(orphanBoardKeys(tracker.pids), [], 'no key of the finished run left');
});

/** The farm's containers serving `target` (label), running or not. */
async function ofTarget(target: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${CONTAINER_LABELS.target}=${target}`] }) });
}

/** Run folders of QEMU in a container ("farm-qemu-<pid>-<hex>.d") whose owner is gone. */
function orphanRunFolders(): string[] {
  return ['/dev/shm', '/tmp'].flatMap((dir) =>
    fs.readdirSync(dir)
      .filter((name) => /^farm-qemu-\d+-[0-9a-f]{8}\.d$/.test(name) && !isAlive(Number(name.split('-')[2])))
      .map((name) => `${dir}/${name}`),
  );
}

const SIGNAL_CASES = [
  { what: 'QEMU runs in a container', kind: 'qemu' },
  { what: 'a Linux board runs in a container image', kind: 'board' },
] as const;

for (const signal of ['SIGINT', 'SIGKILL'] as const) for (const { what, kind } of SIGNAL_CASES) {
  test(`${signal} to \`farm run\` while ${what}: no container and no run folder left`, { timeout: 180_000 }, async () => {
    const name = `cont-${kind}-${signal.toLowerCase()}-${randomBytes(3).toString('hex')}`;
    let config: string;
    if (kind === 'qemu') {
      await ensureFirmwareBuilt('versal-r5');
      config = space.write(`${name}.yaml`, `targets:\n  - name: ${name}\n    kind: qemu-versal-r5\n    params: { container: qemu }\n`);
    } else {
      await prepareContainerDouble();
      config = boardFarmFile(name);
    }
    const run = startCli(['run', '--config', config, '--suite', 'echo,lifecycle', '--repeat', '5', '--out', `out-${name}`], space.dir);
    const tracker = trackRun(run.child.pid as number);
    try {
      await waitFor(async () => (await ofTarget(name)).some((info) => info.State === 'running') || run.child.exitCode !== null, 90_000, 'a container of the run');
      assert.equal(run.child.exitCode, null, `the run is still going: ${run.output()}`);
      const [info] = await ofTarget(name);
      assert.equal(info?.Labels[CONTAINER_LABELS.farmPid], String(run.child.pid), 'labelled with the farm CLI pid');
      assert.match(info?.Labels[CONTAINER_LABELS.run] ?? '', /^[0-9a-f-]{36}$/, 'labelled with the run id');
      run.child.kill(signal);
      const result = await within(run.result, 60_000, `farm run after ${signal}`);
      if (signal === 'SIGINT') assert.equal(result.code, 130, result.stdout + result.stderr);
      await waitFor(async () => (await ofTarget(name)).length === 0, 30_000, 'the run\'s containers to be gone');
    } finally {
      run.child.kill('SIGKILL');
    }
    // The workers may still be ending (their exit-time cleanup runs last): wait for them.
    await waitFor(async () => [...tracker.pids].every((pid) => !isAlive(pid)), 30_000, "the run's processes to end");
    tracker.stop();
    // A SIGKILLed farm cannot remove its run folders; the next QEMU start sweeps them.
    if (signal === 'SIGKILL') {
      const { sweepStaleRunFiles } = await import('../../base/process/run-files.js');
      sweepStaleRunFiles();
    }
    assert.deepEqual(orphanRunFolders(), [], 'no run folder of a dead owner left');
    assert.deepEqual(orphanBoardKeys(tracker.pids), [], 'no board key of the run left');
  });
}
