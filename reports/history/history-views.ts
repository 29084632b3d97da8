/**
 * What `farm history` prints and `farm serve` shows, read from a HistoryStore: recent runs with
 * their counts, flaky tests with their flake rates, and each metric's trend with its baseline
 * and every run's verdict against the runs before it.
 */
import { findFlakyTests, flakinessByTarget, type FlakyTest, type TargetFlakiness } from './flaky.js';
import type { HistoryStore, ResultRow, RunRow } from './history-store.js';
import { METRICS, metricDefinition } from './metrics.js';
import { baselineOf, judge, DEFAULT_PERF_OPTIONS, type Baseline, type PerfOptions, type PerfStatus } from './perf.js';
import { perRunValues } from './run-history.js';

export interface RunSummary extends RunRow {
  readonly passed: number;
  readonly failed: number;
  readonly errors: number;
  readonly skipped: number;
  readonly flaky: number;
}

/** Counts by a test's last attempt. */
function countResults(results: readonly ResultRow[]): { passed: number; failed: number; errors: number; skipped: number; flaky: number } {
  const last = new Map<string, ResultRow>();
  const failedBefore = new Set<string>();
  for (const result of results) {
    const key = `${result.target}\u0000${result.suite}\u0000${result.title}\u0000${result.repeat}`;
    const previous = last.get(key);
    if (previous && (previous.outcome === 'failed' || previous.outcome === 'error')) failedBefore.add(key);
    last.set(key, result);
  }
  const counts = { passed: 0, failed: 0, errors: 0, skipped: 0, flaky: 0 };
  for (const [key, result] of last) {
    if (result.outcome === 'passed') counts.passed++;
    else if (result.outcome === 'failed') counts.failed++;
    else if (result.outcome === 'error') counts.errors++;
    else counts.skipped++;
    if (result.outcome === 'passed' && failedBefore.has(key)) counts.flaky++;
  }
  return counts;
}

export async function runsView(store: HistoryStore, options: { targets?: readonly string[]; runs?: number } = {}): Promise<RunSummary[]> {
  const runs = await store.runs({ limit: options.runs ?? 20 });
  const wanted = options.targets?.length ? runs.filter((run) => run.targets.some((target) => options.targets?.includes(target))) : runs;
  return Promise.all(wanted.map(async (run) => ({ ...run, ...countResults(await store.results({ runId: run.id })) })));
}

export interface FlakyView {
  readonly runs: number;
  readonly tests: readonly FlakyTest[];
  readonly targets: readonly TargetFlakiness[];
}

export async function flakyView(store: HistoryStore, options: { targets?: readonly string[]; runs?: number } = {}): Promise<FlakyView> {
  const runs = options.runs ?? 200;
  // One target: its own latest runs (in a farm database, other places' runs would crowd them out).
  const only = options.targets?.length === 1 ? options.targets[0] : undefined;
  let results = await store.results({ runs, ...(only !== undefined ? { target: only } : {}) });
  if (options.targets?.length) results = results.filter((result) => options.targets?.includes(result.target));
  const tests = findFlakyTests(results);
  return { runs, tests, targets: flakinessByTarget(results, tests) };
}

export interface TrendPoint {
  readonly runId: string;
  readonly startedAt: string;
  readonly value: number;
  /** Against the baseline of the runs before it. */
  readonly status: PerfStatus;
  /** That baseline's band, when there was one. */
  readonly band: { readonly low: number; readonly high: number } | null;
}

export interface PerfTrend {
  readonly target: string;
  readonly metric: string;
  readonly unit: string;
  readonly better: 'lower' | 'higher';
  readonly points: readonly TrendPoint[];
  /** What the latest run was judged against (the runs before it). */
  readonly baseline: Baseline | null;
}

export async function perfView(
  store: HistoryStore,
  options: { targets?: readonly string[]; metric?: string; runs?: number; perf?: PerfOptions } = {},
): Promise<PerfTrend[]> {
  const perf = options.perf ?? DEFAULT_PERF_OPTIONS;
  const shown = options.runs ?? 20;
  const metrics = options.metric ? [options.metric] : METRICS.map((metric) => metric.name);
  const rows = await store.metrics({ ...(options.metric ? { metric: options.metric } : {}) });
  const targets = [...new Set(rows.map((row) => row.target))].filter((target) => !options.targets?.length || options.targets.includes(target)).sort();
  const trends: PerfTrend[] = [];
  for (const target of targets) {
    for (const metric of metrics) {
      const values = perRunValues(rows.filter((row) => row.target === target && row.metric === metric));
      if (!values.length) continue;
      const points = values.map((point, index) => {
        const baseline = baselineOf(values.slice(0, index).map((entry) => entry.value), perf, metric);
        return { ...point, status: judge(target, metric, point.value, baseline).status, band: baseline && { low: baseline.low, high: baseline.high } };
      });
      const definition = metricDefinition(metric);
      trends.push({
        target,
        metric,
        unit: definition?.unit ?? '',
        better: definition?.better ?? 'lower',
        points: points.slice(-shown),
        baseline: baselineOf(values.slice(0, -1).map((entry) => entry.value), perf, metric),
      });
    }
  }
  return trends;
}
