/** Local per-target locks: the lock file itself, and two real `farm run` processes on one target. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_DIR_ENV, processStartTicks, tryLock, type HeldLock, type LockHolder } from './target-lock.js';
import { isAlive, junitCases, runCli, startCli, waitFor, workspace } from './testing/cli-harness.js';

const space = workspace();
const lockDir = mkdtempSync(join(tmpdir(), 'farm-locks-test-'));
// The CLI processes started below inherit it: their locks live here, not in the user's dir.
process.env[LOCK_DIR_ENV] = lockDir;
after(() => {
  space.remove();
  rmSync(lockDir, { recursive: true, force: true });
});

const isHeld = (result: HeldLock | LockHolder): result is HeldLock => 'release' in result;

test('a lock is taken once; its holder is named; a released lock can be taken again', () => {
  const dir = mkdtempSync(join(lockDir, 'unit-'));
  const first = tryLock({ target: 'board', farmFile: '/x/farm.yaml' }, dir);
  assert.ok(isHeld(first));
  const second = tryLock({ target: 'board', farmFile: '/x/farm.yaml' }, dir);
  assert.ok(!isHeld(second));
  assert.equal(second.pid, process.pid);
  assert.equal(second.target, 'board');
  // Another farm file's "board" is another target.
  const other = tryLock({ target: 'board', farmFile: '/y/farm.yaml' }, dir);
  assert.ok(isHeld(other));
  first.release();
  const third = tryLock({ target: 'board', farmFile: '/x/farm.yaml' }, dir);
  assert.ok(isHeld(third));
  third.release();
  other.release();
  assert.deepEqual(readdirSync(dir), []);
});

test('a lock of a dead process, or of a reused pid, is stale and broken', () => {
  const dir = mkdtempSync(join(lockDir, 'stale-'));
  const taken = tryLock({ target: 'b', farmFile: null }, dir);
  assert.ok(isHeld(taken));
  const [file] = readdirSync(dir);
  const content = JSON.parse(readFileSync(join(dir, file as string), 'utf8')) as LockHolder;
  // A process that has exited.
  const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  const deadPid = Number(gone.stdout.trim());
  assert.equal(processStartTicks(deadPid), undefined);
  writeFileSync(join(dir, file as string), JSON.stringify({ ...content, pid: deadPid }));
  const afterDeath = tryLock({ target: 'b', farmFile: null }, dir);
  assert.ok(isHeld(afterDeath), 'dead holder: lock broken');
  // Our own pid with another start time: the pid was reused by an unrelated process.
  writeFileSync(join(dir, file as string), JSON.stringify({ ...content, startTicks: '1' }));
  const afterReuse = tryLock({ target: 'b', farmFile: null }, dir);
  assert.ok(isHeld(afterReuse), 'reused pid: lock broken');
  afterReuse.release();
});

function slowFarm(name: string): string {
  return space.write(`${name}.yaml`, `targets:\n  - name: shared\n    kind: fake\n    params: { delayMs: 10 }\n`);
}

test('two farm run on one target: the second is refused with --no-wait, or waits and runs after the first', async () => {
  const config = slowFarm('two');
  const first = startCli(['run', '--config', config, '--suite', 'matrix-multiply', '--repeat', '4', '--out', 'out-first'], space.dir);
  const firstPid = first.child.pid as number;
  await waitFor(() => readdirSync(lockDir).some((name) => name.startsWith('shared.')), 30_000, 'the first run to hold the lock');

  const refused = await runCli(['run', '--config', config, '--suite', 'echo', '--no-wait', '--out', 'out-refused'], space.dir);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, new RegExp(`TargetBusyError.*target shared is busy: held by pid ${firstPid} \\(farm run --config .*two\\.yaml.*\\), since .*; not waiting \\(--no-wait\\)`));
  assert.ok(!existsSync(join(space.dir, 'out-refused', 'junit.xml')), 'the refused run ran nothing');

  const waiting = startCli(['run', '--config', config, '--suite', 'echo', '--out', 'out-waiting'], space.dir);
  let stderr = '';
  // What the first run had finished when the second said the target was free.
  let firstDoneWhenFree: number | undefined;
  waiting.child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (firstDoneWhenFree === undefined && /target shared is free now/.test(stderr)) {
      firstDoneWhenFree = junitCases(readFileSync(join(space.dir, 'out-first', 'junit.xml'), 'utf8')).length;
    }
  });
  await waitFor(() => /target shared is busy: held by pid \d+ .*; waiting/.test(stderr), 30_000, 'the second run to say it waits');
  assert.ok(isAlive(firstPid), 'the first run is still running while the second waits');
  const firstResult = await first.result;
  assert.equal(firstResult.code, 0, firstResult.stdout + firstResult.stderr);
  const waitingResult = await waiting.result;
  assert.equal(waitingResult.code, 0, waitingResult.stdout + waitingResult.stderr);
  assert.match(waitingResult.stderr, /target shared is free now \(waited \d+ s\)/);
  // The second ran only after the first had finished all its tests.
  assert.equal(firstDoneWhenFree, 4);
  const cases = junitCases(readFileSync(join(space.dir, 'out-waiting', 'junit.xml'), 'utf8'));
  assert.ok(cases.length >= 1 && cases.every((entry) => entry.endsWith('|passed')), cases.join('\n'));
  assert.deepEqual(readdirSync(lockDir).filter((name) => name.startsWith('shared.')), [], 'both released their lock');
});

test('a SIGKILLed run never leaves its target locked', async () => {
  const config = slowFarm('killed');
  const run = startCli(['run', '--config', config, '--suite', 'matrix-multiply', '--repeat', '50', '--out', 'out-killed'], space.dir);
  const pid = run.child.pid as number;
  await waitFor(() => readdirSync(lockDir).some((name) => name.startsWith('shared.')), 30_000, 'the run to hold the lock');
  run.child.kill('SIGKILL');
  await waitFor(() => !isAlive(pid), 5000, 'the run to die');
  const next = await runCli(['run', '--config', config, '--suite', 'echo', '--no-wait', '--out', 'out-next'], space.dir);
  assert.equal(next.code, 0, next.stdout + next.stderr);
});
