/**
 * kind qemu-linux on the farm's riscv64 Linux test image (built here, cached; the first build
 * downloads Debian's riscv64 kernel): real QEMU, real Linux, real dropbear over the forwarded
 * port. Boots four times (a TCG boot of this image takes a few seconds).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sweepStaleRunFiles } from '../../base/process/run-files.js';
import { descendants, isAlive, junitCases, runFiles, startCli, waitFor, workspace } from '../../farm/testing/cli-harness.js';
import { HostKeyMismatchError } from '../ssh/ssh-shell.js';
import type { TargetLog } from '../target.js';
import { parseQemuLinuxParams } from './qemu-linux-params.js';
import { QemuLinuxTarget } from './qemu-linux-target.js';
import { dropbearEd25519HostKey } from './testing/dropbear-key.js';
import { ensureRiscvLinuxImage, type RiscvLinuxImage } from './testing/riscv-image.js';

const BOARD_COMMANDS_SPEC = fileURLToPath(new URL('../../suites/board-commands.spec.js', import.meta.url));
let image: RiscvLinuxImage;
const space = workspace();
after(() => space.remove());

before(async () => {
  image = await ensureRiscvLinuxImage();
});

function rawParams(extra: { hostKey?: string; commands?: unknown[]; rootfs?: string } = {}): Record<string, unknown> {
  return {
    qemu: { binary: 'qemu-system-riscv64', machine: 'virt', cpus: 2, memoryMiB: 512, bios: 'default', blockDevice: 'virtio-blk-pci' },
    ...(extra.rootfs ? { rootfs: extra.rootfs } : {}),
    kernel: image.kernel,
    initrd: image.initrd,
    append: 'console=ttyS0 panic=-1',
    bootTimeoutMs: 120_000,
    ssh: { user: 'root', privateKey: image.clientKey, hostKey: extra.hostKey ?? image.hostKey },
    remoteConsole: { device: 'virtconsole', prompt: 'msh />' },
    commands: extra.commands ?? [],
  };
}

function captureLog(): TargetLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (line) => lines.push(line), console: () => {} };
}

/** QEMU processes started by this test process (its children), by pid. */
function ourQemus(): number[] {
  return descendants(process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('qemu-system');
    } catch {
      return false;
    }
  });
}

test('qemu-linux: boots the image, runs commands over SSH and on the remote console with their verdicts, reports the suites not applicable, leaves nothing', { timeout: 240_000 }, async () => {
  const commands = [
    { name: 'arch', run: 'uname -m', expect: [{ pattern: '^riscv64$' }] },
    { name: 'bad count', run: 'echo "Test Results: Error count = 2"', expect: [{ pattern: 'Error count = (\\d+)', equals: 0 }] },
    { name: 'exit status', run: 'false' },
    { name: 'remote os', run: 'load_fw-shared rtos 1', expect: ['successfully started the processor'] },
    { name: 'msh', on: 'remote-console', run: 'echo sum=$((40+2))', expect: ['^sum=42'] },
    { name: 'never', on: 'remote-console', run: 'true', timeoutMs: 1500, expect: ['this never comes'] },
    // The rootfs disk: there, with the file's bytes, and written only in QEMU's snapshot.
    { name: 'disk', run: 'insmod /lib/modules/$(uname -r)/virtio_blk.ko; sleep 1; head -c 15 /dev/vda; echo; echo overwritten > /dev/vda; sync', expect: ['^farm-rootfs-ok$'] },
  ];
  const disk = space.write('rootfs.img', 'farm-rootfs-ok\n'.padEnd(64 * 1024, '\0'));
  const params = parseQemuLinuxParams(rawParams({ commands, rootfs: disk }), 'targets[0].params');
  const log = captureLog();
  const target = new QemuLinuxTarget('rv-test', 'qemu-linux', params, { configDir: space.dir, firmware: {}, workDir: space.dir });
  try {
    await target.setup(log);
    assert.ok(log.lines.some((line) => /SSH session with root@127\.0\.0\.1:\d+ \(host key farm\.yaml/.test(line)), log.lines.join('\n'));
    assert.match(target.capabilities.notApplicableBecause ?? '', /no remoteproc/);
    assert.deepEqual(target.capabilities.suites, []);
    assert.throws(() => target.host, /has no OpenAMP host/);

    const arch = await target.boardCommand('arch');
    assert.deepEqual(arch.failures, []);
    assert.equal(arch.exitCode, 0);
    const bad = await target.boardCommand('bad count');
    assert.deepEqual(bad.failures, ['"Test Results: Error count = 2": got "2", expected "0"']);
    assert.deepEqual((await target.boardCommand('exit status')).failures, ['exit status 1, expected 0']);
    assert.deepEqual((await target.boardCommand('remote os')).failures, []);
    const msh = await target.boardCommand('msh');
    assert.deepEqual(msh.failures, []);
    assert.match(msh.output, /sum=42/);
    await assert.rejects(target.boardCommand('never'), /did not print \/this never comes\/ within 1500 ms/);
    assert.deepEqual((await target.boardCommand('disk')).failures, []);
    assert.match(target.takeConsole(), /farm-image: dropbear listening/);
    const qemus = ourQemus();
    assert.equal(qemus.length, 1);
    // QEMU killed from outside: the next command fails at once with the lost connection, and the log says why.
    process.kill(qemus[0] as number, 'SIGKILL');
    await waitFor(() => log.lines.some((line) => /QEMU exited while in use \(SIGKILL\)/.test(line)), 10_000, 'the target to notice QEMU\'s end');
    await assert.rejects(target.boardCommand('arch'), /SSH connection to 127\.0\.0\.1:\d+ (closed|failed)|channel closed/);
  } finally {
    await target.teardown();
  }
  assert.deepEqual(ourQemus(), [], 'QEMU is gone');
  assert.deepEqual(runFiles([process.pid], `farm-qemu-linux-${process.pid}-`), [], 'no run file left');
  assert.equal(readFileSync(disk, 'utf8').slice(0, 15), 'farm-rootfs-ok\n', 'the user\'s rootfs image is never written');
});

test('qemu-linux: a guest presenting another host key than the pinned one is refused at once, and nothing is left', { timeout: 120_000 }, async () => {
  const params = parseQemuLinuxParams(rawParams({ hostKey: dropbearEd25519HostKey().publicLine.split(' ').slice(0, 2).join(' ') }), 'targets[0].params');
  const target = new QemuLinuxTarget('rv-wrong-key', 'qemu-linux', params, { configDir: space.dir, firmware: {}, workDir: space.dir });
  const started = Date.now();
  try {
    await assert.rejects(target.setup(captureLog()), (error: unknown) => error instanceof HostKeyMismatchError && /host key mismatch/.test(error.message));
    assert.ok(Date.now() - started < 100_000, 'refused without waiting for the boot deadline');
  } finally {
    await target.teardown();
  }
  assert.deepEqual(ourQemus(), []);
  assert.deepEqual(runFiles([process.pid], `farm-qemu-linux-${process.pid}-`), []);
});

/** A farm file whose second command runs long: the run is interrupted in it. */
function slowFarm(name: string): string {
  const params = rawParams({ commands: [{ name: 'arch', run: 'uname -m', expect: ['riscv64'] }, { name: 'long', run: 'sleep 100', timeoutMs: 200_000 }] });
  return space.write(
    `${name}.yaml`,
    JSON.stringify({ suites: [{ name: 'board-commands', path: BOARD_COMMANDS_SPEC, firmware: 'echo' }], targets: [{ name, kind: 'qemu-linux', params }] }),
  );
}

async function runUntilMidCommand(name: string) {
  const out = `out-${name}`;
  const junit = join(space.dir, out, 'junit.xml');
  const run = startCli(['run', '--config', slowFarm(name), '--suite', 'board-commands', '--out', out], space.dir);
  const pid = run.child.pid as number;
  const seen = new Set<number>();
  const qemus = new Set<number>();
  await waitFor(
    () => {
      for (const child of descendants(pid)) {
        seen.add(child);
        try {
          if (readFileSync(`/proc/${child}/comm`, 'utf8').startsWith('qemu-system')) qemus.add(child);
        } catch {
          // gone meanwhile
        }
      }
      return existsSync(junit) && junitCases(readFileSync(junit, 'utf8')).length >= 1;
    },
    150_000,
    `a first board command to finish: ${run.output()}`,
  );
  assert.equal(qemus.size, 1, 'one QEMU under the run');
  return { run, pid, seen, qemus };
}

test('qemu-linux: Ctrl-C in farm run during a board command: exit 130, no QEMU, no run file', { timeout: 240_000 }, async () => {
  const { run, pid, seen, qemus } = await runUntilMidCommand(`rvint-${randomBytes(3).toString('hex')}`);
  run.child.kill('SIGINT');
  const result = await run.result;
  assert.equal(result.code, 130, result.stdout + result.stderr);
  await waitFor(() => [...seen, ...qemus].every((child) => !isAlive(child)), 10_000, 'every process of the run to end');
  assert.deepEqual(runFiles([...seen, pid]), [], 'no file of the run in /dev/shm or /tmp');
});

test('qemu-linux: SIGKILL of farm run: QEMU dies with it, the next start sweeps its files', { timeout: 240_000 }, async () => {
  const { run, pid, seen, qemus } = await runUntilMidCommand(`rvkill-${randomBytes(3).toString('hex')}`);
  run.child.kill('SIGKILL');
  try {
    await waitFor(() => [...seen, ...qemus].every((child) => !isAlive(child)), 15_000, 'the runner, its worker and QEMU to end');
    sweepStaleRunFiles();
    assert.deepEqual(runFiles([...seen, pid]), [], 'nothing of the killed run is left after the next start\'s sweep');
  } finally {
    for (const child of [...seen, ...qemus]) {
      try {
        process.kill(child, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await run.result;
  }
});

test('qemu-linux: farm up boots the system, says where its SSH is, and Ctrl-C takes it down without a trace', { timeout: 180_000 }, async () => {
  const name = `rvup-${randomBytes(3).toString('hex')}`;
  const config = space.write(`${name}.yaml`, JSON.stringify({ targets: [{ name, kind: 'qemu-linux', params: rawParams() }] }));
  const run = startCli(['up', name, '--config', config], space.dir);
  const pid = run.child.pid as number;
  const seen = new Set<number>();
  try {
    await waitFor(
      () => {
        for (const child of descendants(pid)) seen.add(child);
        return run.output().includes('Ctrl-C to stop');
      },
      150_000,
      `farm up to bring the system up: ${run.output()}`,
    );
    assert.match(run.output(), /up \(.*linux\.ssh root@127\.0\.0\.1:\d+ \(guest port 22\).*\); no remote of the farm's to start \(the guest has no remoteproc/);
    assert.match(run.output(), /\[rvup-\w+ uart0\] farm-image: dropbear listening on port 22/);
    run.child.kill('SIGINT');
    const result = await run.result;
    assert.equal(result.code, 0, result.stdout + result.stderr);
    await waitFor(() => [...seen].every((child) => !isAlive(child)), 10_000, 'every process of farm up to end');
    assert.deepEqual(runFiles([...seen, pid]), []);
  } finally {
    run.child.kill('SIGKILL');
  }
});
