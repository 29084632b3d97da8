/**
 * Acceptance: Ctrl-C in a real `farm run` on a QEMU target. The real CLI, Playwright runner,
 * fixtures and QemuTarget; SIGINT once a first test has finished. The run must exit 130, keep
 * the JUnit file of what finished, and leave no QEMU process and no /dev/shm or /tmp file.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CLI, descendants, isAlive, junitCases, runFiles, startCli, waitFor, workspace } from '../../farm/testing/cli-harness.js';
import { ensureFirmwareBuilt } from '../../firmware/build.js';

const space = workspace();
after(() => space.remove());

/** Name of the process (/proc/<pid>/comm), or undefined once it is gone. */
function command(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

interface InterruptedRun {
  readonly name: string;
  readonly cases: string[];
}

/**
 * Runs `farm run` on one qemu-riscv64-virt target, sends SIGINT once `ready` says so (looked at
 * every 5 ms with the processes seen so far), and checks what every interrupted run must leave:
 * exit code 130, a JUnit file, no process and no /dev/shm or /tmp file of the run.
 */
async function interruptRun(ready: (state: { qemus: number; ramFiles: number; junitCases: number }) => boolean, what: string): Promise<InterruptedRun> {
  await ensureFirmwareBuilt('riscv64-virt');
  // A unique target name: the fixture's work dir is /tmp/farm-<name>-XXXXXX.
  const name = `ctrlc-${randomBytes(3).toString('hex')}`;
  const config = space.write(`${name}.yaml`, `targets:\n  - name: ${name}\n    kind: qemu-riscv64-virt\n`);
  const out = `out-${name}`;
  const junit = join(space.dir, out, 'junit.xml');
  const run = startCli(['run', '--config', config, '--suite', 'echo', '--suite', 'matrix-multiply', '--repeat', '5', '--out', out], space.dir);
  const pid = run.child.pid as number;
  const seen = new Set<number>();
  const qemus = new Set<number>();
  // Every run file seen while the run went on: between two tests the target relaunches QEMU with
  // a new RAM file, so the moment the SIGINT goes out may fall where none exists.
  const filesDuring = new Set<string>();
  const finished = (): number => (existsSync(junit) ? junitCases(readFileSync(junit, 'utf8')).length : 0);
  const deadline = Date.now() + 60_000;
  for (;;) {
    for (const child of descendants(pid)) {
      seen.add(child);
      if (command(child)?.startsWith('qemu-system')) qemus.add(child);
    }
    const files = runFiles([...seen], `farm-${name}-`);
    for (const file of files) filesDuring.add(file);
    const ramFiles = files.filter((file) => file.startsWith('/dev/shm/')).length;
    if (ready({ qemus: qemus.size, ramFiles, junitCases: finished() })) break;
    if (Date.now() > deadline || run.child.exitCode !== null) {
      run.child.kill('SIGKILL');
      const result = await run.result;
      assert.fail(`the run never reached "${what}": ${result.stdout}${result.stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(qemus.size >= 1, `a qemu-system process runs under the farm (saw ${[...seen].map((p) => `${p}:${command(p)}`).join(', ')})`);
  assert.ok([...filesDuring].some((file) => file.startsWith('/dev/shm/')), `the run had its RAM file in /dev/shm: ${[...filesDuring].join(', ')}`);

  run.child.kill('SIGINT');
  const result = await run.result;
  assert.equal(result.code, 130, result.stdout + result.stderr);
  assert.ok(existsSync(junit), 'a JUnit file is written');
  const cases = junitCases(readFileSync(junit, 'utf8'));
  assert.ok(cases.length < 10, `partial report: ${cases.join(', ')}`);
  assert.ok(
    cases.every((entry) => entry.startsWith(`${name}|`)),
    cases.join('\n'),
  );
  await waitFor(() => [...seen].every((child) => !isAlive(child)), 5000, 'every process of the run to end');
  for (const qemu of qemus) assert.equal(isAlive(qemu), false, `qemu ${qemu} is gone`);
  assert.deepEqual(runFiles([...seen, pid], `farm-${name}-`), [], 'no file of the run left in /dev/shm or /tmp');
  return { name, cases };
}

test('Ctrl-C mid-run on a QEMU target: exit 130, partial JUnit, no QEMU process or run file left', { timeout: 120_000 }, async () => {
  const { cases } = await interruptRun((state) => state.junitCases >= 1, 'a first finished test');
  assert.ok(cases.some((entry) => entry.endsWith('|passed')), `finished tests are reported: ${cases.join('\n')}`);
});

test('Ctrl-C while the QEMU target is being set up: exit 130, no QEMU process, RAM file or work dir left', { timeout: 120_000 }, async () => {
  await interruptRun((state) => state.qemus >= 1 && state.ramFiles >= 1, 'QEMU spawned with its RAM file');
});

test('Ctrl-C in the terminal of `farm up` (SIGINT to its whole process group): an orderly stop, no crash, nothing left', { timeout: 60_000 }, async () => {
  await ensureFirmwareBuilt('riscv64-virt');
  const name = `up-${randomBytes(3).toString('hex')}`;
  const config = space.write(`${name}.yaml`, `targets:\n  - name: ${name}\n    kind: qemu-riscv64-virt\n`);
  // Its own process group, as a shell gives a foreground job: the terminal's Ctrl-C goes to the group.
  const child = spawn(process.execPath, [CLI, 'up', name, '--config', config], { cwd: space.dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const pid = child.pid as number;
  const seen = new Set<number>();
  try {
    await waitFor(
      () => {
        for (const p of descendants(pid)) seen.add(p);
        return output.includes('Ctrl-C to stop') && output.includes('NS create');
      },
      30_000,
      `the remote to run: ${output}`,
    );
    const qemus = [...seen].filter((p) => command(p)?.startsWith('qemu-system'));
    assert.equal(qemus.length, 1, `one QEMU under farm up (saw ${[...seen].map((p) => `${p}:${command(p)}`).join(', ')})`);
    assert.ok(runFiles([pid]).some((file) => file.startsWith('/dev/shm/')), 'QEMU has its RAM file in /dev/shm');
    process.kill(-pid, 'SIGINT');
    const code = await exited;
    assert.equal(code, 0, output);
    assert.doesNotMatch(output, /-> crashed/, 'no crash is reported');
    assert.doesNotMatch(output, /terminating on signal/, 'QEMU did not get the Ctrl-C itself');
    assert.match(output, /state running -> offline/);
    assert.match(output, /\] down/);
    await waitFor(() => [...seen].every((p) => !isAlive(p)), 5000, 'every process of farm up to end');
    assert.deepEqual(runFiles([pid]), [], 'no file of farm up left in /dev/shm or /tmp');
  } finally {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
