/**
 * The shape the rewritten report files share (JUnit, metrics, history, the farm's HTML report):
 * every planned test is known from onBegin, and the file is rewritten as the run goes, so a run
 * stopped or killed at any moment leaves a file that says how far it got. Subclasses only say
 * how to write it.
 *
 * When: at onBegin and at onEnd at once, and in between after each test's start and end, at
 * most once per REWRITE_INTERVAL_MS. Each rewrite builds the whole file again, so rewriting it
 * at every test start and end cost the runner two writes and renames per test and reporter
 * (~8 per test, 0.3 s of a 13-test run's CPU time) and grew with the square of the tests; a
 * run killed with SIGKILL now leaves a file at most that interval behind (the CLI marks it
 * interrupted either way, reports/finalize.ts).
 */
import type { FullConfig, FullResult, Reporter, Suite, TestCase, TestResult } from '@playwright/test/reporter';
import { RecordBook, toRecord } from './test-record.js';

/** Where the run is: 'running' until Playwright's onEnd, then its final status. */
export type RunStatus = 'running' | FullResult['status'];

/** The longest a change waits before the file is rewritten, in ms. */
export const REWRITE_INTERVAL_MS = 1000;

export abstract class RewritingReporter implements Reporter {
  protected readonly book = new RecordBook();
  protected status: RunStatus = 'running';
  private pending: NodeJS.Timeout | undefined;
  private lastWriteMs = -Infinity;

  onBegin(config: FullConfig, suite: Suite): void {
    this.began(config);
    this.book.plan(suite.allTests());
    this.rewriteNow();
  }

  onTestBegin(test: TestCase): void {
    this.book.begin(test);
    this.rewriteSoon();
  }

  onTestEnd(test: TestCase, result: TestResult): void {
    this.book.add(toRecord(test, result));
    this.rewriteSoon();
  }

  onEnd(result: FullResult): void {
    this.status = result.status;
    this.ended(result);
    this.rewriteNow();
  }

  printsToStdio(): boolean {
    return false;
  }

  /** Extra state from the run's configuration, before the first write. */
  protected began(_config: FullConfig): void {}

  /** Extra state from the run's result, before the last write. */
  protected ended(_result: FullResult): void {}

  protected abstract write(): void;

  private rewriteNow(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
    this.lastWriteMs = performance.now();
    this.write();
  }

  /** Rewrites now when the last rewrite is an interval old, else once the interval is over. */
  private rewriteSoon(): void {
    if (this.pending) return;
    const waitMs = this.lastWriteMs + REWRITE_INTERVAL_MS - performance.now();
    if (waitMs <= 0) {
      this.rewriteNow();
      return;
    }
    // Not holding the runner's exit: onEnd rewrites whatever is pending.
    this.pending = setTimeout(() => this.rewriteNow(), waitMs).unref();
  }
}
