/**
 * metrics.json: per-attempt durations (split into fixture set-up, body and teardown) and outcomes,
 * echo round-trip figures, and once the run ends, when Playwright's run started and how long it
 * took until the reporters' onEnd; rewritten at onBegin (status "running", every planned test
 * in `notRun`), as tests start and end (at most once a second, rewriting-reporter.ts), and at
 * onEnd. `npm run bench:farm` reads it.
 */
import type { FullResult } from '@playwright/test/reporter';
import { RewritingReporter } from './rewriting-reporter.js';
import { writeFileAtomic } from './write-atomic.js';

export interface MetricsReporterOptions {
  readonly outputFile: string;
}

export default class MetricsReporter extends RewritingReporter {
  private readonly startedAt = new Date().toISOString();
  private run: { startedAt: string; durationMs: number } | null = null;

  constructor(private readonly options: MetricsReporterOptions) {
    super();
  }

  protected override ended(result: FullResult): void {
    this.run = { startedAt: result.startTime.toISOString(), durationMs: Math.round(result.duration) };
  }

  protected write(): void {
    const records = this.book.finished();
    const entries = this.book.entries();
    const unfinished = entries.filter((entry) => entry.running || entry.attempts.at(-1)?.outcome === 'interrupted');
    const metrics = {
      startedAt: this.startedAt,
      status: this.status,
      run: this.run,
      // Every attempt: a test retried after a failure appears once per attempt.
      tests: this.book.attempts().filter((record) => record.outcome !== 'interrupted').map((record) => ({
        target: record.target,
        suite: record.suite,
        title: record.title,
        repeat: record.repeatIndex,
        attempt: record.attempt,
        outcome: record.outcome,
        flaky: record.flaky,
        failureClass: record.failureClass ?? null,
        durationMs: record.durationMs,
        startedAt: new Date(record.timing.startMs).toISOString(),
        workerIndex: record.timing.workerIndex,
        setupMs: record.timing.setupMs,
        bodyMs: record.timing.bodyMs,
        teardownMs: record.timing.teardownMs,
      })),
      // Tests stopped before they finished, and tests that never started (all of them until the
      // first test ends, so a run killed early still says what it did not do).
      interrupted: unfinished.map(({ test }) => ({ target: test.target, suite: test.suite, title: test.title, repeat: test.repeatIndex })),
      notRun: this.book.notRun().map((test) => ({ target: test.target, suite: test.suite, title: test.title, repeat: test.repeatIndex })),
      echo: records
        .filter((record) => record.echo)
        .map((record) => ({ target: record.target, title: record.title, repeat: record.repeatIndex, ...record.echo })),
      flood: records
        .filter((record) => record.flood)
        .map((record) => ({ target: record.target, title: record.title, repeat: record.repeatIndex, ...record.flood })),
    };
    writeFileAtomic(this.options.outputFile, `${JSON.stringify(metrics, null, 2)}\n`);
  }
}
