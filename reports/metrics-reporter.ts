/** metrics.json: per-test durations and outcomes, and echo round-trip figures; rewritten after every test. */
import type { FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';
import { RecordBook, toRecord } from './test-record.js';
import { writeFileAtomic } from './write-atomic.js';

export interface MetricsReporterOptions {
  readonly outputFile: string;
}

export default class MetricsReporter implements Reporter {
  private readonly book = new RecordBook();
  private readonly startedAt = new Date().toISOString();
  private status: FullResult['status'] | 'running' = 'running';

  constructor(private readonly options: MetricsReporterOptions) {}

  onTestEnd(test: TestCase, result: TestResult): void {
    this.book.add(toRecord(test, result));
    this.write();
  }

  onEnd(result: FullResult): void {
    this.status = result.status;
    this.write();
  }

  printsToStdio(): boolean {
    return false;
  }

  private write(): void {
    const records = this.book.finished();
    const metrics = {
      startedAt: this.startedAt,
      status: this.status,
      tests: records.map((record) => ({
        target: record.target,
        suite: record.suite,
        title: record.title,
        repeat: record.repeatIndex,
        attempt: record.attempt,
        outcome: record.outcome,
        failureClass: record.failureClass ?? null,
        durationMs: record.durationMs,
      })),
      echo: records
        .filter((record) => record.echo)
        .map((record) => ({ target: record.target, title: record.title, repeat: record.repeatIndex, ...record.echo })),
    };
    writeFileAtomic(this.options.outputFile, `${JSON.stringify(metrics, null, 2)}\n`);
  }
}
