/** `farm history runs|flaky|perf`: the run history as tables (or JSON). */
import { existsSync } from 'node:fs';
import { flakyView, perfView, runsView } from '../reports/history/history-views.js';
import { isDatabaseUrl } from '../reports/history/run-history.js';
import { describeHistoryLocation, openHistoryStore } from './history-store-open.js';
import { formatValue, type PerfOptions } from '../reports/history/perf.js';
import { METRICS } from '../reports/history/metrics.js';
import { formatDuration } from '../reports/summary.js';
import { UsageError } from './selection.js';

const out = (line = '') => process.stdout.write(`${line}\n`);

export interface HistoryCommandOptions {
  readonly targets: readonly string[];
  readonly metric: string | undefined;
  readonly runs: string | undefined;
  readonly json: boolean;
  readonly perf: PerfOptions;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((_, column) => Math.max(header[column]?.length ?? 0, ...rows.map((row) => row[column]?.length ?? 0)));
  const render = (row: readonly string[]) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  return [render(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(render)].join('\n');
}

const percent = (rate: number) => `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}%`;
const SPARKS = '▁▂▃▄▅▆▇█';

/** A one-line plot of the values, lowest to highest. */
export function sparkline(values: readonly number[]): string {
  const low = Math.min(...values);
  const high = Math.max(...values);
  return values.map((value) => SPARKS[high === low ? 3 : Math.round(((value - low) / (high - low)) * (SPARKS.length - 1))]).join('');
}

export async function historyCommand(location: string | null, what: string, options: HistoryCommandOptions): Promise<number> {
  if (!['runs', 'flaky', 'perf'].includes(what)) throw new UsageError(`farm history: unknown view "${what}" (runs, flaky or perf)`);
  let runs: number | undefined;
  if (options.runs !== undefined) {
    runs = Number(options.runs);
    if (!Number.isInteger(runs) || runs < 1) throw new UsageError(`farm history: --runs: must be an integer >= 1, got "${options.runs}"`);
  }
  if (options.metric !== undefined && !METRICS.some((metric) => metric.name === options.metric)) {
    throw new UsageError(`farm history: --metric: unknown metric "${options.metric}" (known: ${METRICS.map((metric) => metric.name).join(', ')})`);
  }
  if (!location) throw new UsageError('farm history: the run history is off (--history off / FARM_HISTORY=off)');
  if (!isDatabaseUrl(location) && !existsSync(location)) {
    out(`no run history at ${location} yet (farm run records one)`);
    return 0;
  }
  const store = await openHistoryStore(location, { readonly: true });
  // Printed: a database URL without its password.
  location = describeHistoryLocation(location);
  try {
    const filter = { targets: options.targets, ...(runs !== undefined ? { runs } : {}) };
    if (what === 'runs') {
      const list = await runsView(store, filter);
      if (options.json) return out(JSON.stringify(list, null, 2)), 0;
      out(`history: ${location}`);
      out(table(
        ['started', 'run', 'status', 'duration', 'targets', 'passed', 'failed', 'error', 'skipped', 'flaky', 'regressions', 'firmware rev'],
        list.map((run) => [
          run.startedAt.replace('T', ' ').slice(0, 19),
          run.id.slice(0, 8),
          run.status,
          run.durationMs === null ? '-' : formatDuration(run.durationMs),
          run.targets.join(','),
          String(run.passed),
          String(run.failed),
          String(run.errors),
          String(run.skipped),
          String(run.flaky),
          String(run.regressions),
          run.firmwareRev ?? '-',
        ]),
      ));
      return 0;
    }
    if (what === 'flaky') {
      const view = await flakyView(store, filter);
      if (options.json) return out(JSON.stringify(view, null, 2)), 0;
      out(`flaky tests (passed and failed on the same firmware and target), last ${view.runs} runs of ${location}:`);
      if (!view.tests.length) out('  none');
      else {
        out(table(
          ['target', 'suite', 'test', 'flake rate', 'failed/runs', 'firmware', 'last failure'],
          view.tests.map((test) => [test.target, test.suite, test.title, percent(test.flakeRate), `${test.failures}/${test.executions}`, test.firmware.map((sha) => sha.slice(0, 12)).join(','), test.lastFailure ?? '-']),
        ));
      }
      out('');
      out('per target:');
      out(table(
        ['target', 'tests', 'flaky', 'runs of tests', 'flaky failures', 'flake rate'],
        view.targets.map((target) => [target.target, String(target.tests), String(target.flakyTests), String(target.executions), String(target.flakyFailures), percent(target.flakeRate)]),
      ));
      return 0;
    }
    const trends = await perfView(store, { perf: options.perf, targets: options.targets, ...(options.metric ? { metric: options.metric } : {}), ...(runs !== undefined ? { runs } : {}) });
    if (options.json) return out(JSON.stringify(trends, null, 2)), 0;
    if (!trends.length) {
      out(`no performance figures in ${location} yet`);
      return 0;
    }
    out(`performance trends (oldest -> newest), ${location}:`);
    out(table(
      ['target', 'metric', 'trend', 'runs', 'latest', 'baseline median', 'band', 'latest vs the runs before', 'regressions'],
      trends.map((trend) => {
        const latest = trend.points.at(-1);
        return [
          trend.target,
          trend.metric,
          sparkline(trend.points.map((point) => point.value)),
          String(trend.points.length),
          latest ? `${formatValue(latest.value)} ${trend.unit}` : '-',
          trend.baseline ? formatValue(trend.baseline.median) : '-',
          trend.baseline ? `${formatValue(trend.baseline.low)}..${formatValue(trend.baseline.high)}` : '-',
          latest?.status ?? '-',
          String(trend.points.filter((point) => point.status === 'regression').length),
        ];
      }),
    ));
    return 0;
  } finally {
    await store.close();
  }
}
