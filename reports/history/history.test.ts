import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteHistoryStore } from './sqlite-store.js';
import { checkStoreContract, result, run } from './store-contract.test-helper.js';
import { findFlakyTests, flakinessByTarget } from './flaky.js';
import { baselineOf, describeVerdict, judge, DEFAULT_PERF_OPTIONS } from './perf.js';
import { historyLocation, prepareHistory, resultRow, verdictsFor, type HistoryPlan } from './run-history.js';
import { flakyView, perfView, runsView } from './history-views.js';
import { RecordBook, type TestRecord } from '../test-record.js';
import { buildJunitXml } from '../junit-reporter.js';
import { readJunit } from '../junit-reader.js';

function tempDir(): { dir: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), 'farm-history-test-'));
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

test('SQLite store: a run begins as running, finishes with its results and figures, and queries filter by target, run and metric', async () => {
  using tmp = tempDir();
  const store = new SqliteHistoryStore(join(tmp.dir, 'sub', 'h.sqlite'));
  try {
    await checkStoreContract(store);
  } finally {
    await store.close();
  }
});

test('flaky: passed and failed on the same firmware and target is flaky; a failure on other firmware is not; rates per test and per target', () => {
  const rows = [
    result({ runId: 'a', outcome: 'passed', startedAt: '2026-01-01T00:00:00Z' }),
    result({ runId: 'b', outcome: 'failed', failureClass: 'protocol', message: 'timeout', startedAt: '2026-01-02T00:00:00Z' }),
    result({ runId: 'c', outcome: 'passed', startedAt: '2026-01-03T00:00:00Z' }),
    result({ runId: 'd', outcome: 'passed', startedAt: '2026-01-04T00:00:00Z' }),
    // Broken by a new firmware: failed only on it, never passed on it.
    result({ runId: 'a', title: 'matrix', firmwareSha256: 'aa', outcome: 'passed' }),
    result({ runId: 'b', title: 'matrix', firmwareSha256: 'bb', outcome: 'failed' }),
    // Same title on another target: only passes.
    result({ runId: 'a', target: 'qemu', outcome: 'passed' }),
    result({ runId: 'b', target: 'qemu', outcome: 'skipped' }),
    // No firmware (setup failed): nothing says the builds match.
    result({ runId: 'a', title: 'nofw', firmwareSha256: null, outcome: 'error' }),
    result({ runId: 'b', title: 'nofw', firmwareSha256: null, outcome: 'passed' }),
  ];
  const flaky = findFlakyTests(rows);
  assert.equal(flaky.length, 1);
  assert.equal(flaky[0]?.title, 'echoes');
  assert.equal(flaky[0]?.target, 'sim');
  assert.equal(flaky[0]?.failures, 1);
  assert.equal(flaky[0]?.executions, 4);
  assert.equal(flaky[0]?.flakeRate, 0.25);
  assert.equal(flaky[0]?.lastFailure, 'protocol: timeout');
  const byTarget = flakinessByTarget(rows, flaky);
  const sim = byTarget.find((row) => row.target === 'sim');
  assert.deepEqual(sim && { tests: sim.tests, flaky: sim.flakyTests, executions: sim.executions, failures: sim.flakyFailures }, { tests: 3, flaky: 1, executions: 8, failures: 1 });
  assert.equal(sim?.flakeRate, 1 / 8);
  assert.equal(byTarget.find((row) => row.target === 'qemu')?.flakyTests, 0);
  // A retry within one run that passed counts the same way.
  assert.equal(findFlakyTests([result({ attempt: 0, outcome: 'failed' }), result({ attempt: 1, outcome: 'passed' })]).length, 1);
});

test('perf: the baseline is the median with a MAD band (as a ratio) floored by minBand; only the worse side is a regression', () => {
  const options = { ...DEFAULT_PERF_OPTIONS, minRuns: 5, mads: 3, minBand: 0.1 };
  const close = (actual: number | undefined, expected: number) => assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9 * Math.max(1, expected), `${actual} ~ ${expected}`);
  assert.equal(baselineOf([1, 2, 3, 4], options), null);
  // A steady history: the MAD is 0, the floor makes the band x/÷ 1.1.
  const steady = baselineOf([100, 100, 100, 100, 101, 100], options);
  assert.ok(steady);
  close(steady.median, 100);
  close(steady.high, 110);
  close(steady.low, 100 / 1.1);
  assert.equal(judge('sim', 'echo.p50Us', 111, steady).status, 'regression');
  assert.equal(judge('sim', 'echo.p50Us', 109, steady).status, 'ok');
  assert.equal(judge('sim', 'echo.p50Us', 80, steady).status, 'improved');
  // Throughput: lower is worse.
  assert.equal(judge('sim', 'echo.msgsPerSec', 80, steady).status, 'regression');
  assert.equal(judge('sim', 'echo.msgsPerSec', 120, steady).status, 'improved');
  assert.equal(judge('sim', 'echo.p50Us', 1e6, null).status, 'no-baseline');
  // A history scattered by a factor of 2 either way: the band is its own, far wider than the floor.
  const noisy = baselineOf([50, 100, 200, 100, 50, 200, 100], options);
  assert.ok(noisy);
  close(noisy.median, 100);
  close(noisy.mad, Math.log(2));
  close(noisy.high, 100 * Math.exp(3 * 1.4826 * Math.log(2)));
  // Tail figures (p99, throughput, boot time) get twice the band.
  close(baselineOf([50, 100, 200, 100, 50, 200, 100], options, 'echo.p99Us')?.high, 100 * Math.exp(2 * 3 * 1.4826 * Math.log(2)));
  close(baselineOf([50, 100, 200, 100, 50, 200, 100], options, 'echo.p50Us')?.high, noisy.high);
  assert.equal(judge('sim', 'echo.p99Us', 400, noisy).status, 'ok');
  assert.equal(judge('sim', 'echo.p99Us', 3000, noisy).status, 'regression');
  // Only the last baselineRuns values count.
  close(baselineOf([1000, 1000, 1000, 1, 1, 1, 1, 1], { ...options, baselineRuns: 5 })?.median, 1);
  assert.match(describeVerdict(judge('sim', 'echo.p50Us', 2000, steady)), /^echo\.p50Us 2000 µs above the band 90\.9\.\.110 \(median 100 over 6 runs\)$/);
});

function echoRecord(p50Us: number, overrides: Partial<TestRecord> = {}): TestRecord {
  return {
    id: 'e',
    target: 'sim',
    kind: 'sim',
    suite: 'echo',
    title: 'echoes',
    repeatIndex: 0,
    attempt: 0,
    outcome: 'passed',
    flaky: false,
    durationMs: 300,
    timing: { startMs: Date.parse('2026-01-01T00:00:00Z'), workerIndex: 0, setupMs: 10, teardownMs: 10, bodyMs: 280 },
    failureClass: undefined,
    message: undefined,
    details: undefined,
    skipReason: undefined,
    meta: { target: 'sim', kind: 'sim', suite: 'echo', firmware: { label: 'echo.elf', sha256: 'aa' }, properties: {} },
    console: '',
    trace: '',
    targetLog: '',
    echo: { count: 480, bytes: 1000, p50Us, p99Us: p50Us * 2, msgsPerSec: 1e6 / p50Us, announceMs: 5 },
    flood: undefined,
    annotations: [],
    ...overrides,
  };
}

test('a run prepared from history knows the flaky tests and baselines; JUnit marks known-flaky tests and regressions, and fails them when asked', async () => {
  using tmp = tempDir();
  const store = new SqliteHistoryStore(join(tmp.dir, 'h.sqlite'));
  try {
    for (let index = 0; index < 6; index++) {
      const id = `r${index}`;
      const startedAt = `2026-01-0${index + 1}T00:00:00.000Z`;
      await store.beginRun(run(id, startedAt));
      await store.finishRun(
        id,
        { status: 'passed', durationMs: 1, regressions: 0 },
        [result({ runId: id, outcome: index === 2 ? 'failed' : 'passed', startedAt }), result({ runId: id, title: 'other', startedAt })],
        [{ runId: id, target: 'sim', metric: 'echo.p50Us', value: 50 + (index % 3), firmwareSha256: 'aa', startedAt }],
      );
    }
    const perf = { ...DEFAULT_PERF_OPTIONS, minRuns: 5 };
    const plan = await prepareHistory(store, { targets: ['sim'], outDir: tmp.dir, firmwareRev: 'v1.2', failOnRegression: false, perf }, 'now', '2026-02-01T00:00:00.000Z');
    assert.equal((await store.run('now'))?.status, 'running');
    assert.equal((await store.run('now'))?.firmwareRev, 'v1.2');
    assert.deepEqual(plan.knownFlaky, ['sim\u0000echo\u0000echoes']);
    assert.equal(plan.baselines.length, 1);
    assert.equal(plan.baselines[0]?.baseline.median, 51);
    assert.deepEqual(verdictsFor(echoRecord(52), plan).map((verdict) => `${verdict.metric}:${verdict.status}`), ['echo.p50Us:ok', 'echo.p99Us:no-baseline', 'echo.msgsPerSec:no-baseline', 'echo.announceMs:no-baseline']);
    assert.equal(verdictsFor(echoRecord(500), plan)[0]?.status, 'regression');
    // A failed test gives no figures to judge.
    assert.deepEqual(verdictsFor(echoRecord(500, { outcome: 'failed', failureClass: 'protocol' }), plan), []);

    const junitOf = (history: HistoryPlan, p50: number) => {
      const book = new RecordBook();
      book.add(echoRecord(p50));
      book.add(echoRecord(50, { id: 'o', title: 'other' }));
      const file = readJunit(buildJunitXml(book.entries(), 1, 'passed', Date.now(), history));
      const suite = file.suites[0];
      assert.ok(suite);
      return { echo: suite.cases.find((c) => c.attributes.name === 'echoes'), other: suite.cases.find((c) => c.attributes.name === 'other') };
    };
    const normal = junitOf(plan, 51);
    assert.equal(normal.echo?.properties.get('history.flaky'), 'true');
    assert.equal(normal.echo?.properties.get('perf.status'), undefined);
    assert.equal(normal.other?.properties.get('history.flaky'), undefined);
    const slow = junitOf(plan, 500);
    assert.equal(slow.echo?.properties.get('perf.status'), 'regression');
    assert.match(slow.echo?.properties.get('perf.echo.p50Us') ?? '', /^echo\.p50Us 500 µs above the band/);
    assert.equal(slow.echo?.failure, undefined, 'a regression alone does not fail the test unless asked');
    const gated = junitOf({ ...plan, failOnRegression: true }, 500);
    assert.equal(gated.echo?.failure?.attributes.type, 'performance');

    assert.equal((await runsView(store, { runs: 3 })).length, 3);
    assert.equal((await flakyView(store)).tests.length, 1);
    const trends = await perfView(store, { perf });
    assert.equal(trends.length, 1);
    assert.deepEqual(trends[0]?.points.map((point) => point.status), ['no-baseline', 'no-baseline', 'no-baseline', 'no-baseline', 'no-baseline', 'ok']);
  } finally {
    await store.close();
  }
});

test('history location: --history, then --farm, then FARM_HISTORY, then FARM_DB (farm history / serve), then farm.yaml, then farm-history.sqlite next to farm.yaml; "off" turns it off', () => {
  const config = { configDir: '/lab', history: { file: undefined } };
  assert.equal(historyLocation(undefined, config, {}, '/cwd'), '/lab/farm-history.sqlite');
  assert.equal(historyLocation(undefined, { configDir: '/lab', history: { file: '/data/h.sqlite' } }, {}, '/cwd'), '/data/h.sqlite');
  assert.equal(historyLocation(undefined, config, { FARM_HISTORY: 'h.db' }, '/cwd'), '/cwd/h.db');
  assert.equal(historyLocation('x.db', config, { FARM_HISTORY: 'h.db' }, '/cwd'), '/cwd/x.db');
  assert.equal(historyLocation('off', config, {}, '/cwd'), null);
  assert.equal(historyLocation(undefined, { configDir: '/lab', history: { file: 'off' } }, {}, '/cwd'), null);
  // The farm database: a URL is kept as it is; --farm after --history; FARM_DB only where the
  // command reads the farm database by default (farm history, farm serve), after FARM_HISTORY.
  const db = 'postgres://farm@db.lab:5432/farm';
  assert.equal(historyLocation(db, config, {}, '/cwd'), db);
  assert.equal(historyLocation(undefined, config, { FARM_HISTORY: db }, '/cwd'), db);
  assert.equal(historyLocation(undefined, config, { FARM_HISTORY: 'h.db' }, '/cwd', { url: db }), db);
  assert.equal(historyLocation(undefined, config, { FARM_DB: db }, '/cwd'), '/lab/farm-history.sqlite');
  assert.equal(historyLocation(undefined, config, { FARM_DB: db }, '/cwd', { farmDbByDefault: true }), db);
  assert.equal(historyLocation(undefined, config, { FARM_DB: db, FARM_HISTORY: 'h.db' }, '/cwd', { farmDbByDefault: true }), '/cwd/h.db');
});

test('a result row keeps the firmware and the failure, with secrets masked; an interrupted attempt is no row', () => {
  const row = resultRow(echoRecord(50, { outcome: 'failed', failureClass: 'infrastructure', message: 'ssh: login with password=hunter22 refused' }), 'run1');
  assert.equal(row?.message, 'ssh: login with password=*** refused');
  assert.equal(row?.firmwareSha256, 'aa');
  assert.equal(row?.failureClass, 'infrastructure');
  assert.equal(resultRow(echoRecord(50, { outcome: 'interrupted' }), 'run1'), undefined);
});
