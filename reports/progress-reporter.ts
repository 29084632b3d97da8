/**
 * Console progress for `farm run`: one line per test as it finishes (target, suite, test,
 * status, time), then the summary table and where the reports are.
 */
import type { FullConfig, FullResult, Reporter, Suite, TestCase, TestError, TestResult } from '@playwright/test/reporter';
import { relative } from 'node:path';
import { reportPaths } from './paths.js';
import { RecordBook, toRecord, type TestRecord } from './test-record.js';
import { displayMessage, formatDuration, formatTable, summarize } from './summary.js';
import { isKnownFlaky, verdictsFor, type HistoryPlan } from './history/run-history.js';
import { describeVerdict } from './history/perf.js';
import { survivesGoneTerminal } from '../base/process/stop-signals.js';

export interface ProgressReporterOptions {
  readonly outDir: string;
  /** The run's history; null or absent when history is off. */
  readonly history?: HistoryPlan | null;
}

const MARK: Record<TestRecord['outcome'], string> = {
  passed: 'ok  ',
  failed: 'FAIL',
  error: 'ERR ',
  skipped: 'skip',
  interrupted: 'INT ',
};

function shown(path: string): string {
  const fromCwd = relative(process.cwd(), path);
  return fromCwd && !fromCwd.startsWith('..') ? fromCwd : path;
}

export default class ProgressReporter implements Reporter {
  private readonly book = new RecordBook();
  private total = 0;
  private done = 0;
  /** Targets in farm.yaml's order (Playwright's projects are made from it). */
  private targetOrder: string[] = [];

  constructor(private readonly options: ProgressReporterOptions) {
    // A Ctrl-C or a closed terminal reaches the runner as the CLI's SIGINT; the teardown it
    // starts still reports here, and a gone terminal must not end it half way.
    survivesGoneTerminal();
  }

  printsToStdio(): boolean {
    return true;
  }

  onBegin(config: FullConfig, suite: Suite): void {
    const tests = suite.allTests();
    this.book.plan(tests);
    this.total = tests.length;
    this.targetOrder = config.projects.map((project) => project.name);
    const targets = this.targetOrder.join(', ');
    const shard = config.shard ? `, shard ${config.shard.current}/${config.shard.total}` : '';
    process.stdout.write(`farm: ${this.total} test(s) on ${targets} with ${config.workers} worker(s)${shard}\n`);
  }

  onTestEnd(test: TestCase, result: TestResult): void {
    const record = toRecord(test, result);
    this.book.add(record);
    const willRetry = (record.outcome === 'failed' || record.outcome === 'error') && result.retry < test.retries;
    if (!willRetry) this.done++;
    const repeat = test.repeatEachIndex > 0 ? ` [repeat ${test.repeatEachIndex + 1}]` : '';
    const attempt = result.retry > 0 ? ` (attempt ${result.retry + 1})` : '';
    const regressions = verdictsFor(record, this.options.history).filter((verdict) => verdict.status === 'regression');
    const knownFlaky = record.outcome !== 'passed' && isKnownFlaky(record, this.options.history);
    const status = `${record.outcome}${record.failureClass ? ` [${record.failureClass}]` : ''}${regressions.length ? ', PERF REGRESSION' : ''}${knownFlaky ? ' (known flaky)' : ''}${willRetry ? ', retrying' : ''}`;
    // An attempt that will be retried carries the number its test ends with.
    const number = willRetry ? this.done + 1 : this.done;
    const line = `${MARK[record.outcome]} [${number}/${this.total}] ${record.target}  ${record.suite} › ${record.title}${repeat}${attempt}  ${status}  ${formatDuration(record.durationMs)}`;
    process.stdout.write(`${line}\n`);
    if (record.message && record.outcome !== 'passed') process.stdout.write(`       ${displayMessage(record.message)}\n`);
    if (record.outcome === 'skipped' && record.skipReason) process.stdout.write(`       skipped: ${record.skipReason}\n`);
    for (const verdict of regressions) process.stdout.write(`       regression: ${describeVerdict(verdict)}\n`);
  }

  onStdErr(chunk: string | Buffer, test?: TestCase): void {
    const text = chunk.toString();
    process.stderr.write(test ? `[${test.parent.project()?.name ?? '?'}] ${text}` : text);
  }

  onError(error: TestError): void {
    process.stderr.write(`farm: error outside a test: ${(error.message ?? error.value ?? '').split('\n')[0]}\n`);
  }

  onEnd(result: FullResult): void {
    const records = this.book.latest();
    process.stdout.write('\n');
    const regressed = (record: TestRecord) => verdictsFor(record, this.options.history).some((verdict) => verdict.status === 'regression');
    const rows = summarize(records, this.targetOrder, regressed);
    process.stdout.write(rows.length ? `${formatTable(rows)}\n` : 'no test finished\n');
    const failures = this.book.finished().filter((record) => record.outcome === 'failed' || record.outcome === 'error');
    const LISTED = 10;
    if (failures.length > LISTED) process.stdout.write(`failures (first ${LISTED} of ${failures.length}):\n`);
    for (const record of failures.slice(0, LISTED)) {
      process.stdout.write(`  ${record.outcome} [${record.failureClass}] ${record.target} ${record.suite} › ${record.title}: ${displayMessage(record.message ?? '')}\n`);
    }
    if (result.status === 'interrupted') {
      const stopped = this.book.latest().filter((record) => record.outcome === 'interrupted').length;
      const notRun = this.book.notRun().length;
      process.stdout.write(`run interrupted: ${stopped} test(s) stopped, ${notRun} not run (in the reports as interrupted / skipped)\n`);
    }
    if (result.status === 'timedout') process.stdout.write('run stopped: global timeout\n');
    const regressions = this.book.finished().flatMap((record) => verdictsFor(record, this.options.history)).filter((verdict) => verdict.status === 'regression');
    if (regressions.length) {
      process.stdout.write(`performance regressions (${regressions.length}, against the last runs on each target):\n`);
      for (const verdict of regressions) process.stdout.write(`  ${verdict.target}  ${describeVerdict(verdict)}\n`);
    }
    const paths = reportPaths(this.options.outDir);
    process.stdout.write(
      `\nreports:\n  JUnit    ${shown(paths.junit)}\n  report   ${shown(paths.htmlReport)}  (failures first; Playwright's: ${shown(paths.html)}/index.html)\n  metrics  ${shown(paths.metrics)}\n`,
    );
    process.stdout.write(`result: ${result.status} (${formatDuration(result.duration)})\n`);
  }
}
