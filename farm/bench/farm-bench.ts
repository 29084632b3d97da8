/**
 * `npm run bench:farm`: the wall time of the real `farm run` on `sim` and where
 * the time that is not test bodies goes. Each run spawns the CLI into a fresh temporary out dir
 * and reads back its metrics.json, whose timings come from Playwright itself (test start and
 * duration, the "Before Hooks" / "After Hooks" steps that are the fixtures, the run's start and
 * end). With the spawn and exit times taken here, one run's wall time splits with nothing left
 * over into:
 *   runner start-up   spawn -> Playwright's run starts (Node, CLI, config, run plan, runner)
 *   worker start-up   run starts -> first test starts (listing suites, worker process, imports)
 *   fixture set-up    "Before Hooks" of every test; a worker's first test also provisions the target
 *   test bodies       duration - set-up - teardown
 *   fixture teardown  "After Hooks" (stop the remote, read trace/console, attach them)
 *   between tests     no test running (dispatching the next suite file, per-test reporters)
 *   worker teardown   last test ends -> reporters' onEnd (the target's teardown, worker exit)
 *   reporting         onEnd -> exit (summary, JUnit, metrics, HTML report, runner exit)
 * With several workers tests overlap; "between tests" is then the time no test was running at
 * all, and the parts no longer add up to the wall time.
 *
 * Options: --runs N (default 3); arguments after `--` go to `farm run` instead of the default
 * `--target sim` (e.g. `-- --config FILE`); the 10 s goal is judged only for the default.
 * Human-readable lines first, then one JSON object per run and one for the summary.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InfrastructureError } from '../../base/errors.js';

/** The goal for the whole default run on `sim`. */
export const FARM_RUN_GOAL_MS = 10_000;
/** Issue 13's goals for the default run on `sim`, on a quiet machine. */
export const FAST_RUN_GOAL_MS = 3000;
export const PER_TEST_AFTER_STARTUP_GOAL_MS = 20;
const DEFAULT_FARM_ARGS = ['--target', 'sim'] as const;

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

/** The parts of metrics.json the benchmark reads. */
export interface RunMetrics {
  readonly status: string;
  readonly run: { readonly startedAt: string; readonly durationMs: number } | null;
  readonly tests: readonly {
    readonly outcome: string;
    readonly durationMs: number;
    readonly startedAt: string;
    readonly workerIndex: number;
    readonly setupMs: number;
    readonly bodyMs: number;
    readonly teardownMs: number;
  }[];
}

export interface FarmRunBreakdown {
  readonly benchmark: 'farm-run';
  readonly status: string;
  readonly tests: number;
  readonly workers: number;
  readonly wallMs: number;
  readonly bodiesMs: number;
  /** (wall - bodies) / tests: the farm's own cost per test. */
  readonly overheadPerTestMs: number;
  /** (set-up of all but each worker's first test + teardown + between tests) / tests: the cost per test once the workers run. */
  readonly perTestAfterStartupMs: number;
  readonly runnerStartMs: number;
  readonly workerStartMs: number;
  /** Set-up of each worker's first test: includes provisioning the target. */
  readonly firstSetupMs: number;
  /** Set-up of every other test. */
  readonly setupMs: number;
  readonly teardownMs: number;
  readonly betweenTestsMs: number;
  readonly workerTeardownMs: number;
  readonly reportingMs: number;
}

function instant(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new InfrastructureError(`metrics.json: ${what} is not a time: ${JSON.stringify(iso)}`);
  return ms;
}

/** Splits one run's wall time (spawn at `spawnMs`, exit at `exitMs`) using its metrics.json. */
export function breakDown(metrics: RunMetrics, spawnMs: number, exitMs: number): FarmRunBreakdown {
  if (!metrics.run) throw new InfrastructureError('metrics.json has no run timing: the run did not end normally');
  if (metrics.tests.length === 0) throw new InfrastructureError('metrics.json lists no finished test');
  const runStart = instant(metrics.run.startedAt, 'run.startedAt');
  const runEnd = runStart + metrics.run.durationMs;
  const spans = metrics.tests
    .map((test) => ({ ...test, start: instant(test.startedAt, 'tests[].startedAt') }))
    .sort((a, b) => a.start - b.start);
  const firstStart = spans[0]!.start;
  let lastEnd = firstStart;
  let idle = 0;
  const seenWorkers = new Set<number>();
  let firstSetupMs = 0;
  let setupMs = 0;
  for (const span of spans) {
    if (span.start > lastEnd) idle += span.start - lastEnd;
    lastEnd = Math.max(lastEnd, span.start + span.durationMs);
    if (seenWorkers.has(span.workerIndex)) setupMs += span.setupMs;
    else firstSetupMs += span.setupMs;
    seenWorkers.add(span.workerIndex);
  }
  const sum = (pick: (test: RunMetrics['tests'][number]) => number) => metrics.tests.reduce((total, test) => total + pick(test), 0);
  const wallMs = exitMs - spawnMs;
  const bodiesMs = sum((test) => test.bodyMs);
  const teardownMs = sum((test) => test.teardownMs);
  return {
    benchmark: 'farm-run',
    status: metrics.status,
    tests: metrics.tests.length,
    workers: seenWorkers.size,
    wallMs,
    bodiesMs,
    overheadPerTestMs: Math.round(((wallMs - bodiesMs) / metrics.tests.length) * 10) / 10,
    perTestAfterStartupMs: Math.round(((setupMs + teardownMs + idle) / metrics.tests.length) * 10) / 10,
    runnerStartMs: runStart - spawnMs,
    workerStartMs: firstStart - runStart,
    firstSetupMs,
    setupMs,
    teardownMs,
    betweenTestsMs: idle,
    workerTeardownMs: runEnd - lastEnd,
    reportingMs: exitMs - runEnd,
  };
}

let interrupted = false;

/** One `farm run` into a temporary out dir (removed afterwards); its breakdown. */
export async function benchFarmRun(farmArgs: readonly string[]): Promise<FarmRunBreakdown> {
  const outDir = await mkdtemp(join(tmpdir(), 'farm-bench-'));
  try {
    let output = '';
    const spawnMs = Date.now();
    const child = spawn(process.execPath, [CLI, 'run', ...farmArgs, '--out', outDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode) => resolve(exitCode));
    });
    const exitMs = Date.now();
    if (interrupted) throw new InfrastructureError('interrupted');
    if (code !== 0) throw new InfrastructureError(`farm run exited with ${String(code)}:\n${output}`);
    const metrics = JSON.parse(await readFile(join(outDir, 'metrics.json'), 'utf8')) as RunMetrics;
    return breakDown(metrics, spawnMs, exitMs);
  } finally {
    await rm(outDir, { recursive: true, force: true, maxRetries: 3 });
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const millis = (ms: number) => `${ms.toFixed(0)} ms`;

export function describeRun(run: FarmRunBreakdown, index: number): string {
  return `farm run ${index + 1}: ${run.tests} tests, ${run.workers} worker(s), wall ${seconds(run.wallMs)}, test bodies ${seconds(run.bodiesMs)}, overhead ${millis(run.overheadPerTestMs)} per test`;
}

export function describeBreakdown(run: FarmRunBreakdown): string[] {
  const per = (ms: number, tests = run.tests) => `${millis(ms)} (${millis(tests > 0 ? ms / tests : 0)} per test)`;
  return [
    `  runner start-up                         ${millis(run.runnerStartMs)}`,
    `  worker start-up                         ${millis(run.workerStartMs)}`,
    `  fixture set-up, first test of a worker  ${millis(run.firstSetupMs)} (includes provisioning the target)`,
    `  fixture set-up, other tests             ${per(run.setupMs, run.tests - run.workers)}`,
    `  test bodies                             ${per(run.bodiesMs)}`,
    `  fixture teardown                        ${per(run.teardownMs)}`,
    `  between tests                           ${per(run.betweenTestsMs)}`,
    `  worker teardown                         ${millis(run.workerTeardownMs)}`,
    `  reporting (after the last test)         ${millis(run.reportingMs)}`,
  ];
}

export interface FarmBenchSummary {
  readonly benchmark: 'farm-run-summary';
  readonly runs: number;
  readonly tests: number;
  readonly wallMinMs: number;
  readonly wallMedianMs: number;
  readonly bodiesMedianMs: number;
  readonly overheadPerTestMedianMs: number;
  readonly perTestAfterStartupMedianMs: number;
  readonly goalMs: number;
  readonly goalMet: boolean;
  /** Issue 13: the whole run under FAST_RUN_GOAL_MS. */
  readonly fastRunGoalMet: boolean;
  /** Issue 13: under PER_TEST_AFTER_STARTUP_GOAL_MS per test once the workers run. */
  readonly perTestGoalMet: boolean;
}

export function summarizeRuns(runs: readonly FarmRunBreakdown[]): FarmBenchSummary {
  const walls = runs.map((run) => run.wallMs);
  const wallMedianMs = median(walls);
  return {
    benchmark: 'farm-run-summary',
    runs: runs.length,
    tests: runs[0]?.tests ?? 0,
    wallMinMs: Math.min(...walls),
    wallMedianMs,
    bodiesMedianMs: median(runs.map((run) => run.bodiesMs)),
    overheadPerTestMedianMs: median(runs.map((run) => run.overheadPerTestMs)),
    perTestAfterStartupMedianMs: median(runs.map((run) => run.perTestAfterStartupMs)),
    goalMs: FARM_RUN_GOAL_MS,
    goalMet: wallMedianMs < FARM_RUN_GOAL_MS,
    fastRunGoalMet: wallMedianMs < FAST_RUN_GOAL_MS,
    perTestGoalMet: median(runs.map((run) => run.perTestAfterStartupMs)) < PER_TEST_AFTER_STARTUP_GOAL_MS,
  };
}

function parseArgs(argv: readonly string[]): { runs: number; farmArgs: string[] } {
  const dashDash = argv.indexOf('--');
  const own = dashDash >= 0 ? argv.slice(0, dashDash) : [...argv];
  // The measurement is the default run on `sim`; the checkout's farm.yaml also lists
  // the QEMU and linux-process targets, so `sim` is named rather than left to the config.
  const farmArgs = dashDash >= 0 ? argv.slice(dashDash + 1) : [...DEFAULT_FARM_ARGS];
  let runs = 3;
  for (let i = 0; i < own.length; i++) {
    if (own[i] === '--runs') {
      runs = Number(own[++i]);
      if (!Number.isInteger(runs) || runs < 1) throw new InfrastructureError('--runs needs a positive integer');
    } else {
      throw new InfrastructureError(`unknown option ${own[i]} (usage: farm-bench [--runs N] [-- farm run arguments])`);
    }
  }
  if (farmArgs.includes('--out')) throw new InfrastructureError('the benchmark chooses --out itself (a temporary dir per run)');
  return { runs, farmArgs };
}

async function main(argv: readonly string[]): Promise<void> {
  const { runs: count, farmArgs } = parseArgs(argv);
  // Ctrl-C reaches the `farm run` child too (same process group): it stops and tears down,
  // then the out dir is removed and no further run starts.
  process.once('SIGINT', () => (interrupted = true));
  const runs: FarmRunBreakdown[] = [];
  for (let i = 0; i < count; i++) {
    const run = await benchFarmRun(farmArgs);
    runs.push(run);
    console.log(describeRun(run, i));
  }
  const summary = summarizeRuns(runs);
  const typical = runs.find((run) => run.wallMs === summary.wallMedianMs) ?? [...runs].sort((a, b) => a.wallMs - b.wallMs)[runs.length >> 1]!;
  console.log(
    `farm run, ${summary.runs} run(s) of ${summary.tests} tests: wall min ${seconds(summary.wallMinMs)}, median ${seconds(summary.wallMedianMs)}; ` +
      `test bodies ${seconds(summary.bodiesMedianMs)}; overhead ${millis(summary.overheadPerTestMedianMs)} per test, ` +
      `${millis(summary.perTestAfterStartupMedianMs)} per test once the workers run (set-up, teardown, between tests; medians)`,
  );
  console.log(`where the time went in run ${runs.indexOf(typical) + 1} (wall ${seconds(typical.wallMs)}):`);
  for (const line of describeBreakdown(typical)) console.log(line);
  if (farmArgs.join(' ') === DEFAULT_FARM_ARGS.join(' ')) {
    const met = (yes: boolean) => (yes ? 'met' : 'NOT met');
    console.log(`goal: whole run on sim under ${seconds(FARM_RUN_GOAL_MS)}: ${met(summary.goalMet)} (median ${seconds(summary.wallMedianMs)})`);
    console.log(`goal (issue 13, quiet machine): whole run under ${seconds(FAST_RUN_GOAL_MS)}: ${met(summary.fastRunGoalMet)} (median ${seconds(summary.wallMedianMs)})`);
    console.log(
      `goal (issue 13, quiet machine): under ${millis(PER_TEST_AFTER_STARTUP_GOAL_MS)} per test once the workers run: ${met(summary.perTestGoalMet)} (median ${millis(summary.perTestAfterStartupMedianMs)})`,
    );
  }
  for (const run of runs) console.log(JSON.stringify(run));
  console.log(JSON.stringify(summary));
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  });
}
