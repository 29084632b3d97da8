/**
 * Acceptance: the real `farm` CLI (Playwright runner, fixtures, suites, reporters) against the
 * built-in linux-process kind with the reference firmware.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { descendants, isAlive, junitCases, runCli, runFiles, startCli, trackRun, waitFor, workspace } from '../../farm/testing/cli-harness.js';

const space = workspace();
after(() => space.remove());

/** open-amp's default shm / socket names: they name no run; the runs here pass every remote its own names. */
function openAmpDefaultFiles(): string[] {
  return ['/dev/shm', '/tmp'].flatMap((dir) => readdirSync(dir).filter((name) => /^openamp[.-]/.test(name)).map((name) => join(dir, name)));
}

/** Everything in /dev/shm and /tmp now (a pid of the run may have named a finished process's files before). */
function snapshot(): Set<string> {
  return new Set(['/dev/shm', '/tmp'].flatMap((dir) => readdirSync(dir).map((name) => join(dir, name))));
}

/**
 * Files of this run (named for the CLI or a process seen under it) in /dev/shm and /tmp, plus
 * open-amp default names that appeared since `before`. Other runs' files do not count.
 */
function filesOfRun(run: ReturnType<typeof trackRun>, before: Set<string>): string[] {
  return [...runFiles([...run.pids]), ...openAmpDefaultFiles()].filter((file) => !before.has(file));
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

const FARM = `targets:
  - name: sim
    kind: sim
  - name: lp
    kind: linux-process
  - name: lp-bad
    kind: linux-process
    params:
      commands:
        echo: [./no-such-remote, --shm, '{shm}', --socket, '{socket}']
`;

test('farm run --target lp: all five suites pass on the linux-process remote; nothing is left in /dev/shm or /tmp', async () => {
  const before = snapshot();
  const config = space.write('farm.yaml', FARM);
  const cli = startCli(['run', '--config', config, '--target', 'lp', '--out', 'out-lp'], space.dir);
  const run = trackRun(cli.child.pid as number);
  const result = await cli.result;
  run.stop();
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const cases = junitCases(readFileSync(join(space.dir, 'out-lp', 'junit.xml'), 'utf8'));
  assert.equal(cases.length, 13, cases.join('\n'));
  assert.ok(cases.every((entry) => entry.startsWith('lp|') && entry.endsWith('|passed')), cases.join('\n'));
  for (const suite of ['echo', 'matrix-multiply', 'multi-endpoint', 'lifecycle', 'flood']) {
    assert.match(result.stdout, new RegExp(`^lp\\s+${suite}\\s+\\d+\\s+0\\s+0\\s+0`, 'm'));
  }
  const junit = readFileSync(join(space.dir, 'out-lp', 'junit.xml'), 'utf8');
  assert.match(junit, /remote process ended unasked \(signal SIGSEGV\): the remote faulted \(crash record/);
  assert.match(junit, /fw: rpmsg-echo on linux-process/, 'the remote console is attached');
  assert.ok(
    [...run.filesSeen].some((file) => /^\/dev\/shm\/farm-linux-process-\d+-[0-9a-f]{8}\.shm$/.test(file)),
    `the run's shm files were seen while it ran (pids ${[...run.pids].join(', ')}): ${[...run.filesSeen].join(', ')}`,
  );
  assert.deepEqual(filesOfRun(run, before), []);
});

test('a missing remote executable is an infrastructure error (<error>), not a failure', async () => {
  const config = space.write('farm.yaml', FARM);
  const result = await runCli(['run', '--config', config, '--target', 'lp-bad', '--suite', 'echo', '--out', 'out-bad'], space.dir);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  const junit = readFileSync(join(space.dir, 'out-bad', 'junit.xml'), 'utf8');
  assert.deepEqual(junitCases(junit).map((entry) => entry.split('|').at(-1)), ['error']);
  assert.match(junit, /no-such-remote is not an executable file/);
  assert.match(junit, /type="infrastructure"/);
});

test('Ctrl-C mid-run: the remote process is gone and its shm and socket files are removed', async () => {
  const before = snapshot();
  const config = space.write('farm.yaml', FARM);
  const run = startCli(['run', '--config', config, '--target', 'lp', '--repeat', '20', '--suite', 'echo', '--out', 'out-int'], space.dir);
  const pid = run.child.pid as number;
  const tracked = trackRun(pid);
  let remotes: number[] = [];
  await waitFor(
    () => {
      tracked.look();
      remotes = descendants(pid).filter((child) => /firmware\/build\/linux-process\/echo\.elf/.test(cmdline(child)));
      return remotes.length > 0 && filesOfRun(tracked, before).length > 0;
    },
    60_000,
    'a running remote process with its files',
  );
  const tree = descendants(pid);
  run.child.kill('SIGINT');
  const result = await run.result;
  assert.equal(result.code, 130, result.stdout + result.stderr);
  await waitFor(() => [...tree].every((child) => !isAlive(child)), 5000, 'every process of the run to end');
  tracked.stop();
  assert.deepEqual(filesOfRun(tracked, before), []);
  assert.ok(!existsSync(join(space.dir, 'out-int', 'junit.xml')) || junitCases(readFileSync(join(space.dir, 'out-int', 'junit.xml'), 'utf8')).length < 20);
});
