/**
 * JUnit XML, written with junit-report-builder (the issue's choice): one <testsuite> per target
 * with its properties (kind, firmware SHA-256 per suite, tool versions, the run's status),
 * <error> for infrastructure failures and <failure> for the others with the failure class as
 * `type` and the stack as content, console + trace + target log in <system-out>.
 *
 * Every test Playwright planned is listed from onBegin on, so the file never looks like a pass
 * it was not: a test that was running when the run stopped is an <error type="interrupted">, one
 * that never ran is <skipped/> with its reason ("run interrupted: not run") in the testcase
 * property `skip.reason` and in its <system-out> (the library's <skipped/> has no message), and
 * `run.status` says "running" until the run ends. The file is rewritten at onBegin, as tests
 * start and end (at most once a second, rewriting-reporter.ts), and at onEnd, so a runner
 * killed at any moment leaves an honest file (`farm run` then turns "running" into "interrupted", see finalizeInterruptedReports).
 *
 * Retried tests: the library has no Surefire rerun elements, so the earlier attempts are
 * testcase properties (`attempts`, `flaky`, `attempt.<n>.failure` = "<class>: <message>") and
 * "--- attempt <n> (...) ---" sections of <system-out> with their message, stack and logs; the
 * test counts once, by its last attempt.
 */
import type { FullConfig } from '@playwright/test/reporter';
import junitModule, { type Builder, type TestCase as JunitTestCase } from 'junit-report-builder';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { RewritingReporter, type RunStatus } from './rewriting-reporter.js';
import type { TestEntry, TestRecord } from './test-record.js';
import { writeFileAtomic } from './write-atomic.js';
import { isKnownFlaky, verdictsFor, type HistoryPlan } from './history/run-history.js';
import { describeVerdict } from './history/perf.js';


export interface JunitReporterOptions {
  readonly outputFile: string;
  /** The run's history; null or absent when history is off. */
  readonly history?: HistoryPlan | null;
}


/** The testsuite property holding the run's status. */
export const RUN_STATUS_PROPERTY = 'run.status';
/** The testcase property holding why a <skipped/> test did not run. */
export const SKIP_REASON_PROPERTY = 'skip.reason';
export const INTERRUPTED_TYPE = 'interrupted';
export const INTERRUPTED_MESSAGE = 'run interrupted: the test was stopped before it finished';
export const NOT_RUN_MESSAGE = 'run interrupted: not run';
/**
 * The <error> type of the testcase every <testsuite> carries while its run has not ended (and
 * keeps when it never ends): a consumer that reads only the counts must never see a pass.
 */
export const INCOMPLETE_TYPE = 'incomplete';
export const INCOMPLETE_TITLE = '(run) did not finish';
export const INCOMPLETE_MESSAGE = 'the run did not finish (see the run.status property): this testcase errors until the run ends';
export const FAILED_OUTSIDE_TESTS_MESSAGE = 'the run failed outside any test (see the runner output); no testcase failed';

// The package is CommonJS: at run time its default import is the builder itself, which its
// typings (written for a default export) do not express under NodeNext. The builder is a
// singleton; every file is built on a newBuilder().
const junit = junitModule as unknown as Builder;

const require = createRequire(import.meta.url);
function playwrightVersion(): string {
  try {
    return (require('@playwright/test/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

// Characters outside XML 1.0's Char production; with the u flag, lone surrogates match too.
// eslint-disable-next-line no-control-regex
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/**
 * Text XML 1.0 can hold: control characters (a UART's bell or escape) and lone surrogates are
 * dropped here. xmlbuilder, under the library, drops them too, but its pattern for a lone low
 * surrogate takes the character before it along.
 */
export function xmlText(text: string): string {
  return text.replace(NOT_XML, '');
}

/**
 * xmlText for CDATA content. xmlbuilder 15 splits only the first "]]>" of a CDATA section
 * (String.replace with a string), so a later one would end the section early and break the
 * file; the later ones are split here the same way, the first is left for xmlbuilder. The
 * reader sees the text unchanged.
 */
export function cdataText(text: string): string {
  const clean = xmlText(text);
  const first = clean.indexOf(']]>');
  if (first < 0) return clean;
  const end = first + ']]>'.length;
  return clean.slice(0, end) + clean.slice(end).split(']]>').join(']]]]><![CDATA[>');
}

function logSections(record: TestRecord): string[] {
  const sections = [
    ['console', record.console],
    ['trace buffer', record.trace],
    ['target log', record.targetLog],
  ] as const;
  const notes = record.annotations
    .filter((annotation) => annotation.type !== 'skip')
    .map((annotation) => `${annotation.type}: ${annotation.description ?? ''}`)
    .join('\n');
  return [...(notes ? [`--- annotations ---\n${notes}`] : []), ...sections.map(([name, body]) => `--- ${name} ---\n${body || '(empty)'}`)];
}

function failureSummary(record: TestRecord): string {
  return `${record.failureClass ?? record.outcome}: ${record.message ?? record.outcome}`;
}

function attemptHeader(record: TestRecord): string {
  const how =
    record.outcome === 'failed' || record.outcome === 'error'
      ? `${record.outcome}, ${record.failureClass ?? 'unclassified'}`
      : record.flaky
        ? 'passed, flaky'
        : record.outcome;
  return `--- attempt ${record.attempt + 1} (${how}) ---`;
}

function notRunMessage(status: RunStatus): string {
  if (status === 'running' || status === 'interrupted') return NOT_RUN_MESSAGE;
  if (status === 'timedout') return 'run stopped by its global timeout: not run';
  return `not run (run ${status})`;
}

function skip(testCase: JunitTestCase, reason: string): string {
  testCase.property(SKIP_REASON_PROPERTY, xmlText(reason)).skipped();
  return `--- skipped ---\n${reason}`;
}

function addTestCase(testCase: JunitTestCase, entry: TestEntry, status: RunStatus): void {
  // While an attempt runs, every finished one is earlier than it.
  const last = entry.running ? undefined : entry.attempts.at(-1);
  const earlier = entry.running ? entry.attempts : entry.attempts.slice(0, -1);
  const retried = earlier.length > 0 || last?.flaky === true;
  const out: string[] = [];
  if (retried) {
    testCase.property('attempts', String(earlier.length + 1));
    if (last?.flaky) testCase.property('flaky', 'true');
    for (const attempt of earlier) {
      if (attempt.outcome === 'failed' || attempt.outcome === 'error') testCase.property(`attempt.${attempt.attempt + 1}.failure`, xmlText(failureSummary(attempt)));
      // The message, unless the stack already starts with it.
      const message = attempt.message && !attempt.details?.startsWith(attempt.message) ? [attempt.message] : [];
      out.push(attemptHeader(attempt), ...message, ...(attempt.details ? [attempt.details] : []), ...logSections(attempt));
    }
  }
  if (entry.running || last?.outcome === 'interrupted') {
    testCase.error(INTERRUPTED_MESSAGE, INTERRUPTED_TYPE);
  } else if (!last) {
    out.push(skip(testCase, notRunMessage(status)));
  } else {
    if (last.outcome === 'skipped') out.push(skip(testCase, last.skipReason ?? '(no reason given)'));
    else if (last.outcome === 'error') testCase.error(xmlText(last.message ?? 'error'), last.failureClass, last.details && cdataText(last.details));
    else if (last.outcome === 'failed') {
      testCase.failure(xmlText(last.message ?? 'failed'), last.failureClass);
      if (last.details) testCase.stacktrace(cdataText(last.details));
    }
    if (retried) out.push(attemptHeader(last));
    out.push(...logSections(last));
  }
  if (out.length) testCase.standardOutput(cdataText(out.join('\n')));
}

/** The testcase property marking a test known to be flaky from earlier runs (same target, same firmware). */
export const KNOWN_FLAKY_PROPERTY = 'history.flaky';
/** The testcase property holding the performance status ("regression") and one per regressed metric. */
export const PERF_STATUS_PROPERTY = 'perf.status';
export const PERFORMANCE_FAILURE_TYPE = 'performance';

/**
 * What the run's history says about a test: `history.flaky` = true when it is known to be flaky,
 * and for a performance regression `perf.status` = regression with `perf.<metric>` saying how
 * far out of its band it is; with failOnRegression a passed test with a regression also gets a
 * <failure type="performance">, so the gate fails on it.
 */
function addHistoryProperties(testCase: JunitTestCase, entry: TestEntry, history: HistoryPlan | null | undefined): void {
  if (!history) return;
  if (isKnownFlaky(entry.test, history)) testCase.property(KNOWN_FLAKY_PROPERTY, 'true');
  const last = entry.running ? undefined : entry.attempts.at(-1);
  if (!last) return;
  const regressions = verdictsFor(last, history).filter((verdict) => verdict.status === 'regression');
  if (!regressions.length) return;
  testCase.property(PERF_STATUS_PROPERTY, 'regression');
  for (const verdict of regressions) testCase.property(`perf.${verdict.metric}`, xmlText(describeVerdict(verdict)));
  if (history.failOnRegression && last.outcome === 'passed') {
    testCase.failure(xmlText(`performance regression: ${regressions.map(describeVerdict).join('; ')}`), PERFORMANCE_FAILURE_TYPE);
  }
}

function failedOrErrored(entry: TestEntry): boolean {
  const outcome = entry.running ? 'interrupted' : entry.attempts.at(-1)?.outcome;
  return outcome === 'failed' || outcome === 'error' || outcome === 'interrupted';
}

/**
 * Why the file must not read as a pass although its counts might (every test so far passed or
 * was skipped), or undefined: a run that has not ended, was stopped or timed out, or failed
 * with no testcase failing (an error outside the tests).
 */
function incompleteReason(entries: readonly TestEntry[], status: RunStatus): string | undefined {
  if (status === 'passed') return undefined;
  if (status === 'failed') return entries.some(failedOrErrored) ? undefined : FAILED_OUTSIDE_TESTS_MESSAGE;
  return INCOMPLETE_MESSAGE;
}

/** JUnit's timestamp: ISO 8601 without a zone (the XSD's form), in UTC. */
function junitTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

function xmlAttribute(value: string): string {
  return xmlText(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The whole JUnit file for the tests of a run as they stand, every planned test included.
 * `startedMs`: when the run started, the timestamp of a <testsuite> none of whose tests started.
 * `history`: the run's history (known-flaky tests, performance baselines), see addHistoryProperties.
 */
export function buildJunitXml(entries: readonly TestEntry[], repeat: number, status: RunStatus, startedMs = Date.now(), history?: HistoryPlan | null): string {
  const builder = junit.newBuilder().name('farm');
  const incomplete = incompleteReason(entries, status);
  const byTarget = new Map<string, TestEntry[]>();
  for (const entry of entries) {
    const list = byTarget.get(entry.test.target) ?? [];
    list.push(entry);
    byTarget.set(entry.test.target, list);
  }
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
    const starts = list.flatMap((entry) => entry.attempts.map((attempt) => attempt.timing.startMs));
    const suite = builder.testSuite().name(xmlText(target)).timestamp(junitTimestamp(starts.length ? Math.min(...starts) : startedMs));
    suite.time(list.reduce((sum, entry) => sum + (entry.attempts.at(-1)?.durationMs ?? 0), 0) / 1000);
    for (const [key, value] of [...properties].sort(([a], [b]) => a.localeCompare(b))) suite.property(xmlText(key), xmlText(value));
    for (const entry of list) {
      const { test } = entry;
      const name = repeat > 1 ? `${test.title} [repeat ${test.repeatIndex + 1}]` : test.title;
      const testCase = suite
        .testCase()
        .className(xmlText(`${test.target}.${test.suite}`))
        .name(xmlText(name))
        .time((entry.attempts.at(-1)?.durationMs ?? 0) / 1000);
      addTestCase(testCase, entry, status);
      addHistoryProperties(testCase, entry, history);
    }
    if (incomplete !== undefined) {
      suite.testCase().className(xmlText(`${target}.(run)`)).name(INCOMPLETE_TITLE).error(incomplete, INCOMPLETE_TYPE);
    }
  }
  // The library has no setter for `hostname`; every <testsuite> gets the machine that ran it.
  return `${builder.build().replace(/<testsuite /g, `<testsuite hostname="${xmlAttribute(hostname())}" `)}\n`;
}

export default class JunitReporter extends RewritingReporter {
  private repeat = 1;
  private readonly startedMs = Date.now();

  constructor(private readonly options: JunitReporterOptions) {
    super();
  }

  protected override began(config: FullConfig): void {
    this.repeat = Math.max(1, ...config.projects.map((project) => project.repeatEach));
  }

  protected write(): void {
    writeFileAtomic(this.options.outputFile, buildJunitXml(this.book.entries(), this.repeat, this.status, this.startedMs, this.options.history));
  }
}
