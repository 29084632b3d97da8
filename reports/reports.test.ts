import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestResult, TestStep } from '@playwright/test/reporter';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyErrors, RecordBook, timingOf, toRecord, type TestEntry, type TestRecord } from './test-record.js';
import { buildJunitXml, cdataText, FAILED_OUTSIDE_TESTS_MESSAGE, INCOMPLETE_MESSAGE, INCOMPLETE_TITLE, INTERRUPTED_MESSAGE, NOT_RUN_MESSAGE } from './junit-reporter.js';
import { hostname } from 'node:os';
import { parseXml, readJunit, type JunitCase, type JunitFile, type JunitSuite } from './junit-reader.js';
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
    flood: undefined,
    annotations: [],
    ...overrides,
  };
}

function entries(records: readonly TestRecord[]): TestEntry[] {
  const book = new RecordBook();
  for (const item of records) book.add(item);
  return book.entries();
}

function suiteNamed(file: JunitFile, name: string): JunitSuite {
  const suite = file.suites.find((candidate) => candidate.attributes.name === name);
  assert.ok(suite, `a testsuite named ${name}`);
  return suite;
}

function caseNamed(suite: JunitSuite, name: string): JunitCase {
  const found = suite.cases.find((candidate) => candidate.attributes.name === name);
  assert.ok(found, `a testcase named ${name}`);
  return found;
}

/** tests / failures / errors / skipped of a <testsuites> or <testsuite>. */
function counts(attributes: Readonly<Record<string, string>>): number[] {
  return ['tests', 'failures', 'errors', 'skipped'].map((key) => Number(attributes[key]));
}

test('JUnit: one testsuite per target with properties; <error> for infrastructure, <failure> typed by class', () => {
  const file = readJunit(
    buildJunitXml(
      entries([
        record({ id: '1', title: 'ok' }),
        record({ id: '2', title: 'bytes', outcome: 'failed', failureClass: 'assertion', message: 'AssertionFailure[assertion]: byte 3', details: 'stack' }),
        record({ id: '3', title: 'boot', outcome: 'error', failureClass: 'infrastructure', message: 'no QEMU', details: 'InfrastructureError[infrastructure]: no QEMU\n    at boot' }),
        record({ id: '4', target: 'board', title: 'skipped one', outcome: 'skipped', skipReason: 'target cannot inject a crash' }),
      ]),
      1,
      'failed',
    ),
  );
  assert.deepEqual(counts(file.attributes), [4, 1, 1, 1]);
  assert.deepEqual(file.suites.map((suite) => suite.attributes.name), ['sim', 'board']);
  const sim = suiteNamed(file, 'sim');
  assert.deepEqual(counts(sim.attributes), [3, 1, 1, 0]);
  assert.equal(sim.attributes.time, '4.5');
  assert.deepEqual(counts(suiteNamed(file, 'board').attributes), [1, 0, 0, 1]);
  assert.equal(sim.properties.get('target.kind'), 'sim');
  assert.equal(sim.properties.get('firmware.echo.label'), 'echo.elf');
  assert.equal(sim.properties.get('firmware.echo.sha256'), 'ab'.repeat(32));
  assert.equal(sim.properties.get('qemu.version'), '8.2');
  assert.equal(sim.properties.get('run.status'), 'failed');
  assert.equal(sim.properties.get('node.version'), process.version);
  const bytes = caseNamed(sim, 'bytes');
  assert.deepEqual(bytes.attributes, { classname: 'sim.echo', name: 'bytes', time: '1.5' });
  assert.deepEqual(bytes.failure?.attributes, { message: 'AssertionFailure[assertion]: byte 3', type: 'assertion' });
  assert.equal(bytes.failure?.text, 'stack');
  assert.equal(bytes.error, undefined);
  const boot = caseNamed(sim, 'boot');
  assert.deepEqual(boot.error?.attributes, { message: 'no QEMU', type: 'infrastructure' });
  assert.equal(boot.error?.text, 'InfrastructureError[infrastructure]: no QEMU\n    at boot');
  assert.equal(boot.failure, undefined);
  const ok = caseNamed(sim, 'ok');
  assert.ok(!ok.failure && !ok.error && !ok.skipped);
  assert.match(ok.systemOut, /--- console ---\nhello from uart\n--- trace buffer ---\ntrace line\n--- target log ---\n\(empty\)/);
  const skipped = caseNamed(suiteNamed(file, 'board'), 'skipped one');
  assert.ok(skipped.skipped);
  assert.equal(skipped.properties.get('skip.reason'), 'target cannot inject a crash');
  assert.match(skipped.systemOut, /^--- skipped ---\ntarget cannot inject a crash\n--- console ---/);
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
  const file = readJunit(buildJunitXml(run, 1, 'interrupted'));
  // Each target also has the "(run) did not finish" error: the run never ended.
  assert.deepEqual(counts(file.attributes), [7, 0, 4, 2]);
  const sim = suiteNamed(file, 'sim');
  const board = suiteNamed(file, 'board');
  assert.deepEqual(counts(sim.attributes), [5, 0, 3, 1]);
  assert.deepEqual(counts(board.attributes), [2, 0, 1, 1]);
  assert.deepEqual(caseNamed(board, INCOMPLETE_TITLE).error?.attributes, { message: INCOMPLETE_MESSAGE, type: 'incomplete' });
  assert.equal(board.properties.get('target.kind'), 'fake');
  for (const suite of [sim, board]) assert.equal(suite.properties.get('run.status'), 'interrupted');
  for (const name of ['cut off', 'in flight']) {
    const stopped = caseNamed(sim, name);
    assert.deepEqual(stopped.error?.attributes, { message: INTERRUPTED_MESSAGE, type: 'interrupted' }, name);
    assert.equal(stopped.error?.text, '');
    assert.ok(!stopped.skipped && !stopped.failure, name);
  }
  for (const [suite, name] of [[sim, 'later'], [board, 'never']] as const) {
    const notRun = caseNamed(suite, name);
    assert.ok(notRun.skipped && !notRun.error && !notRun.failure, name);
    assert.equal(notRun.properties.get('skip.reason'), NOT_RUN_MESSAGE);
    assert.equal(notRun.systemOut, `--- skipped ---\n${NOT_RUN_MESSAGE}`);
  }
  assert.ok(!caseNamed(sim, 'done').skipped && !caseNamed(sim, 'done').error);
  // While the run is going, the same file says so: nothing in it passes for a finished run.
  const running = readJunit(buildJunitXml(run, 1, 'running'));
  assert.deepEqual(running.suites.map((suite) => suite.properties.get('run.status')), ['running', 'running']);
  assert.equal(caseNamed(suiteNamed(running, 'sim'), 'later').properties.get('skip.reason'), NOT_RUN_MESSAGE);
  // A run that ended with tests left over says why they did not run.
  const timedOut = readJunit(buildJunitXml(run, 1, 'timedout'));
  assert.equal(caseNamed(suiteNamed(timedOut, 'sim'), 'later').properties.get('skip.reason'), 'run stopped by its global timeout: not run');
});

test('XML: characters XML 1.0 cannot hold are dropped before the library sees them, "]]>" and markup survive as text', () => {
  const console = 'bell\u0007 esc\u001b[1m bold a\uDC00b c\uD800d pair \u{1F600} end ]]> twice ]]> thrice ]]>';
  const xml = buildJunitXml(
    entries([
      record({
        id: '1',
        title: 'title "q" <&>',
        outcome: 'failed',
        failureClass: 'assertion',
        message: 'a "b" <c> & d\u0001',
        details: 'x ]]> y ]]> z\u0000',
        console,
        meta: { target: 'sim', kind: 'sim', suite: 'echo', firmware: { label: 'echo\u0002.elf', sha256: 'ab'.repeat(32) }, properties: { 'tool.version': 'v1 "beta" <x>\u001f' } },
      }),
    ]),
    1,
    'failed',
  );
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(xml, /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
  const file = readJunit(xml); // throws unless well formed
  const sim = suiteNamed(file, 'sim');
  const failed = caseNamed(sim, 'title "q" <&>');
  assert.deepEqual(failed.failure?.attributes, { message: 'a "b" <c> & d', type: 'assertion' });
  assert.equal(failed.failure?.text, 'x ]]> y ]]> z');
  // The lone surrogates go, and only they: their neighbours stay (xmlbuilder alone drops the
  // character before a lone low surrogate), a proper pair stays.
  assert.ok(failed.systemOut.includes('--- console ---\nbell esc[1m bold ab cd pair \u{1F600} end ]]> twice ]]> thrice ]]>\n'), failed.systemOut);
  assert.equal(sim.properties.get('firmware.echo.label'), 'echo.elf');
  assert.equal(sim.properties.get('tool.version'), 'v1 "beta" <x>');
  assert.equal(cdataText('only ]]> once'), 'only ]]> once', 'the first "]]>" is left for xmlbuilder to split');
});

test('a runner killed before its end: the CLI marks its reports interrupted, or writes them when there are none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'farm-finalize-'));
  try {
    const paths = { junit: join(dir, 'junit.xml'), metrics: join(dir, 'metrics.json') };
    const targets = [{ name: 'sim', kind: 'sim' }, { name: 'lp', kind: 'linux-process' }];
    finalizeInterruptedReports(paths, targets);
    const empty = readJunit(readFileSync(paths.junit, 'utf8'));
    assert.deepEqual(counts(empty.attributes), [4, 0, 4, 0]);
    for (const target of targets) {
      const suite = suiteNamed(empty, target.name);
      assert.deepEqual(counts(suite.attributes), [2, 0, 2, 0]);
      assert.equal(suite.properties.get('run.status'), 'interrupted');
      assert.equal(suite.properties.get('target.kind'), target.kind);
      const [run] = suite.cases;
      assert.match(run?.attributes.name ?? '', /^\(run\) interrupted before any test was planned$/);
      assert.deepEqual(run?.error?.attributes, { message: INTERRUPTED_MESSAGE, type: 'interrupted' });
    }
    assert.equal((JSON.parse(readFileSync(paths.metrics, 'utf8')) as { status: string }).status, 'interrupted');

    const planned = { id: '1', target: 'sim', kind: 'sim', suite: 'echo', title: 'later', repeatIndex: 0 };
    writeFileSync(paths.junit, buildJunitXml([{ test: planned, attempts: [], running: false }], 1, 'running'));
    writeFileSync(paths.metrics, JSON.stringify({ status: 'running', tests: [], notRun: [planned] }));
    finalizeInterruptedReports(paths, targets);
    const junit = readFileSync(paths.junit, 'utf8');
    assert.doesNotMatch(junit, /value="running"/);
    const marked = suiteNamed(readJunit(junit), 'sim');
    assert.equal(marked.properties.get('run.status'), 'interrupted');
    assert.deepEqual(counts(marked.attributes), [2, 0, 1, 1]);
    assert.equal(caseNamed(marked, INCOMPLETE_TITLE).error?.attributes.type, 'incomplete');
    assert.ok(marked.cases[0]?.skipped);
    assert.equal(marked.cases[0]?.properties.get('skip.reason'), NOT_RUN_MESSAGE);
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

test('JUnit: a retried test keeps its failed attempts as testcase properties and system-out sections, and counts once', () => {
  const planned = (id: string, title: string) => ({ id, target: 'sim', kind: 'sim', suite: 'echo', title, repeatIndex: 0 });
  const failed = (id: string, attempt: number, outcome: 'failed' | 'error') =>
    record({
      id,
      attempt,
      outcome,
      failureClass: outcome === 'error' ? 'infrastructure' : 'protocol',
      message: `attempt ${attempt} broke`,
      details: `stack ${attempt}`,
      console: `uart ${attempt}`,
    });
  const file = readJunit(
    buildJunitXml(
      [
        { test: planned('1', 'flaky one'), attempts: [failed('1', 0, 'failed'), record({ id: '1', attempt: 1, flaky: true, console: 'uart ok' })], running: false },
        { test: planned('2', 'broken one'), attempts: [failed('2', 0, 'error'), failed('2', 1, 'failed')], running: false },
        { test: planned('3', 'retry in flight'), attempts: [failed('3', 0, 'failed')], running: true },
      ],
      1,
      'failed',
    ),
  );
  const sim = suiteNamed(file, 'sim');
  assert.deepEqual(counts(sim.attributes), [3, 1, 1, 0], 'a flaky test counts as passed, each test once');

  const flaky = caseNamed(sim, 'flaky one');
  assert.ok(!flaky.failure && !flaky.error && !flaky.skipped);
  assert.deepEqual(Object.fromEntries(flaky.properties), { attempts: '2', flaky: 'true', 'attempt.1.failure': 'protocol: attempt 0 broke' });
  assert.equal(
    flaky.systemOut,
    [
      '--- attempt 1 (failed, protocol) ---',
      'attempt 0 broke',
      'stack 0',
      '--- console ---\nuart 0',
      '--- trace buffer ---\ntrace line',
      '--- target log ---\n(empty)',
      '--- attempt 2 (passed, flaky) ---',
      '--- console ---\nuart ok',
      '--- trace buffer ---\ntrace line',
      '--- target log ---\n(empty)',
    ].join('\n'),
  );

  const broken = caseNamed(sim, 'broken one');
  assert.deepEqual(broken.failure?.attributes, { message: 'attempt 1 broke', type: 'protocol' });
  assert.equal(broken.failure?.text, 'stack 1');
  assert.deepEqual(Object.fromEntries(broken.properties), { attempts: '2', 'attempt.1.failure': 'infrastructure: attempt 0 broke' });
  assert.match(broken.systemOut, /^--- attempt 1 \(error, infrastructure\) ---\nattempt 0 broke\nstack 0\n--- console ---\nuart 0\n[^]*--- attempt 2 \(failed, protocol\) ---\n--- console ---\nuart 1\n/);

  const inFlight = caseNamed(sim, 'retry in flight');
  assert.deepEqual(inFlight.error?.attributes, { message: INTERRUPTED_MESSAGE, type: 'interrupted' });
  assert.deepEqual(Object.fromEntries(inFlight.properties), { attempts: '2', 'attempt.1.failure': 'protocol: attempt 0 broke' });
  assert.match(inFlight.systemOut, /^--- attempt 1 \(failed, protocol\) ---\nattempt 0 broke\nstack 0\n--- console ---\nuart 0\n/);
});

test('the JUnit reader refuses what is not well formed', () => {
  assert.throws(() => parseXml('<a><![CDATA[x ]]> y ]]></a>'), /"]]>" in text/);
  assert.throws(() => parseXml('<a><b></a>'), /closes/);
  assert.throws(() => parseXml('<a>'), /not closed/);
  assert.equal(parseXml('<a x="1 &amp; &#xA;"><![CDATA[p ]]]]><![CDATA[> q]]></a>').text, 'p ]]> q');
  assert.equal(parseXml('<a x="1 &amp; &#xA;"/>').attributes.x, '1 & \n');
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
    reporter.onBegin({ projects: [] } as never, { allTests: () => [testCase] } as never);
    reporter.onTestBegin(testCase as never);
    reporter.onTestEnd(testCase as never, result(0, 'failed') as never);
    reporter.onTestBegin(testCase as never);
    reporter.onTestEnd(testCase as never, result(1, 'passed') as never);
    reporter.onEnd({ status: 'passed', startTime: new Date(0), duration: 20 } as never);
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

test('JUnit: a run that has not ended never reads as a pass from the counts alone; it does once it passed', () => {
  const planned = (id: string, title: string) => ({ id, target: 'sim', kind: 'sim', suite: 'echo', title, repeatIndex: 0 });
  const run: TestEntry[] = [
    { test: planned('1', 'done'), attempts: [record({ id: '1', title: 'done', timing: { startMs: Date.UTC(2026, 11, 3, 14, 0, 5), workerIndex: 0, setupMs: 0, teardownMs: 0, bodyMs: 0 } })], running: false },
    { test: planned('2', 'later'), attempts: [], running: false },
  ];
  const running = readJunit(buildJunitXml(run, 1, 'running'));
  assert.deepEqual(counts(running.attributes), [3, 0, 1, 1]);
  assert.deepEqual(caseNamed(suiteNamed(running, 'sim'), INCOMPLETE_TITLE).error?.attributes, { message: INCOMPLETE_MESSAGE, type: 'incomplete' });
  assert.equal(caseNamed(suiteNamed(running, 'sim'), INCOMPLETE_TITLE).attributes.classname, 'sim.(run)');
  for (const status of ['interrupted', 'timedout'] as const) {
    assert.deepEqual(counts(readJunit(buildJunitXml(run, 1, status)).attributes), [3, 0, 1, 1], status);
  }
  // Failed, but no testcase says so (e.g. an error while loading the spec files).
  const failedOutside = suiteNamed(readJunit(buildJunitXml(run, 1, 'failed')), 'sim');
  assert.equal(caseNamed(failedOutside, INCOMPLETE_TITLE).error?.attributes.message, FAILED_OUTSIDE_TESTS_MESSAGE);
  // Once it passed, the file is exactly the tests.
  const passed = readJunit(buildJunitXml([run[0] as TestEntry], 1, 'passed'));
  assert.deepEqual(counts(passed.attributes), [1, 0, 0, 0]);
  assert.ok(!passed.suites[0]?.cases.some((testCase) => testCase.attributes.name === INCOMPLETE_TITLE));
});

test('JUnit: every <testsuite> has a timestamp (when its first test started, else when the run did) and the hostname', () => {
  const at = (ms: number) => ({ startMs: ms, workerIndex: 0, setupMs: 0, teardownMs: 0, bodyMs: 0 });
  const file = readJunit(
    buildJunitXml(
      entries([
        record({ id: '1', timing: at(Date.UTC(2026, 11, 3, 14, 0, 9)) }),
        record({ id: '2', timing: at(Date.UTC(2026, 11, 3, 14, 0, 5, 700)) }),
        record({ id: '3', target: 'board', timing: at(Date.UTC(2026, 11, 3, 15, 1, 2)) }),
      ]),
      1,
      'passed',
      Date.UTC(2026, 11, 3, 13, 59, 0),
    ),
  );
  assert.equal(suiteNamed(file, 'sim').attributes.timestamp, '2026-12-03T14:00:05');
  assert.equal(suiteNamed(file, 'board').attributes.timestamp, '2026-12-03T15:01:02');
  for (const suite of file.suites) assert.equal(suite.attributes.hostname, hostname());
  assert.equal(file.attributes.hostname, undefined, 'on <testsuite>, not on <testsuites>');
  const notStarted = readJunit(buildJunitXml([{ test: { id: '9', target: 'sim', kind: 'sim', suite: 'echo', title: 'x', repeatIndex: 0 }, attempts: [], running: false }], 1, 'running', Date.UTC(2026, 11, 3, 13, 59, 0)));
  assert.equal(notStarted.suites[0]?.attributes.timestamp, '2026-12-03T13:59:00');
});
