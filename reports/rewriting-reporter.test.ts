import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REWRITE_INTERVAL_MS, RewritingReporter } from './rewriting-reporter.js';

/** Records what each rewrite would have written: the number of finished attempts and the status. */
class CountingReporter extends RewritingReporter {
  readonly writes: { ended: number; status: string }[] = [];
  protected write(): void {
    this.writes.push({ ended: this.book.entries().reduce((sum, entry) => sum + entry.attempts.length, 0), status: this.status });
  }
}

const testCase = (id: string) => ({
  id,
  title: `test ${id}`,
  repeatEachIndex: 0,
  retries: 0,
  annotations: [],
  location: { file: '/x/suites/echo.spec.js' },
  parent: { project: () => ({ name: 'sim', metadata: { kind: 'sim' } }) },
});
const passed = { retry: 0, status: 'passed', duration: 10, startTime: new Date(0), workerIndex: 0, steps: [], attachments: [], annotations: [], errors: [] };

async function until(what: string, condition: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !condition(); ) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('a rewriting report is written at the start and the end at once, and in between at most once per interval, never losing a change', async () => {
  const reporter = new CountingReporter();
  const tests = ['1', '2', '3'].map(testCase);
  reporter.onBegin({ projects: [] } as never, { allTests: () => tests } as never);
  assert.deepEqual(reporter.writes, [{ ended: 0, status: 'running' }], 'written at onBegin');

  // A burst of starts and ends right after a rewrite: one rewrite, an interval later, with all of them.
  for (const item of tests.slice(0, 2)) {
    reporter.onTestBegin(item as never);
    reporter.onTestEnd(item as never, passed as never);
  }
  assert.equal(reporter.writes.length, 1, 'the burst waits for the interval');
  await until('the pending rewrite', () => reporter.writes.length === 2);
  assert.deepEqual(reporter.writes[1], { ended: 2, status: 'running' });

  // After a quiet interval, a change is written at once.
  await new Promise((resolve) => setTimeout(resolve, REWRITE_INTERVAL_MS + 50));
  reporter.onTestBegin(tests[2] as never);
  assert.equal(reporter.writes.length, 3, 'written at once after a quiet interval');

  // onEnd writes at once, with what is pending, and cancels the pending rewrite.
  reporter.onTestEnd(tests[2] as never, passed as never);
  reporter.onEnd({ status: 'passed' } as never);
  assert.deepEqual(reporter.writes.at(-1), { ended: 3, status: 'passed' });
  const count = reporter.writes.length;
  await new Promise((resolve) => setTimeout(resolve, REWRITE_INTERVAL_MS + 50));
  assert.equal(reporter.writes.length, count, 'nothing is written after onEnd');
});
