/**
 * JUnit XML: one <testsuite> per target with its properties (kind, firmware SHA-256 per suite,
 * tool versions, the run's status), <error> for infrastructure failures and <failure> for the
 * others with the failure class as `type`, console + trace in system-out, and the failed
 * attempts before a retry as Surefire's <flakyFailure> / <rerunFailure> (and ...Error).
 *
 * Every test Playwright planned is listed from onBegin on, so the file never looks like a pass
 * it was not: a test that was running when the run stopped is an <error type="interrupted">, one
 * that never ran is <skipped message="run interrupted: not run">, and `run.status` says
 * "running" until the run ends. The file is rewritten at onBegin, at every test's start and end,
 * and at onEnd, so a runner killed at any moment leaves an honest file (`farm run` then turns
 * "running" into "interrupted", see finalizeInterruptedReports).
 */
import type { FullConfig, FullResult, Reporter, Suite, TestCase, TestResult } from '@playwright/test/reporter';
import { createRequire } from 'node:module';
import { RecordBook, toRecord, type TestEntry, type TestRecord } from './test-record.js';
import { writeFileAtomic } from './write-atomic.js';
import { xmlDocument, type XmlNode } from './xml.js';

export interface JunitReporterOptions {
  readonly outputFile: string;
}

/** Where the run is: 'running' until Playwright's onEnd, then its final status. */
export type RunStatus = 'running' | FullResult['status'];

/** The testsuite property holding the run's status. */
export const RUN_STATUS_PROPERTY = 'run.status';
export const INTERRUPTED_TYPE = 'interrupted';
export const INTERRUPTED_MESSAGE = 'run interrupted: the test was stopped before it finished';
export const NOT_RUN_MESSAGE = 'run interrupted: not run';

const require = createRequire(import.meta.url);
function playwrightVersion(): string {
  try {
    return (require('@playwright/test/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function systemOut(record: TestRecord): string {
  const sections = [
    ['console', record.console],
    ['trace buffer', record.trace],
    ['target log', record.targetLog],
  ] as const;
  const notes = record.annotations
    .filter((annotation) => annotation.type !== 'skip')
    .map((annotation) => `${annotation.type}: ${annotation.description ?? ''}`)
    .join('\n');
  return [
    ...(notes ? [`--- annotations ---\n${notes}`] : []),
    ...(record.flaky ? [`--- passed on attempt ${record.attempt + 1} (flaky) ---`] : []),
    ...sections.map(([name, body]) => `--- ${name} ---\n${body || '(empty)'}`),
  ].join('\n');
}

function notRunMessage(status: RunStatus): string {
  if (status === 'running' || status === 'interrupted') return NOT_RUN_MESSAGE;
  if (status === 'timedout') return 'run stopped by its global timeout: not run';
  return `not run (run ${status})`;
}

interface Counts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  time: number;
}

function testCaseNode(entry: TestEntry, repeat: number, status: RunStatus, counts: Counts): XmlNode {
  const { test } = entry;
  const latest = entry.attempts.at(-1);
  const name = repeat > 1 ? `${test.title} [repeat ${test.repeatIndex + 1}]` : test.title;
  const durationMs = latest?.durationMs ?? 0;
  counts.tests++;
  counts.time += durationMs;
  const children: XmlNode[] = [];
  if (entry.running || latest?.outcome === 'interrupted') {
    counts.errors++;
    children.push({ name: 'error', attributes: { message: INTERRUPTED_MESSAGE, type: INTERRUPTED_TYPE } });
  } else if (!latest) {
    counts.skipped++;
    children.push({ name: 'skipped', attributes: { message: notRunMessage(status) } });
  } else if (latest.outcome === 'skipped') {
    counts.skipped++;
    children.push({ name: 'skipped', attributes: { message: latest.skipReason } });
  } else if (latest.outcome === 'error') {
    counts.errors++;
    children.push({ name: 'error', attributes: { message: latest.message ?? 'error', type: latest.failureClass }, text: latest.details });
  } else if (latest.outcome === 'failed') {
    counts.failures++;
    children.push({ name: 'failure', attributes: { message: latest.message ?? 'failed', type: latest.failureClass }, text: latest.details });
  }
  // Earlier attempts that failed, as Surefire records reruns: <flakyFailure> / <flakyError> in a
  // test that passed on a retry, <rerunFailure> / <rerunError> in one that failed every time.
  const rerunKind = latest?.outcome === 'passed' ? 'flaky' : 'rerun';
  for (const attempt of entry.attempts.slice(0, -1)) {
    if (attempt.outcome !== 'failed' && attempt.outcome !== 'error') continue;
    children.push({
      name: `${rerunKind}${attempt.outcome === 'error' ? 'Error' : 'Failure'}`,
      attributes: { message: attempt.message ?? attempt.outcome, type: attempt.failureClass },
      children: [
        ...(attempt.details ? [{ name: 'stackTrace', text: attempt.details }] : []),
        { name: 'system-out', text: `--- attempt ${attempt.attempt + 1} ---\n${systemOut(attempt)}` },
      ],
    });
  }
  if (latest && latest.outcome !== 'interrupted') children.push({ name: 'system-out', text: systemOut(latest) });
  return { name: 'testcase', attributes: { classname: `${test.target}.${test.suite}`, name, time: durationMs / 1000 }, children };
}

export function buildJunitXml(entries: readonly TestEntry[], repeat: number, status: RunStatus): string {
  const byTarget = new Map<string, TestEntry[]>();
  for (const entry of entries) {
    const list = byTarget.get(entry.test.target) ?? [];
    list.push(entry);
    byTarget.set(entry.test.target, list);
  }
  const total: Counts = { tests: 0, failures: 0, errors: 0, skipped: 0, time: 0 };
  const suites: XmlNode[] = [];
  for (const [target, list] of byTarget) {
    const properties = new Map<string, string>([
      ['node.version', process.version],
      ['playwright.version', playwrightVersion()],
      [RUN_STATUS_PROPERTY, status],
    ]);
    for (const entry of list) {
      if (entry.test.kind) properties.set('target.kind', entry.test.kind);
      for (const record of entry.attempts) {
        if (record.kind) properties.set('target.kind', record.kind);
        if (record.meta) {
          properties.set(`firmware.${record.meta.suite}.label`, record.meta.firmware.label);
          properties.set(`firmware.${record.meta.suite}.sha256`, record.meta.firmware.sha256);
          for (const [key, value] of Object.entries(record.meta.properties)) properties.set(key, value);
        }
      }
    }
    const counts: Counts = { tests: 0, failures: 0, errors: 0, skipped: 0, time: 0 };
    const testCases = list.map((entry) => testCaseNode(entry, repeat, status, counts));
    for (const key of ['tests', 'failures', 'errors', 'skipped', 'time'] as const) total[key] += counts[key];
    suites.push({
      name: 'testsuite',
      attributes: { name: target, tests: counts.tests, failures: counts.failures, errors: counts.errors, skipped: counts.skipped, time: counts.time / 1000 },
      children: [
        {
          name: 'properties',
          children: [...properties].sort(([a], [b]) => a.localeCompare(b)).map(([key, value]) => ({ name: 'property', attributes: { name: key, value } })),
        },
        ...testCases,
      ],
    });
  }
  return xmlDocument({
    name: 'testsuites',
    attributes: { name: 'farm', tests: total.tests, failures: total.failures, errors: total.errors, skipped: total.skipped, time: total.time / 1000 },
    children: suites,
  });
}

export default class JunitReporter implements Reporter {
  private readonly book = new RecordBook();
  private repeat = 1;
  private status: RunStatus = 'running';

  constructor(private readonly options: JunitReporterOptions) {}

  onBegin(config: FullConfig, suite: Suite): void {
    this.repeat = Math.max(1, ...config.projects.map((project) => project.repeatEach));
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
    this.write();
  }

  printsToStdio(): boolean {
    return false;
  }

  private write(): void {
    writeFileAtomic(this.options.outputFile, buildJunitXml(this.book.entries(), this.repeat, this.status));
  }
}
