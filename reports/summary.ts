/** The end-of-run table: target x suite with passed / failed / error / skipped and duration. */
import { SUITE_NAMES } from '../targets/target.js';
import type { TestRecord } from './test-record.js';

export interface SummaryRow {
  readonly target: string;
  readonly suite: string;
  passed: number;
  failed: number;
  error: number;
  skipped: number;
  flaky: number;
  /** Tests with a performance regression against the history's baseline. */
  regressed: number;
  durationMs: number;
}

/**
 * The table's rows, by target in `targetOrder` (farm.yaml's order; others after, by name), then
 * by suite in the farm's suite order.
 */
export function summarize(records: readonly TestRecord[], targetOrder: readonly string[] = [], regressed: (record: TestRecord) => boolean = () => false): SummaryRow[] {
  const rows = new Map<string, SummaryRow>();
  for (const record of records) {
    if (record.outcome === 'interrupted') continue;
    const key = `${record.target}\u0000${record.suite}`;
    const row = rows.get(key) ?? { target: record.target, suite: record.suite, passed: 0, failed: 0, error: 0, skipped: 0, flaky: 0, regressed: 0, durationMs: 0 };
    row[record.outcome]++;
    if (record.flaky) row.flaky++;
    if (regressed(record)) row.regressed++;
    row.durationMs += record.durationMs;
    rows.set(key, row);
  }
  const targetRank = (target: string) => {
    const index = targetOrder.indexOf(target);
    return index === -1 ? targetOrder.length : index;
  };
  const suiteRank = (suite: string) => {
    const index = (SUITE_NAMES as readonly string[]).indexOf(suite);
    return index === -1 ? SUITE_NAMES.length : index;
  };
  return [...rows.values()].sort(
    (a, b) => targetRank(a.target) - targetRank(b.target) || a.target.localeCompare(b.target) || suiteRank(a.suite) - suiteRank(b.suite) || a.suite.localeCompare(b.suite),
  );
}

/**
 * A failure's first line for the console, whose line already shows the class: the error name
 * without its "[class]" ("InfrastructureError[infrastructure]: x" -> "InfrastructureError: x").
 */
export function displayMessage(message: string): string {
  return message.replace(/^(\w+)\[(?:infrastructure|firmware|protocol|assertion)\]:/, '$1:');
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

/**
 * The table; a `regressed` column (tests with a performance regression) is added when any row
 * has one, so runs without history look as they always did.
 */
export function formatTable(rows: readonly SummaryRow[]): string {
  const regressions = rows.reduce((sum, row) => sum + (row.regressed ?? 0), 0);
  if (regressions > 0) {
    const lines = formatPlainTable(rows).split('\n');
    const cells = ['regressed', ...rows.map((row) => String(row.regressed ?? 0))];
    const width = Math.max(...cells.map((cell) => cell.length));
    // header, rule, body..., rule, footer: the column goes after "skipped", before "duration".
    const column = [cells[0], '-'.repeat(width), ...cells.slice(1), '-'.repeat(width), String(regressions)];
    const at = lines[0]!.indexOf('duration');
    return lines.map((line, index) => `${line.slice(0, at)}${(column[index] ?? '').padEnd(width)}  ${line.slice(at)}`.trimEnd()).join('\n');
  }
  return formatPlainTable(rows);
}

function formatPlainTable(rows: readonly SummaryRow[]): string {
  const header = ['target', 'suite', 'passed', 'failed', 'error', 'skipped', 'duration'];
  const body = rows.map((row) => [
    row.target,
    row.suite,
    String(row.passed) + (row.flaky ? ` (${row.flaky} flaky)` : ''),
    String(row.failed),
    String(row.error),
    String(row.skipped),
    formatDuration(row.durationMs),
  ]);
  const totals = rows.reduce(
    (sum, row) => ({
      passed: sum.passed + row.passed,
      failed: sum.failed + row.failed,
      error: sum.error + row.error,
      skipped: sum.skipped + row.skipped,
      durationMs: sum.durationMs + row.durationMs,
    }),
    { passed: 0, failed: 0, error: 0, skipped: 0, durationMs: 0 },
  );
  const footer = ['total', '', String(totals.passed), String(totals.failed), String(totals.error), String(totals.skipped), formatDuration(totals.durationMs)];
  const table = [header, ...body, footer];
  const widths = header.map((_, column) => Math.max(...table.map((line) => (line[column] ?? '').length)));
  const render = (line: string[]) => line.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [render(header), rule, ...body.map(render), rule, render(footer)].join('\n');
}
