/**
 * One finished test as every farm reporter sees it: target, suite, status, failure class,
 * and what the fixtures attached (console, trace, target metadata, echo metrics). The
 * failure class is read back from the error text ("RemoteCrashedError[protocol]: ..."), with
 * defaults for errors that carry none.
 */
import { basename, join } from 'node:path';
import type { Suite, TestCase, TestError, TestResult } from '@playwright/test/reporter';
import { suiteOfEntry } from './paths.js';
import { failureClassFromText, type FailureClass } from '../base/errors.js';
import { ATTACHMENT, type EchoMetrics, type FloodMetrics, type TargetMeta } from './attachments.js';
import { escapeRemoteText } from '../base/remote-text.js';

export type Outcome = 'passed' | 'failed' | 'error' | 'skipped' | 'interrupted';

/**
 * Where a test's time went, from Playwright's own step timings: the "Before Hooks" step is the
 * fixtures' set-up (for the first test of a worker it includes the worker fixtures, i.e.
 * provisioning the target), "After Hooks" their teardown; the body is the rest of the duration.
 * A worker's own teardown (the target's) happens after its last test and is in no test's time.
 */
export interface TestTiming {
  /** When the test's fixtures started setting up, ms since the epoch. */
  readonly startMs: number;
  readonly workerIndex: number;
  readonly setupMs: number;
  readonly teardownMs: number;
  readonly bodyMs: number;
}

export interface TestRecord {
  readonly id: string;
  readonly target: string;
  readonly kind: string | undefined;
  readonly suite: string;
  readonly title: string;
  readonly repeatIndex: number;
  readonly attempt: number;
  readonly outcome: Outcome;
  /** Passed only after a retry. */
  readonly flaky: boolean;
  readonly durationMs: number;
  readonly timing: TestTiming;
  readonly failureClass: FailureClass | undefined;
  /** First line of the failure. */
  readonly message: string | undefined;
  /** Full failure text (all errors, with stacks). */
  readonly details: string | undefined;
  readonly skipReason: string | undefined;
  readonly meta: TargetMeta | undefined;
  readonly console: string;
  readonly trace: string;
  readonly targetLog: string;
  readonly echo: EchoMetrics | undefined;
  readonly flood: FloodMetrics | undefined;
  readonly annotations: readonly { type: string; description?: string }[];
}

// Strips terminal colour codes Playwright puts into expect() messages; any other control
// character left (remote bytes a suite quoted raw) is escaped, never printed or reported raw.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
const plain = (value: string | undefined) => escapeRemoteText((value ?? '').replace(ANSI, ''));

function errorText(error: TestError): string {
  return plain(error.stack ?? error.message ?? error.value);
}

/** Which of the four classes a failed result belongs to. */
export function classifyErrors(status: TestResult['status'], errors: readonly TestError[]): FailureClass {
  for (const error of errors) {
    for (const candidate of [error.message, error.stack, error.value]) {
      const found = candidate ? failureClassFromText(plain(candidate)) : undefined;
      if (found) return found;
    }
  }
  const texts = errors.map((error) => plain(error.message ?? error.value));
  // A worker fixture (the target) that fails or times out: the target was not provisioned.
  if (texts.some((text) => /fixture "target"|"target" (?:timeout|failed)/i.test(text))) return 'infrastructure';
  if (texts.some((text) => /\bexpect\(|AssertionError/.test(text))) return 'assertion';
  if (status === 'timedOut' || texts.some((text) => /Test timeout of \d+ms exceeded/.test(text))) return 'protocol';
  return 'infrastructure';
}

function attachmentText(result: TestResult, name: string): string {
  return result.attachments
    .filter((attachment) => attachment.name === name && attachment.body)
    .map((attachment) => attachment.body?.toString('utf8') ?? '')
    .join('');
}

function attachmentJson<T>(result: TestResult, name: string): T | undefined {
  const body = attachmentText(result, name);
  if (!body) return undefined;
  try {
    return JSON.parse(body) as T;
  } catch {
    return undefined;
  }
}

// Playwright lists the annotations of the last attempt both on the test and on its result.
function uniqueAnnotations(annotations: readonly { type: string; description?: string }[]) {
  const seen = new Set<string>();
  return annotations
    .filter((annotation) => {
      const key = `${annotation.type}\u0000${annotation.description ?? ''}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .map((annotation) => ({ type: annotation.type, ...(annotation.description !== undefined ? { description: annotation.description } : {}) }));
}

function hookMs(result: TestResult, title: string): number {
  let total = 0;
  for (const step of result.steps ?? []) if (step.category === 'hook' && step.title === title) total += step.duration;
  return Math.max(0, total);
}

/**
 * A test's length: Playwright's duration, but never less than its hook steps (a test whose
 * worker fixture failed has a "Before Hooks" step longer than its reported duration), so that
 * setup + body + teardown = duration always holds.
 */
export function durationOf(result: TestResult): number {
  return Math.max(result.duration, hookMs(result, 'Before Hooks') + hookMs(result, 'After Hooks'));
}

export function timingOf(result: TestResult): TestTiming {
  const setupMs = hookMs(result, 'Before Hooks');
  const teardownMs = hookMs(result, 'After Hooks');
  return {
    startMs: result.startTime.getTime(),
    workerIndex: result.workerIndex,
    setupMs,
    teardownMs,
    bodyMs: durationOf(result) - setupMs - teardownMs,
  };
}

/**
 * A test's suite: the folder of the run's entry file it was loaded through (`farm run` names
 * them after the suites, see farm/suite-entries.ts), else its spec file's base name.
 */
export function suiteOf(test: TestCase): string {
  let parent: Suite | undefined = test.parent;
  while (parent && parent.type !== 'file') parent = parent.parent;
  // A file suite's title is its path relative to the project's test folder: "<suite>/<file>.js".
  const testDir = test.parent.project()?.testDir;
  const entry = parent && testDir !== undefined ? suiteOfEntry(join(testDir, parent.title)) : undefined;
  return entry ?? basename(test.location.file).replace(/\.spec\.[cm]?[jt]s$/, '');
}

export function targetOf(test: TestCase): string {
  return test.parent.project()?.name ?? '(no target)';
}

export function toRecord(test: TestCase, result: TestResult): TestRecord {
  let outcome: Outcome;
  let failureClass: FailureClass | undefined;
  if (result.status === 'passed') outcome = 'passed';
  else if (result.status === 'skipped') outcome = 'skipped';
  else if (result.status === 'interrupted') outcome = 'interrupted';
  else {
    failureClass = classifyErrors(result.status, result.errors);
    outcome = failureClass === 'infrastructure' ? 'error' : 'failed';
  }
  const first = result.errors[0];
  const message = first ? plain(first.message ?? first.value).split('\n').find((line) => line.trim() !== '') : undefined;
  const meta = attachmentJson<TargetMeta>(result, ATTACHMENT.meta);
  const skip = test.annotations.concat(result.annotations ?? []).find((annotation) => annotation.type === 'skip');
  return {
    id: test.id,
    target: targetOf(test),
    kind: meta?.kind,
    suite: suiteOf(test),
    title: test.title,
    repeatIndex: test.repeatEachIndex,
    attempt: result.retry,
    outcome,
    flaky: outcome === 'passed' && result.retry > 0,
    durationMs: durationOf(result),
    timing: timingOf(result),
    failureClass,
    message: message?.trim(),
    details: result.errors.length ? result.errors.map(errorText).join('\n\n') : undefined,
    skipReason: skip?.description,
    meta,
    console: attachmentText(result, ATTACHMENT.console),
    trace: attachmentText(result, ATTACHMENT.trace),
    targetLog: attachmentText(result, ATTACHMENT.targetLog),
    echo: attachmentJson<EchoMetrics>(result, ATTACHMENT.echoMetrics),
    flood: attachmentJson<FloodMetrics>(result, ATTACHMENT.floodMetrics),
    annotations: uniqueAnnotations([...test.annotations, ...(result.annotations ?? [])]),
  };
}

/** A test of the run as Playwright planned it in onBegin, whether or not it has run yet. */
export interface PlannedTest {
  readonly id: string;
  readonly target: string;
  /** The target's kind, from the project metadata the farm's Playwright config sets. */
  readonly kind: string | undefined;
  readonly suite: string;
  readonly title: string;
  readonly repeatIndex: number;
}

export function plannedTest(test: TestCase): PlannedTest {
  const kind = test.parent.project()?.metadata?.kind;
  return {
    id: test.id,
    target: targetOf(test),
    kind: typeof kind === 'string' ? kind : undefined,
    suite: suiteOf(test),
    title: test.title,
    repeatIndex: test.repeatEachIndex,
  };
}

/** One planned test with every attempt that finished so far, oldest first. */
export interface TestEntry {
  readonly test: PlannedTest;
  readonly attempts: readonly TestRecord[];
  /** An attempt has begun and not ended yet. */
  readonly running: boolean;
}

/**
 * The run as the reporters know it: every planned test (from onBegin, so a test that never ran
 * is still listed), every finished attempt of each, and which are running now.
 */
export class RecordBook {
  private readonly tests = new Map<string, { test: PlannedTest; attempts: TestRecord[]; running: boolean }>();

  /** The tests of the run, in Playwright's order (targets in farm.yaml order, then files). */
  plan(tests: readonly TestCase[]): void {
    for (const test of tests) this.entry(plannedTest(test));
  }

  begin(test: TestCase): void {
    this.entry(plannedTest(test)).running = true;
  }

  add(record: TestRecord): void {
    const entry = this.entry(record);
    entry.attempts.push(record);
    entry.running = false;
  }

  entries(): TestEntry[] {
    return [...this.tests.values()].map((entry) => ({ test: entry.test, attempts: [...entry.attempts], running: entry.running }));
  }

  /** Every finished attempt, in plan order. */
  attempts(): TestRecord[] {
    return [...this.tests.values()].flatMap((entry) => entry.attempts);
  }

  /** The latest attempt of every test that has one. */
  latest(): TestRecord[] {
    return [...this.tests.values()].flatMap((entry) => entry.attempts.slice(-1));
  }

  /** Latest attempts that finished (an interrupted attempt did not). */
  finished(): TestRecord[] {
    return this.latest().filter((record) => record.outcome !== 'interrupted');
  }

  /** Planned tests without any attempt that ended and none running. */
  notRun(): PlannedTest[] {
    return [...this.tests.values()].filter((entry) => entry.attempts.length === 0 && !entry.running).map((entry) => entry.test);
  }

  private entry(test: PlannedTest | TestRecord) {
    let entry = this.tests.get(test.id);
    if (!entry) {
      const planned: PlannedTest = { id: test.id, target: test.target, kind: test.kind, suite: test.suite, title: test.title, repeatIndex: test.repeatIndex };
      entry = { test: planned, attempts: [], running: false };
      this.tests.set(test.id, entry);
    }
    return entry;
  }
}
