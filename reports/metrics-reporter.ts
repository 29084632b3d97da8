/**
 * metrics.json: per-test durations (split into fixture set-up, body and teardown) and outcomes,
 * echo round-trip figures, and once the run ends, when Playwright's run started and how long it
 * took until the reporters' onEnd; rewritten after every test. `npm run bench:farm` reads it.
 */
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
  private run: { startedAt: string; durationMs: number } | null = null;

  constructor(private readonly options: MetricsReporterOptions) {}

  onTestEnd(test: TestCase, result: TestResult): void {
    this.book.add(toRecord(test, result));
    this.write();
  }

  onEnd(result: FullResult): void {
    this.status = result.status;
    this.run = { startedAt: result.startTime.toISOString(), durationMs: Math.round(result.duration) };
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
      run: this.run,
      tests: records.map((record) => ({
        target: record.target,
        suite: record.suite,
        title: record.title,
        repeat: record.repeatIndex,
        attempt: record.attempt,
        outcome: record.outcome,
        failureClass: record.failureClass ?? null,
        durationMs: record.durationMs,
        startedAt: new Date(record.timing.startMs).toISOString(),
        workerIndex: record.timing.workerIndex,
        setupMs: record.timing.setupMs,
        bodyMs: record.timing.bodyMs,
        teardownMs: record.timing.teardownMs,
      })),
      echo: records
        .filter((record) => record.echo)
        .map((record) => ({ target: record.target, title: record.title, repeat: record.repeatIndex, ...record.echo })),
    };
    writeFileAtomic(this.options.outputFile, `${JSON.stringify(metrics, null, 2)}\n`);
  }
}
