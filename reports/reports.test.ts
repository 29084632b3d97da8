import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestResult, TestStep } from '@playwright/test/reporter';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyErrors, RecordBook, timingOf, toRecord, type TestEntry, type TestRecord } from './test-record.js';
import { buildJunitXml } from './junit-reporter.js';
import { finalizeInterruptedReports } from './finalize.js';
import { displayMessage, formatTable, summarize } from './summary.js';

test('the failure class comes from the error name, with defaults for unmarked errors', () => {
  assert.equal(classifyErrors('failed', [{ message: 'RemoteCrashedError[protocol]: core 1 faulted' }]), 'protocol');
  assert.equal(classifyErrors('failed', [{ message: 'no marker', stack: 'FirmwareError[firmware]: no announcement\n    at x' }]), 'firmware');
  assert.equal(classifyErrors('failed', [{ message: 'Error: \u001b[2mexpect(\u001b[22mreceived).toBe(expected)' }]), 'assertion');
  assert.equal(classifyErrors('timedOut', [{ message: 'Test timeout of 30000ms exceeded.' }]), 'protocol');
  assert.equal(classifyErrors('timedOut', [{ message: 'Fixture "target" timeout of 600000ms exceeded during setup.' }]), 'infrastructure');
  assert.equal(classifyErrors('failed', [{ message: 'TypeError: x is not a function' }]), 'infrastructure');
});

function record(overrides: Partial<TestRecord>): TestRecord {
  return {
    id: 'x',
    target: 'sim',
    kind: 'sim',
    suite: 'echo',
    title: 't',
    repeatIndex: 0,
    attempt: 0,
    outcome: 'passed',
    flaky: false,
    durationMs: 1500,
    timing: { startMs: 0, workerIndex: 0, setupMs: 100, teardownMs: 50, bodyMs: 1350 },
    failureClass: undefined,
    message: undefined,
    details: undefined,
    skipReason: undefined,
    meta: { target: 'sim', kind: 'sim', suite: 'echo', firmware: { label: 'echo.elf', sha256: 'ab'.repeat(32) }, properties: { 'qemu.version': '8.2' } },
    console: 'hello from uart',
    trace: 'trace line',
    targetLog: '',
    echo: undefined,
    annotations: [],
    ...overrides,
  };
}

function entries(records: readonly TestRecord[]): TestEntry[] {
  const book = new RecordBook();
  for (const item of records) book.add(item);
  return book.entries();
}

test('JUnit: one testsuite per target with properties; <error> for infrastructure, <failure> typed by class', () => {
  const xml = buildJunitXml(
    entries([
      record({ id: '1', title: 'ok' }),
      record({ id: '2', title: 'bytes', outcome: 'failed', failureClass: 'assertion', message: 'AssertionFailure[assertion]: byte 3', details: 'stack' }),
      record({ id: '3', title: 'boot', outcome: 'error', failureClass: 'infrastructure', message: 'no QEMU' }),
      record({ id: '4', target: 'board', title: 'skipped one', outcome: 'skipped' }),
    ]),
    1,
    'failed',
  );
  assert.match(xml, /<testsuite name="sim"[^>]*tests="3" failures="1" errors="1"/);
  assert.match(xml, /<testsuite name="board"[^>]*skipped="1"/);
  assert.match(xml, /<property name="target.kind" value="sim"\/>/);
  assert.match(xml, /<property name="firmware.echo.sha256" value="(ab){32}"\/>/);
  assert.match(xml, /<property name="qemu.version" value="8.2"\/>/);
  assert.match(xml, /<failure message="AssertionFailure\[assertion\]: byte 3" type="assertion"/);
  assert.match(xml, /<error message="no QEMU" type="infrastructure"/);
  assert.match(xml, /--- console ---\nhello from uart\n--- trace buffer ---\ntrace line/);
});

test('the summary counts target x suite and skips are never passes', () => {
  const rows = summarize([
    record({ id: '1' }),
    record({ id: '2', outcome: 'skipped' }),
    record({ id: '3', outcome: 'failed', failureClass: 'protocol' }),
    record({ id: '4', suite: 'lifecycle', outcome: 'error', failureClass: 'infrastructure' }),
    record({ id: '5', outcome: 'interrupted' }),
  ]);
  assert.deepEqual(
    rows.map((row) => [row.target, row.suite, row.passed, row.failed, row.error, row.skipped]),
    [
      ['sim', 'echo', 1, 1, 0, 1],
      ['sim', 'lifecycle', 0, 0, 1, 0],
    ],
  );
  assert.match(formatTable(rows), /total\s+1\s+1\s+1\s+1\s+6\.0s/);
});

test('timing: fixture set-up and teardown are the hook steps, the body is the rest of the duration', () => {
  const step = (category: string, title: string, duration: number) => ({ category, title, duration }) as TestStep;
  const result = {
    startTime: new Date(1_700_000_000_000),
    workerIndex: 3,
    duration: 500,
    steps: [step('hook', 'Before Hooks', 120), step('test.step', 'exchange', 300), step('expect', 'toBe', 1), step('hook', 'After Hooks', 30)],
  } as unknown as TestResult;
  assert.deepEqual(timingOf(result), { startMs: 1_700_000_000_000, workerIndex: 3, setupMs: 120, teardownMs: 30, bodyMs: 350 });
});

test('JUnit of an interrupted run: stopped tests are interrupted errors, tests never run are skipped "not run", the status says so', () => {
  const planned = (id: string, target: string, title: string) => ({ id, target, kind: 'fake', suite: 'echo', title, repeatIndex: 0 });
  const run: TestEntry[] = [
    { test: planned('1', 'sim', 'done'), attempts: [record({ id: '1', title: 'done' })], running: false },
    { test: planned('2', 'sim', 'cut off'), attempts: [record({ id: '2', title: 'cut off', outcome: 'interrupted', durationMs: 30 })], running: false },
    { test: planned('3', 'sim', 'in flight'), attempts: [], running: true },
    { test: planned('4', 'sim', 'later'), attempts: [], running: false },
    { test: planned('5', 'board', 'never'), attempts: [], running: false },
  ];
  const xml = buildJunitXml(run, 1, 'interrupted');
  assert.match(xml, /<testsuites name="farm" tests="5" failures="0" errors="2" skipped="2"/);
  assert.match(xml, /<testsuite name="sim" tests="4" failures="0" errors="2" skipped="1"/);
  assert.match(xml, /<testsuite name="board" tests="1" failures="0" errors="0" skipped="1"[\s\S]*<property name="target.kind" value="fake"\/>[\s\S]*name="never"[^>]*>\s*<skipped message="run interrupted: not run"\/>/);
  assert.match(xml, /name="cut off"[^>]*>\s*<error message="run interrupted: the test was stopped before it finished" type="interrupted"\/>/);
  assert.match(xml, /name="in flight"[^>]*>\s*<error message="run interrupted[^"]*" type="interrupted"\/>/);
  assert.match(xml, /name="later"[^>]*>\s*<skipped message="run interrupted: not run"\/>/);
  assert.equal(xml.match(/<property name="run.status" value="interrupted"\/>/g)?.length, 2);
  // While the run is going, the same file says so: nothing in it passes for a finished run.
  assert.match(buildJunitXml(run, 1, 'running'), /<property name="run.status" value="running"\/>/);
});

test('XML text and attributes are escaped, and characters XML cannot hold are dropped', () => {
  const xml = buildJunitXml(
    entries([record({ id: '1', outcome: 'failed', failureClass: 'assertion', message: 'a "b" <c> & d\u0001', details: 'x ]]> y', console: 'bell\u0007' })]),
    1,
    'failed',
  );
  assert.match(xml, /<failure message="a &quot;b&quot; &lt;c&gt; &amp; d" type="assertion"><!\[CDATA\[x ]]]]><!\[CDATA\[> y\]\]><\/failure>/);
  assert.match(xml, /--- console ---\nbell\n/);
});

test('a runner killed before its end: the CLI marks its reports interrupted, or writes them when there are none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'farm-finalize-'));
  try {
    const paths = { junit: join(dir, 'junit.xml'), metrics: join(dir, 'metrics.json') };
    const targets = [{ name: 'sim', kind: 'sim' }, { name: 'lp', kind: 'linux-process' }];
    finalizeInterruptedReports(paths, targets);
    const empty = readFileSync(paths.junit, 'utf8');
    assert.match(empty, /<testsuites name="farm" tests="2" failures="0" errors="2"/);
    assert.match(empty, /<testsuite name="lp"[\s\S]*<property name="run.status" value="interrupted"\/>[\s\S]*<error message="run interrupted[^"]*" type="interrupted"\/>/);
    assert.equal((JSON.parse(readFileSync(paths.metrics, 'utf8')) as { status: string }).status, 'interrupted');

    const planned = { id: '1', target: 'sim', kind: 'sim', suite: 'echo', title: 'later', repeatIndex: 0 };
    writeFileSync(paths.junit, buildJunitXml([{ test: planned, attempts: [], running: false }], 1, 'running'));
    writeFileSync(paths.metrics, JSON.stringify({ status: 'running', tests: [], notRun: [planned] }));
    finalizeInterruptedReports(paths, targets);
    const junit = readFileSync(paths.junit, 'utf8');
    assert.match(junit, /<property name="run.status" value="interrupted"\/>/);
    assert.doesNotMatch(junit, /value="running"/);
    assert.match(junit, /<skipped message="run interrupted: not run"\/>/);
    const metrics = JSON.parse(readFileSync(paths.metrics, 'utf8')) as { status: string; notRun: unknown[] };
    assert.equal(metrics.status, 'interrupted');
    assert.equal(metrics.notRun.length, 1);

    // A run that ended is left as it is.
    writeFileSync(paths.metrics, JSON.stringify({ status: 'passed' }));
    finalizeInterruptedReports(paths, targets);
    assert.equal((JSON.parse(readFileSync(paths.metrics, 'utf8')) as { status: string }).status, 'passed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('JUnit: a test that passed on a retry keeps its failed attempt as <flakyFailure>; one that always failed has <rerunFailure>', () => {
  const planned = (id: string, title: string) => ({ id, target: 'sim', kind: 'sim', suite: 'echo', title, repeatIndex: 0 });
  const failed = (id: string, attempt: number, outcome: 'failed' | 'error') =>
    record({ id, attempt, outcome, failureClass: outcome === 'error' ? 'infrastructure' : 'protocol', message: `attempt ${attempt} broke`, details: `stack ${attempt}` });
  const xml = buildJunitXml(
    [
      { test: planned('1', 'flaky one'), attempts: [failed('1', 0, 'failed'), record({ id: '1', attempt: 1, flaky: true })], running: false },
      { test: planned('2', 'broken one'), attempts: [failed('2', 0, 'error'), failed('2', 1, 'failed')], running: false },
    ],
    1,
    'failed',
  );
  assert.match(xml, /name="flaky one"[^>]*>\s*<flakyFailure message="attempt 0 broke" type="protocol">\s*<stackTrace><!\[CDATA\[stack 0\]\]><\/stackTrace>\s*<system-out><!\[CDATA\[--- attempt 1 ---/);
  assert.match(xml, /name="broken one"[^>]*>\s*<failure message="attempt 1 broke" type="protocol">[^]*?<rerunError message="attempt 0 broke" type="infrastructure">/);
  assert.match(xml, /<testsuite name="sim" tests="2" failures="1" errors="0"/, 'a flaky test counts as passed, each test once');
});

test('metrics.json keeps every attempt of a retried test', async () => {
  const { default: MetricsReporter } = await import('./metrics-reporter.js');
  const dir = mkdtempSync(join(tmpdir(), 'farm-metrics-'));
  try {
    const file = join(dir, 'metrics.json');
    const reporter = new MetricsReporter({ outputFile: file });
    const testCase = {
      id: 't1',
      title: 'echoes',
      repeatEachIndex: 0,
      retries: 1,
      annotations: [],
      location: { file: '/x/suites/echo.spec.js' },
      parent: { project: () => ({ name: 'sim', metadata: { kind: 'sim' } }) },
    };
    const result = (retry: number, status: 'failed' | 'passed') => ({
      retry,
      status,
      duration: 10,
      startTime: new Date(0),
      workerIndex: retry,
      steps: [],
      attachments: [],
      annotations: [],
      errors: status === 'failed' ? [{ message: 'ProtocolError[protocol]: ring corrupt' }] : [],
    });
    reporter.onBegin({}, { allTests: () => [testCase] } as never);
    reporter.onTestBegin(testCase as never);
    reporter.onTestEnd(testCase as never, result(0, 'failed') as never);
    reporter.onTestBegin(testCase as never);
    reporter.onTestEnd(testCase as never, result(1, 'passed') as never);
    const metrics = JSON.parse(readFileSync(file, 'utf8')) as { tests: { attempt: number; outcome: string; failureClass: string | null; flaky: boolean }[] };
    assert.deepEqual(
      metrics.tests.map((test) => [test.attempt, test.outcome, test.failureClass, test.flaky]),
      [
        [0, 'failed', 'protocol', false],
        [1, 'passed', null, true],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the summary is sorted by target in farm.yaml order, then by suite in the farm\'s suite order', () => {
  const rows = summarize(
    [
      record({ id: '1', target: 'sim', suite: 'lifecycle' }),
      record({ id: '2', target: 'qemu', suite: 'multi-endpoint' }),
      record({ id: '3', target: 'sim', suite: 'echo' }),
      record({ id: '4', target: 'qemu', suite: 'echo' }),
      record({ id: '5', target: 'lp', suite: 'matrix-multiply' }),
    ],
    ['qemu', 'sim', 'lp'],
  );
  assert.deepEqual(rows.map((row) => `${row.target}/${row.suite}`), ['qemu/echo', 'qemu/multi-endpoint', 'sim/echo', 'sim/lifecycle', 'lp/matrix-multiply']);
});

test('console failure lines show the class once', () => {
  assert.equal(displayMessage('InfrastructureError[infrastructure]: power relay did not answer'), 'InfrastructureError: power relay did not answer');
  assert.equal(displayMessage('Error: expect(received).toBe(expected)'), 'Error: expect(received).toBe(expected)');
});

test('timing: a test whose set-up hook outlasts its reported duration gets a duration that holds set-up + body + teardown', () => {
  const result = {
    startTime: new Date(0),
    workerIndex: 0,
    duration: 15,
    status: 'failed',
    errors: [{ message: 'InfrastructureError[infrastructure]: setup failed' }],
    attachments: [],
    annotations: [],
    retry: 0,
    steps: [{ category: 'hook', title: 'Before Hooks', duration: 54 } as TestStep],
  } as unknown as TestResult;
  const timing = timingOf(result);
  assert.equal(timing.setupMs, 54);
  assert.equal(timing.bodyMs, 0);
  const testCase = { id: 'x', title: 't', repeatEachIndex: 0, annotations: [], location: { file: 'echo.spec.js' }, parent: { project: () => ({ name: 'sim' }) } };
  assert.equal(toRecord(testCase as never, result).durationMs, 54);
});

test('progress: an attempt that will be retried is numbered as its test, not [0/N]', async () => {
  const { default: ProgressReporter } = await import('./progress-reporter.js');
  const reporter = new ProgressReporter({ outDir: '/tmp/nowhere' });
  const testCase = { id: 'x', title: 'echoes', retries: 1, repeatEachIndex: 0, annotations: [], location: { file: 'echo.spec.js' }, parent: { project: () => ({ name: 'sim' }) } };
  const result = (retry: number, status: string) => ({ retry, status, duration: 5, startTime: new Date(0), workerIndex: 0, steps: [], attachments: [], annotations: [], errors: status === 'failed' ? [{ message: 'ProtocolError[protocol]: boom' }] : [] });
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => {
    lines.push(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    reporter.onBegin({ projects: [{ name: 'sim' }], workers: 1, shard: null } as never, { allTests: () => [testCase] } as never);
    reporter.onTestEnd(testCase as never, result(0, 'failed') as never);
    reporter.onTestEnd(testCase as never, result(1, 'passed') as never);
  } finally {
    process.stdout.write = write;
  }
  const testLines = lines.filter((line) => /echoes/.test(line));
  assert.match(testLines[0] ?? '', /^FAIL \[1\/1\] sim  echo › echoes  failed \[protocol\], retrying/);
  assert.match(testLines[1] ?? '', /^ok   \[1\/1\] sim  echo › echoes \(attempt 2\)  passed/);
  assert.ok(lines.some((line) => line === '       ProtocolError: boom\n'), lines.join(''));
});
