/**
 * How a `farm run` uses its history. Before the run the CLI reads the store once and puts what
 * the reporters need into the run plan (HistoryPlan: the known-flaky tests and each metric's
 * baseline on each selected target), so reporters judge every finished test on their own,
 * synchronously, with no database in the runner. The history reporter writes the run's rows to
 * history.json in the out dir as tests end; the CLI stores them when the runner has exited
 * (also when it was killed: the file holds what finished).
 */
import { hostname } from 'node:os';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { findFlakyTests, testKey } from './flaky.js';
import type { HistoryStore, MetricRow, ResultRow, RunRow, RunState } from './history-store.js';
import { measurementsOf, median, METRICS } from './metrics.js';
import { baselineOf, judge, type Baseline, type PerfOptions, type PerfVerdict } from './perf.js';
import type { TestRecord } from '../test-record.js';
import { redactSecrets } from '../redact.js';

export const HISTORY_ENV = 'FARM_HISTORY';
export const FIRMWARE_REV_ENV = 'FARM_FIRMWARE_REV';
export const DEFAULT_HISTORY_FILE = 'farm-history.sqlite';
/** What the history reporter writes into the out dir. */
export const HISTORY_RUN_FILE = 'history.json';

/** What the reporters of a run know from history (part of the run plan). */
export interface HistoryPlan {
  readonly location: string;
  readonly runId: string;
  readonly startedAt: string;
  readonly firmwareRev: string | null;
  readonly failOnRegression: boolean;
  readonly perf: PerfOptions;
  /** testKey()s of tests known to be flaky before this run. */
  readonly knownFlaky: readonly string[];
  readonly baselines: readonly { readonly target: string; readonly metric: string; readonly baseline: Baseline }[];
}

/** The rows of one run, as the history reporter writes them (history.json). */
export interface HistoryRunFile {
  readonly runId: string;
  readonly status: RunState;
  readonly durationMs: number | null;
  readonly results: readonly ResultRow[];
  readonly metrics: readonly MetricRow[];
  readonly verdicts: readonly PerfVerdict[];
}

/** A history location that is a database (the farm database), not a file. */
export const isDatabaseUrl = (location: string): boolean => /^postgres(ql)?:\/\//.test(location);

/** FARM_DB: the farm database (farm/db/connection.ts says the same name). */
const FARM_DB_ENV = 'FARM_DB';

/**
 * Where the history is: `--history` (a file, a postgres:// URL, or "off"), else the farm
 * database of `--farm`, else FARM_HISTORY, else (for the commands that read the farm database by
 * default: `farm history`, `farm serve`) FARM_DB, else farm.yaml's history.file, else
 * farm-history.sqlite next to farm.yaml (the working directory for the built-in farm).
 */
export function historyLocation(
  option: string | undefined,
  config: { readonly configDir: string; readonly history: { readonly file: string | undefined } },
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
  farm: { readonly url?: string | undefined; readonly farmDbByDefault?: boolean } = {},
): string | null {
  const given = option ?? farm.url ?? (env[HISTORY_ENV] || undefined) ?? (farm.farmDbByDefault ? env[FARM_DB_ENV] || undefined : undefined);
  if (given === 'off') return null;
  if (given !== undefined && given !== '') return isDatabaseUrl(given) ? given : resolve(cwd, given);
  if (config.history.file === 'off') return null;
  return config.history.file ?? join(config.configDir, DEFAULT_HISTORY_FILE);
}

const require = createRequire(import.meta.url);
export function farmVersion(): string {
  try {
    return (require('../../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** One value per run: the median of the run's figures (a run with --repeat has several). */
export function perRunValues(rows: readonly MetricRow[]): { runId: string; startedAt: string; value: number }[] {
  const runs = new Map<string, { startedAt: string; values: number[] }>();
  for (const row of rows) {
    const run = runs.get(row.runId) ?? { startedAt: row.startedAt, values: [] };
    run.values.push(row.value);
    runs.set(row.runId, run);
  }
  return [...runs.entries()].map(([runId, run]) => ({ runId, startedAt: run.startedAt, value: median(run.values) })).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** Reads what the run's reporters need from the store, and records the run as started. */
export async function prepareHistory(
  store: HistoryStore,
  run: { readonly targets: readonly string[]; readonly outDir: string; readonly firmwareRev: string | null; readonly failOnRegression: boolean; readonly perf: PerfOptions; readonly farmJob?: number },
  runId: string,
  startedAt = new Date().toISOString(),
): Promise<HistoryPlan> {
  const known = new Set<string>();
  const baselines: HistoryPlan['baselines'][number][] = [];
  for (const target of run.targets) {
    for (const flaky of findFlakyTests(await store.results({ target, runs: 200 }))) known.add(testKey(flaky));
    for (const metric of METRICS) {
      const rows = await store.metrics({ target, metric: metric.name, runs: run.perf.baselineRuns, before: startedAt });
      const baseline = baselineOf(perRunValues(rows).map((entry) => entry.value), run.perf, metric.name);
      if (baseline) baselines.push({ target, metric: metric.name, baseline });
    }
  }
  const row: RunRow = {
    id: runId,
    startedAt,
    durationMs: null,
    status: 'running',
    farmVersion: farmVersion(),
    firmwareRev: run.firmwareRev,
    hostname: hostname(),
    outDir: run.outDir,
    pid: process.pid,
    targets: run.targets,
    regressions: 0,
    farmJob: run.farmJob ?? null,
  };
  await store.beginRun(row);
  return { location: store.location, runId, startedAt, firmwareRev: run.firmwareRev, failOnRegression: run.failOnRegression, perf: run.perf, knownFlaky: [...known], baselines };
}

/** The performance verdicts of one finished test against the run's baselines. */
export function verdictsFor(record: TestRecord, history: HistoryPlan | null | undefined): PerfVerdict[] {
  if (!history) return [];
  return measurementsOf(record).map((measurement) => {
    const found = history.baselines.find((entry) => entry.target === record.target && entry.metric === measurement.metric);
    return judge(record.target, measurement.metric, measurement.value, found?.baseline ?? null);
  });
}

export function isKnownFlaky(test: { readonly target: string; readonly suite: string; readonly title: string }, history: HistoryPlan | null | undefined): boolean {
  return history?.knownFlaky.includes(testKey(test)) ?? false;
}

/** A finished attempt as a history row. */
export function resultRow(record: TestRecord, runId: string): ResultRow | undefined {
  if (record.outcome === 'interrupted') return undefined;
  return {
    runId,
    target: record.target,
    kind: record.kind ?? null,
    suite: record.suite,
    title: record.title,
    repeat: record.repeatIndex,
    attempt: record.attempt,
    outcome: record.outcome,
    failureClass: record.failureClass ?? null,
    // Kept for good and shown by farm serve: never with a secret in it.
    message: record.message === undefined ? null : redactSecrets(record.message),
    durationMs: record.durationMs,
    firmwareSha256: record.meta?.firmware.sha256 ?? null,
    firmwareLabel: record.meta?.firmware.label ?? null,
    startedAt: new Date(record.timing.startMs).toISOString(),
  };
}

export function metricRows(record: TestRecord, history: HistoryPlan): MetricRow[] {
  return measurementsOf(record).map((measurement) => ({
    runId: history.runId,
    target: record.target,
    metric: measurement.metric,
    value: measurement.value,
    firmwareSha256: record.meta?.firmware.sha256 ?? null,
    // Baselines compare runs: a figure is dated by its run.
    startedAt: history.startedAt,
  }));
}
