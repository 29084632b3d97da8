/**
 * The farm's HTML report (report.html in the out dir, one self-contained file): failures first, each with
 * its failure class, the firmware it ran, and the tails of its console, trace buffer and target
 * log before the error's stack; then the target x suite table and every test with a readable
 * title ("sim › echo › echoes ...") and its spec file relative to the checkout
 * ("suites/echo.spec.ts"). Durations are the ones the CLI prints and metrics.json records
 * (durationOf: fixture set-up + body + teardown). Rewritten as tests end, like the other reports.
 * Playwright's own report (with its trace viewer) is html/index.html next to it.
 */
import type { FullConfig, FullResult, Suite, TestCase, TestResult } from '@playwright/test/reporter';
import { isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RewritingReporter } from './rewriting-reporter.js';
import type { TestEntry, TestRecord } from './test-record.js';
import { displayMessage, formatDuration, summarize } from './summary.js';
import { isKnownFlaky, verdictsFor, type HistoryPlan } from './history/run-history.js';
import { describeVerdict } from './history/perf.js';
import { redactSecrets } from './redact.js';
import { writeFileAtomic } from './write-atomic.js';

export interface HtmlReporterOptions {
  readonly outputFile: string;
  readonly history?: HistoryPlan | null;
}

/** Lines of each log shown before the full text. */
export const TAIL_LINES = 30;

const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url));

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** A spec file as a user reads it: relative to the farm checkout or the working directory when inside one. */
export function readablePath(file: string, cwd = process.cwd()): string {
  for (const base of [CHECKOUT, cwd]) {
    const inside = relative(base, file);
    if (inside && !inside.startsWith('..') && !isAbsolute(inside)) return inside;
  }
  return file;
}

export function tail(text: string, lines = TAIL_LINES): { text: string; cut: number } {
  const all = text.replace(/\n$/, '').split('\n');
  if (all.length <= lines) return { text: all.join('\n'), cut: 0 };
  return { text: all.slice(-lines).join('\n'), cut: all.length - lines };
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f5f6f8; }
header { background: #1d2330; color: #fff; padding: 12px 20px; }
header h1 { margin: 0; font-size: 18px; }
main { padding: 16px 20px; }
section, article { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: 12px 16px; margin-bottom: 14px; }
article.failed, article.error { border-left: 4px solid #dc2626; }
h2 { font-size: 16px; margin: 0 0 8px; } h3 { font-size: 15px; margin: 0 0 6px; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eef0f4; vertical-align: top; }
th { color: #5a6275; }
pre { background: #0f1420; color: #d6deeb; padding: 8px 10px; overflow: auto; font: 12px/1.35 ui-monospace, monospace; white-space: pre-wrap; max-height: 480px; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.passed { background: #d8f3dc; color: #1b5e20; } .failed, .error, .interrupted, .regression { background: #fde2e1; color: #9b1c1c; }
.skipped, .flaky { background: #fef3c7; color: #92400e; } .running { background: #dbeafe; color: #1e40af; }
.muted { color: #6b7385; } code { font: 12px ui-monospace, monospace; }
`;

export interface HtmlReportInput {
  readonly status: string;
  readonly startedAt: string;
  readonly durationMs: number | null;
  readonly entries: readonly TestEntry[];
  readonly files: ReadonlyMap<string, string>;
  readonly targetOrder: readonly string[];
  readonly history: HistoryPlan | null | undefined;
}

const badge = (text: string, cls = text) => `<span class="badge ${escapeHtml(cls)}">${escapeHtml(text)}</span>`;
const pre = (text: string) => `<pre>${escapeHtml(redactSecrets(text))}</pre>`;

function titleOf(record: { target: string; suite: string; title: string; repeatIndex: number }): string {
  return `${record.target} › ${record.suite} › ${record.title}${record.repeatIndex > 0 ? ` [repeat ${record.repeatIndex + 1}]` : ''}`;
}

function logTail(name: string, text: string): string {
  if (!text.trim()) return `<p class="muted">${escapeHtml(name)}: (empty)</p>`;
  const { text: shown, cut } = tail(text);
  return `<h4>${escapeHtml(name)}${cut ? ` <span class="muted">(last ${TAIL_LINES} lines; ${cut} earlier below)</span>` : ''}</h4>${pre(shown)}`;
}

function failureView(record: TestRecord, file: string | undefined, history: HtmlReportInput['history']): string {
  const firmware = record.meta ? `${record.meta.firmware.label} <code>sha256 ${escapeHtml(record.meta.firmware.sha256)}</code>${record.meta.firmware.path ? ` <span class="muted">${escapeHtml(record.meta.firmware.path)}</span>` : ''}` : '<span class="muted">none loaded (the target was not set up)</span>';
  const full = [
    ['console', record.console],
    ['trace buffer', record.trace],
    ['target log', record.targetLog],
  ].filter(([, text]) => (text ?? '').split('\n').length > TAIL_LINES);
  return `<article class="${record.outcome}">
<h3>${escapeHtml(titleOf(record))} ${badge(`${record.outcome}: ${record.failureClass ?? 'unclassified'}`, record.outcome)}${isKnownFlaky(record, history) ? ` ${badge('known flaky', 'flaky')}` : ''}</h3>
<p><b>${escapeHtml(record.failureClass ?? '')}</b> ${escapeHtml(redactSecrets(displayMessage(record.message ?? '')))}</p>
<p>firmware: ${firmware}<br>spec: <code>${escapeHtml(file ?? '?')}</code>, attempt ${record.attempt + 1}, ${formatDuration(record.durationMs)}</p>
${logTail('console', record.console)}
${logTail('trace buffer', record.trace)}
${logTail('target log', record.targetLog)}
<details><summary>error and stack</summary>${pre(record.details ?? record.message ?? '')}</details>
${full.map(([name, text]) => `<details><summary>full ${escapeHtml(name ?? '')}</summary>${pre(text ?? '')}</details>`).join('\n')}
</article>`;
}

export function buildHtmlReport(input: HtmlReportInput): string {
  const latest = input.entries.flatMap((entry) => (entry.running ? [] : entry.attempts.slice(-1)));
  const failures = latest.filter((record) => record.outcome === 'failed' || record.outcome === 'error');
  const regressed = (record: TestRecord) => verdictsFor(record, input.history).some((verdict) => verdict.status === 'regression');
  const rows = summarize(latest, input.targetOrder, regressed);
  const summary = `<table><tr><th>target</th><th>suite</th><th>passed</th><th>failed</th><th>error</th><th>skipped</th>${input.history ? '<th>perf regressions</th>' : ''}<th>duration</th></tr>
${rows.map((row) => `<tr><td>${escapeHtml(row.target)}</td><td>${escapeHtml(row.suite)}</td><td>${row.passed}${row.flaky ? ` (${row.flaky} flaky)` : ''}</td><td>${row.failed}</td><td>${row.error}</td><td>${row.skipped}</td>${input.history ? `<td>${row.regressed}</td>` : ''}<td>${formatDuration(row.durationMs)}</td></tr>`).join('\n')}</table>`;
  const tests = input.entries.map((entry) => {
    const last = entry.attempts.at(-1);
    const outcome = entry.running ? 'running' : (last?.outcome ?? 'not run');
    const regressions = last ? verdictsFor(last, input.history).filter((verdict) => verdict.status === 'regression') : [];
    const notes = [
      ...(last?.flaky ? [badge('flaky: passed on a retry', 'flaky')] : []),
      ...(isKnownFlaky(entry.test, input.history) ? [badge('known flaky', 'flaky')] : []),
      ...regressions.map((verdict) => badge(`regression: ${describeVerdict(verdict)}`, 'regression')),
      ...(last?.skipReason ? [escapeHtml(last.skipReason)] : []),
      ...(last?.echo ? [escapeHtml(`echo p50 ${last.echo.p50Us.toFixed(1)} µs, p99 ${last.echo.p99Us.toFixed(1)} µs`)] : []),
    ];
    const timing = last ? `${formatDuration(last.durationMs)} <span class="muted">(set-up ${formatDuration(last.timing.setupMs)}, body ${formatDuration(last.timing.bodyMs)}, teardown ${formatDuration(last.timing.teardownMs)})</span>` : '-';
    const details = last && outcome !== 'failed' && outcome !== 'error'
      ? `<details><summary>logs</summary>${logTail('console', last.console)}${logTail('trace buffer', last.trace)}${logTail('target log', last.targetLog)}</details>`
      : '';
    return `<tr><td>${escapeHtml(titleOf({ ...entry.test }))}${details}</td><td><code>${escapeHtml(input.files.get(entry.test.id) ?? '?')}</code></td><td>${badge(outcome, outcome === 'not run' ? 'skipped' : outcome)}</td><td>${timing}</td><td>${notes.join(' ')}</td></tr>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>farm run: ${escapeHtml(input.status)}</title><style>${STYLE}</style></head>
<body><header><h1>farm run ${badge(input.status, input.status)}</h1>
<div>started ${escapeHtml(input.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))}${input.durationMs !== null ? `, ${formatDuration(input.durationMs)}` : ''}${input.history?.firmwareRev ? `, firmware rev ${escapeHtml(input.history.firmwareRev)}` : ''}; Playwright's report with traces: <a style="color:#9cc7ff" href="html/index.html">html/index.html</a></div></header>
<main>
${failures.length ? `<section><h2>Failures (${failures.length})</h2></section>\n${failures.map((record) => failureView(record, input.files.get(record.id), input.history)).join('\n')}` : ''}
<section><h2>Summary</h2>${summary}</section>
<section><h2>Tests</h2><table><tr><th>test</th><th>spec</th><th>result</th><th>duration</th><th>notes</th></tr>
${tests.join('\n')}</table></section>
</main></body></html>
`;
}

export default class HtmlReporter extends RewritingReporter {
  private readonly files = new Map<string, string>();
  private targetOrder: string[] = [];
  private readonly startedAt = new Date().toISOString();
  private durationMs: number | null = null;

  constructor(private readonly options: HtmlReporterOptions) {
    super();
  }

  override onBegin(config: FullConfig, suite: Suite): void {
    for (const test of suite.allTests()) this.files.set(test.id, readablePath(test.location.file));
    super.onBegin(config, suite);
  }

  protected override began(config: FullConfig): void {
    this.targetOrder = config.projects.map((project) => project.name);
  }

  override onTestBegin(test: TestCase): void {
    this.files.set(test.id, readablePath(test.location.file));
    super.onTestBegin(test);
  }

  override onTestEnd(test: TestCase, result: TestResult): void {
    this.files.set(test.id, readablePath(test.location.file));
    super.onTestEnd(test, result);
  }

  protected override ended(result: FullResult): void {
    this.durationMs = Math.round(result.duration);
  }

  protected write(): void {
    writeFileAtomic(
      this.options.outputFile,
      buildHtmlReport({
        status: this.status,
        startedAt: this.startedAt,
        durationMs: this.durationMs,
        entries: this.book.entries(),
        files: this.files,
        targetOrder: this.targetOrder,
        history: this.options.history,
      }),
    );
  }
}
