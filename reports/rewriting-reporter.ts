/**
 * The shape both report files share: every planned test is known from onBegin, and the file is
 * rewritten at onBegin, at each test's start and end, and at onEnd, so a run stopped or killed
 * at any moment leaves a file that says how far it got. Subclasses only say how to write it.
 */
import type { FullConfig, FullResult, Reporter, Suite, TestCase, TestResult } from '@playwright/test/reporter';
import { RecordBook, toRecord } from './test-record.js';

/** Where the run is: 'running' until Playwright's onEnd, then its final status. */
export type RunStatus = 'running' | FullResult['status'];

export abstract class RewritingReporter implements Reporter {
  protected readonly book = new RecordBook();
  protected status: RunStatus = 'running';

  onBegin(config: FullConfig, suite: Suite): void {
    this.began(config);
    this.book.plan(suite.allTests());
    this.write();
  }

  onTestBegin(test: TestCase): void {
    this.book.begin(test);
    this.write();
  }

  onTestEnd(test: TestCase, result: TestResult): void {
    this.book.add(toRecord(test, result));
    this.write();
  }

  onEnd(result: FullResult): void {
    this.status = result.status;
    this.ended(result);
    this.write();
  }

  printsToStdio(): boolean {
    return false;
  }

  /** Extra state from the run's configuration, before the first write. */
  protected began(_config: FullConfig): void {}

  /** Extra state from the run's result, before the last write. */
  protected ended(_result: FullResult): void {}

  protected abstract write(): void;
}
