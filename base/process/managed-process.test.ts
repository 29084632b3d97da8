import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InfrastructureError } from '../errors.js';
import { isAlive, waitFor } from '../../farm/testing/cli-harness.js';
import { ManagedProcess, MissingToolError, describeExit, findExecutable } from './managed-process.js';

const PARENT = fileURLToPath(new URL('./managed-process-parent.test-helper.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'managed-process-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Output of `child` until `pattern` shows up. */
function outputUntil(chunks: string[], pattern: RegExp, what: string): Promise<void> {
  return waitFor(() => pattern.test(chunks.join('')), 5000, what);
}

test('ManagedProcess runs a program, streams stdout and stderr, and reports its exit', async () => {
  const chunks: { stream: string; text: string }[] = [];
  const child = ManagedProcess.spawn({
    name: 'node script',
    file: process.execPath,
    args: ['-e', "process.stdout.write('to stdout'); process.stderr.write('to stderr ' + process.env.FARM_TEST_VALUE); process.exitCode = 3"],
    env: { FARM_TEST_VALUE: 'from env' },
    onOutput: (stream, text) => chunks.push({ stream, text }),
  });
  assert.equal(child.running, true);
  assert.ok(child.pid > 0);
  const exit = await child.exited;
  assert.deepEqual(exit, { code: 3, signal: undefined });
  assert.equal(child.running, false);
  assert.deepEqual(child.exit, exit);
  assert.equal(describeExit(exit), 'exit code 3');
  const text = (stream: string): string => chunks.filter((c) => c.stream === stream).map((c) => c.text).join('');
  assert.equal(text('stdout'), 'to stdout');
  assert.equal(text('stderr'), 'to stderr from env');
  assert.deepEqual(await child.stop(), exit, 'stop after the end returns how it ended');
});

test('a missing program is a MissingToolError naming the Debian package', () => {
  assert.throws(
    () => ManagedProcess.spawn({ name: 'emulator', file: 'farm-no-such-tool', args: [], debianPackage: 'farm-tools' }),
    (error: unknown) => {
      assert.ok(error instanceof MissingToolError && error instanceof InfrastructureError);
      assert.equal(error.tool, 'farm-no-such-tool');
      assert.match(error.message, /farm-no-such-tool is not installed \(Debian package farm-tools; `farm doctor --fix` installs it\)/);
      return true;
    },
  );
  assert.equal(findExecutable('farm-no-such-tool'), undefined);
  assert.equal(findExecutable('sleep'), findExecutable('/usr/bin/sleep') ?? findExecutable('/bin/sleep'));
});

test('stop: SIGTERM first; a child that ignores it is SIGKILLed after the grace period', async () => {
  const polite = ManagedProcess.spawn({ name: 'polite', file: 'sleep', args: ['60'] });
  assert.equal((await polite.stop({ graceMs: 5000 })).signal, 'SIGTERM');

  const chunks: string[] = [];
  const stubborn = ManagedProcess.spawn({
    name: 'stubborn',
    file: process.execPath,
    args: ['-e', "process.on('SIGTERM', () => console.log('ignored SIGTERM')); console.log('ready'); setInterval(() => {}, 1000)"],
    onOutput: (_stream, text) => chunks.push(text),
  });
  await outputUntil(chunks, /ready/, 'the child to install its handler');
  const started = performance.now();
  const exit = await stubborn.stop({ graceMs: 300 });
  assert.equal(exit.signal, 'SIGKILL');
  assert.equal(describeExit(exit), 'signal SIGKILL');
  assert.ok(performance.now() - started >= 290, 'waited for the grace period');
  await outputUntil(chunks, /ignored SIGTERM/, 'the SIGTERM to arrive first');
  assert.equal(isAlive(stubborn.pid), false);
});

interface ParentRun {
  readonly parent: ReturnType<typeof spawn>;
  readonly child: number;
  readonly marker: string;
  readonly ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startParent(mode: 'exit' | 'wait' | 'handle', dieWithParent: boolean): Promise<ParentRun> {
  const marker = join(dir, `marker-${mode}-${Math.random().toString(16).slice(2)}`);
  const parent = spawn(process.execPath, [PARENT, mode, marker, dieWithParent ? 'yes' : 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => parent.once('exit', (code, signal) => resolve({ code, signal })));
  let out = '';
  parent.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await waitFor(() => out.includes('\n') || parent.exitCode !== null, 10_000, 'the parent to start its child');
  const child = (JSON.parse(out.split('\n')[0]!) as { child: number }).child;
  return { parent, child, marker, ended };
}

function markerLines(marker: string): string[] {
  return existsSync(marker) ? readFileSync(marker, 'utf8').trim().split('\n') : [];
}

test('exit hooks: process.exit kills the children and runs registered actions once; released ones do not run', async () => {
  const run = await startParent('exit', true);
  assert.deepEqual(await run.ended, { code: 0, signal: null });
  await waitFor(() => !isAlive(run.child), 5000, 'the child to be killed');
  assert.deepEqual(markerLines(run.marker), ['hook ran']);
});

test('exit hooks: a terminating signal (SIGTERM, SIGINT) kills the children, runs the actions and the parent still dies of the signal', async () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const run = await startParent('wait', true);
    assert.equal(isAlive(run.child), true);
    run.parent.kill(signal);
    assert.deepEqual(await run.ended, { code: null, signal });
    await waitFor(() => !isAlive(run.child), 5000, `the child to be killed after ${signal}`);
    assert.deepEqual(markerLines(run.marker), ['hook ran']);
  }
});

test('exit hooks: a signal the process handles itself (a CLI stopping in order) leaves the children to its teardown; they go at its exit', async () => {
  const run = await startParent('handle', true);
  run.parent.kill('SIGINT');
  assert.deepEqual(await run.ended, { code: 0, signal: null });
  assert.deepEqual(markerLines(run.marker), ['child running in the handler', 'hook ran']);
  await waitFor(() => !isAlive(run.child), 5000, 'the child to be killed at exit');
});

test('a child has its own process group and session: a Ctrl-C to the farm\'s group does not reach it', async () => {
  const child = ManagedProcess.spawn({ name: 'sleeper', file: 'sleep', args: ['60'] });
  try {
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    const [pgrp, session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(2, 4).map(Number);
    assert.equal(pgrp, child.pid, 'leads its own process group');
    assert.equal(session, child.pid, 'leads its own session (no controlling terminal)');
  } finally {
    await child.stop({ graceMs: 200 });
  }
});

test('--pdeathsig: the child dies when its parent is SIGKILLed (no hook can run); without it the child would survive', async () => {
  const guarded = await startParent('wait', true);
  guarded.parent.kill('SIGKILL');
  assert.equal((await guarded.ended).signal, 'SIGKILL');
  await waitFor(() => !isAlive(guarded.child), 5000, 'the kernel to kill the orphan');
  assert.deepEqual(markerLines(guarded.marker), [], 'no exit hook ran: the kernel did it');

  const unguarded = await startParent('wait', false);
  try {
    unguarded.parent.kill('SIGKILL');
    await unguarded.ended;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(isAlive(unguarded.child), true, 'an unguarded child outlives a SIGKILLed parent');
  } finally {
    try {
      process.kill(unguarded.child, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
