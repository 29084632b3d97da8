/**
 * The run's history rows (history.json in the out dir: every finished attempt, the performance
 * figures and their verdicts against the baselines the CLI put into the run plan), rewritten as
 * tests end so that a killed run leaves what it finished; `farm run` stores them when the runner
 * has exited. Also appends test starts and ends to the run's live event log for `farm serve`.
 */
import type { FullConfig, TestCase, TestResult } from '@playwright/test/reporter';
import { RewritingReporter } from './rewriting-reporter.js';
import { LiveEventLog, liveEventsFile } from './live-events.js';
import { describeVerdict } from './history/perf.js';
import { metricRows, resultRow, verdictsFor, type HistoryPlan, type HistoryRunFile } from './history/run-history.js';
import { plannedTest, toRecord } from './test-record.js';
import { writeFileAtomic } from './write-atomic.js';
import { formatDuration } from './summary.js';

export interface HistoryReporterOptions {
  readonly outputFile: string;
  readonly outDir: string;
  readonly history: HistoryPlan | null;
}

export default class HistoryReporter extends RewritingReporter {
  private readonly live: LiveEventLog;
  private durationMs: number | null = null;

  constructor(private readonly options: HistoryReporterOptions) {
    super();
    this.live = new LiveEventLog(liveEventsFile(options.outDir));
  }

  protected override began(config: FullConfig): void {
    this.live.append('', 'test', `run started: ${config.projects.map((project) => project.name).join(', ')}`);
  }

  override onTestBegin(test: TestCase): void {
    const planned = plannedTest(test);
    this.live.append(planned.target, 'test', `start ${planned.suite} › ${planned.title}`);
    super.onTestBegin(test);
  }

  override onTestEnd(test: TestCase, result: TestResult): void {
    const record = toRecord(test, result);
    const regressions = verdictsFor(record, this.options.history).filter((verdict) => verdict.status === 'regression');
    const status = `${record.outcome}${record.failureClass ? ` [${record.failureClass}]` : ''}${regressions.length ? ', REGRESSION' : ''}`;
    this.live.append(record.target, 'test', `end ${record.suite} › ${record.title}: ${status} (${formatDuration(record.durationMs)})`);
    for (const verdict of regressions) this.live.append(record.target, 'test', `regression: ${describeVerdict(verdict)}`);
    super.onTestEnd(test, result);
  }

  protected override ended(result: { duration: number }): void {
    this.durationMs = Math.round(result.duration);
    this.live.append('', 'test', `run ended: ${this.status}`);
  }

  protected write(): void {
    const history = this.options.history;
    if (!history) return;
    const records = this.book.attempts();
    const latest = this.book.finished();
    const file: HistoryRunFile = {
      runId: history.runId,
      status: this.status === 'running' ? 'running' : this.status === 'passed' ? 'passed' : this.status === 'failed' ? 'failed' : this.status === 'timedout' ? 'timedout' : 'interrupted',
      durationMs: this.durationMs,
      results: records.flatMap((record) => resultRow(record, history.runId) ?? []),
      metrics: latest.flatMap((record) => metricRows(record, history)),
      verdicts: latest.flatMap((record) => verdictsFor(record, history)),
    };
    writeFileAtomic(this.options.outputFile, `${JSON.stringify(file, null, 2)}\n`);
  }
}
