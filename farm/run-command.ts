/**
 * `farm run`: writes the run plan and launches Playwright's test runner as a child process in
 * its own process group. SIGINT / SIGTERM / SIGHUP are forwarded to the runner, which stops its workers
 * (their fixtures tear the targets down) and lets the reporters finish; a second signal, or a
 * runner that does not stop within the grace period, gets the whole group killed. Nothing of
 * the group outlives the command.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RUN_PLAN_ENV, writeRunPlan, type RunPlan } from './run-plan.js';
import type { SuiteDefinition } from './config.js';
import { writeSuiteEntries } from './suite-entries.js';
import { reportPaths } from '../reports/paths.js';
import { findExecutable } from '../base/process/managed-process.js';
import type { HistoryStore } from '../reports/history/history-store.js';
import { prepareHistory, type HistoryRunFile } from '../reports/history/run-history.js';
import { openHistoryStore } from './history-store-open.js';
import type { PerfOptions } from '../reports/history/perf.js';

/** How a run uses the run history (farm history, farm serve). */
export interface RunHistoryOptions {
  /** The store (a SQLite file or the farm database's URL); null: history off. */
  readonly location: string | null;
  /** The farm job this run is (the farm agent runs jobs through here). */
  readonly farmJob?: number;
  readonly firmwareRev: string | null;
  readonly failOnRegression: boolean;
  readonly perf: PerfOptions;
}
import { FARM_PID_ENV, RUN_ID_ENV } from '../containers/labels.js';
import { exitCodeForSignal, onStopSignals } from '../base/process/stop-signals.js';

const GRACE_MS = 30_000;

/**
 * Whether Playwright's module loader must compile the run's spec files: only when one is not
 * plain JavaScript (a lab's TypeScript suite). Otherwise the runner and its workers go without
 * it (PW_DISABLE_TS_ESM): the loader's hooks run on a thread of their own and pass every module
 * of the farm through Babel, which costs each process a few hundred milliseconds of start-up.
 */
export function suitesNeedTransform(suites: readonly Pick<SuiteDefinition, 'files'>[]): boolean {
  return suites.some((suite) => suite.files.some((file) => !/\.[cm]?js$/.test(file)));
}

export interface RunResult {
  readonly exitCode: number;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Opens the history and records the run as started; a history that cannot be used only costs the history. */
async function startHistory(plan: RunPlan, options: RunHistoryOptions | undefined): Promise<{ store: HistoryStore; plan: RunPlan } | undefined> {
  if (!options?.location) return undefined;
  let store: HistoryStore | undefined;
  try {
    store = await openHistoryStore(options.location, { who: 'run' });
    const history = await prepareHistory(
      store,
      { targets: plan.targets.map((target) => target.name), outDir: plan.outDir, firmwareRev: options.firmwareRev, failOnRegression: options.failOnRegression, perf: options.perf, ...(options.farmJob !== undefined ? { farmJob: options.farmJob } : {}) },
      randomUUID(),
    );
    return { store, plan: { ...plan, history } };
  } catch (error) {
    await store?.close().catch(() => undefined);
    process.stderr.write(`farm: warning: run history not recorded: ${error instanceof Error ? error.message : String(error)}\n`);
    return undefined;
  }
}

/** Stores what the history reporter wrote; returns the number of performance regressions. */
async function finishHistory(store: HistoryStore, runId: string, file: string): Promise<number> {
  let run: HistoryRunFile | undefined;
  try {
    if (existsSync(file)) run = JSON.parse(readFileSync(file, 'utf8')) as HistoryRunFile;
  } catch {
    run = undefined;
  }
  const regressions = run?.verdicts.filter((verdict) => verdict.status === 'regression').length ?? 0;
  const status = !run || run.status === 'running' ? 'interrupted' : run.status;
  try {
    await store.finishRun(runId, { status, durationMs: run?.durationMs ?? null, regressions }, run?.results ?? [], run?.metrics ?? []);
  } catch (error) {
    process.stderr.write(`farm: warning: run history not recorded: ${error instanceof Error ? error.message : String(error)}\n`);
  } finally {
    await store.close().catch(() => undefined);
  }
  return regressions;
}

export interface RunPlanOptions {
  /** Stops the run as a first Ctrl-C does (the farm agent cancelling a job). */
  readonly signal?: AbortSignal;
  /** The runner's stdout and stderr go here instead of ours (the farm agent streams them). */
  readonly onOutput?: (text: string) => void;
  /** Forward this process's stop signals (SIGINT / SIGTERM / SIGHUP) to the run (default true; the agent handles its own). */
  readonly handleSignals?: boolean;
}

export async function runPlan(basePlan: RunPlan, historyOptions?: RunHistoryOptions, options: RunPlanOptions = {}): Promise<RunResult> {
  const paths = reportPaths(basePlan.outDir);
  mkdirSync(basePlan.outDir, { recursive: true });
  // Reports of an earlier run in the same out dir must not pass for this one's.
  for (const stale of [paths.junit, paths.metrics, paths.blob, paths.history, paths.liveEvents]) rmSync(stale, { recursive: true, force: true });
  const history = await startHistory(basePlan, historyOptions);
  const plan = history?.plan ?? basePlan;
  writeRunPlan(paths.plan, plan);
  writeSuiteEntries(plan.suitesDir, plan.suites);

  const require = createRequire(import.meta.url);
  const playwrightCli = require.resolve('@playwright/test/cli');
  const configFile = fileURLToPath(new URL('./playwright.config.js', import.meta.url));
  // Under setpriv --pdeathsig (when installed): the runner sits in its own session, out of reach
  // of the terminal's signals, so a SIGKILLed farm would leave it running the whole run; killed
  // with us, its workers see their IPC channel close and tear their targets down.
  const runner = [process.execPath, playwrightCli, 'test', '--config', configFile];
  const setpriv = findExecutable('setpriv');
  const command = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', ...runner] : runner;
  const child = spawn(command[0] as string, command.slice(1), {
    // No stdin: the runner needs none, and Playwright's HTML reporter prints "To open last HTML
    // report run: npx playwright show-report" only on a TTY stdin (the farm prints the paths).
    stdio: ['ignore', options.onOutput ? 'pipe' : 'inherit', options.onOutput ? 'pipe' : 'inherit'],
    detached: true,
    // The run id and the CLI's pid label the containers the workers start (containers/labels.ts).
    env: {
      ...process.env,
      [RUN_PLAN_ENV]: paths.plan,
      [RUN_ID_ENV]: randomUUID(),
      [FARM_PID_ENV]: String(process.pid),
      FORCE_COLOR: process.env.FORCE_COLOR ?? '0',
      ...(suitesNeedTransform(plan.suites) ? {} : { PW_DISABLE_TS_ESM: '1' }),
      // Playwright's compile cache is shared by every run on the machine unless told otherwise,
      // and its writes race: a run that rewrote a file's cache entry (a source map deleted, then
      // written again) while another run's worker mapped a test's location gave that worker other
      // test ids than its runner's ("Test not found in the worker process" for a whole file, seen
      // under CI load). Each out dir (one run at a time) keeps its own.
      PLAYWRIGHT_TRANSFORM_CACHE_DIR: process.env.PLAYWRIGHT_TRANSFORM_CACHE_DIR ?? resolve(plan.outDir, '.playwright-transform-cache'),
    },
  });
  // Needed once the runner has ended; loaded (with the JUnit library) while it runs, not before it starts.
  const finalize = import('../reports/finalize.js');
  finalize.catch(() => undefined); // Awaited (and its failure reported) below, unless the runner never started.
  const onOutput = options.onOutput;
  if (onOutput) {
    child.stdout?.on('data', (chunk: Buffer) => onOutput(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => onOutput(chunk.toString()));
  }
  const pid = child.pid;
  if (pid === undefined) {
    return await new Promise((resolve) => child.once('error', (error) => {
      process.stderr.write(`farm: cannot start the Playwright runner: ${error.message}\n`);
      resolve({ exitCode: 1 });
    }));
  }

  let signalled: NodeJS.Signals | undefined;
  const handleSignals = options.handleSignals ?? true;
  let forceTimer: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      process.stderr.write(`farm: second ${signal}, killing the run\n`);
      killGroup(pid, 'SIGKILL');
      return;
    }
    signalled = signal;
    if (handleSignals) process.stderr.write(`farm: ${signal}: stopping the run (targets are torn down; again to kill)\n`);
    child.kill('SIGINT');
    forceTimer = setTimeout(() => {
      process.stderr.write(`farm: run did not stop within ${GRACE_MS / 1000}s, killing it\n`);
      killGroup(pid, 'SIGKILL');
    }, GRACE_MS);
    forceTimer.unref();
  };
  const stopListening = handleSignals ? onStopSignals(onSignal) : () => undefined;
  const onAbort = () => onSignal('SIGINT');
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal })),
  );
  // Whatever is left in the runner's group (a worker, an emulator) goes with it.
  killGroup(pid, 'SIGKILL');
  if (onOutput) {
    // The last lines may still be in the pipes: read them (bounded: the group is gone now).
    await Promise.race([
      Promise.all([child.stdout, child.stderr].map((stream) => (stream && !stream.readableEnded ? new Promise((resolve) => stream.once('close', resolve)) : undefined))),
      new Promise((resolve) => setTimeout(resolve, 2000).unref()),
    ]);
  }
  clearTimeout(forceTimer);
  stopListening();
  options.signal?.removeEventListener('abort', onAbort);
  // A runner that ended before its onEnd (second Ctrl-C, grace period over, or a crash of the
  // runner itself) left reports that still say "running", or none: they must say the run did
  // not complete. Reports of a run that ended are left as they are.
  (await finalize).finalizeInterruptedReports(paths, plan.targets);
  const regressions = history && plan.history ? await finishHistory(history.store, plan.history.runId, paths.history) : 0;

  if (signalled) return { exitCode: exitCodeForSignal(signalled) };
  if (signal) return { exitCode: 128 + (signal === 'SIGKILL' ? 9 : 15) };
  if (code === 0 && regressions > 0 && plan.history?.failOnRegression) {
    process.stdout.write(`farm: ${regressions} performance regression(s) and --fail-on-regression: the run fails\n`);
    return { exitCode: 1 };
  }
  return { exitCode: code ?? 1 };
}
