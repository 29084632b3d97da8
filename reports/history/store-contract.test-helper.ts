/**
 * What every HistoryStore must do, run against each back end: the SQLite file
 * (history.test.ts) and the farm's PostgreSQL database (farm/history-farm-db.test.ts).
 */
import assert from 'node:assert/strict';
import type { HistoryStore, ResultRow, RunRow } from './history-store.js';

export function run(id: string, startedAt: string, targets = ['sim']): RunRow {
  return { id, startedAt, durationMs: null, status: 'running', farmVersion: '0.1.0', firmwareRev: null, hostname: 'h', outDir: '/tmp/x', pid: 1, targets, regressions: 0 };
}

export function result(overrides: Partial<ResultRow>): ResultRow {
  return {
    runId: 'r',
    target: 'sim',
    kind: 'sim',
    suite: 'echo',
    title: 'echoes',
    repeat: 0,
    attempt: 0,
    outcome: 'passed',
    failureClass: null,
    message: null,
    durationMs: 100,
    firmwareSha256: 'aa',
    firmwareLabel: 'echo.elf',
    startedAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/** A run begins as running, finishes with its results and figures, and queries filter by target, run and metric. */
export async function checkStoreContract(store: HistoryStore): Promise<void> {
  for (let index = 0; index < 4; index++) {
    const id = `run${index}`;
    const startedAt = `2026-01-0${index + 1}T00:00:00.000Z`;
    await store.beginRun(run(id, startedAt, index === 3 ? ['qemu'] : ['sim']));
    const target = index === 3 ? 'qemu' : 'sim';
    await store.finishRun(
      id,
      { status: 'passed', durationMs: 1000 + index, regressions: index === 2 ? 1 : 0 },
      [result({ runId: id, target, startedAt })],
      [{ runId: id, target, metric: 'echo.p50Us', value: 10 + index, firmwareSha256: 'aa', startedAt }],
    );
  }
  await store.beginRun(run('live', '2026-01-09T00:00:00.000Z'));
  const runs = await store.runs();
  assert.deepEqual(runs.map((row) => row.id), ['live', 'run3', 'run2', 'run1', 'run0']);
  assert.equal(runs[0]?.status, 'running');
  assert.equal(runs[2]?.regressions, 1);
  assert.equal(runs[2]?.durationMs, 1002);
  assert.deepEqual((await store.runs({ target: 'qemu' })).map((row) => row.id), ['run3']);
  assert.deepEqual((await store.runs({ status: 'running' })).map((row) => row.id), ['live']);
  assert.equal((await store.results({ runId: 'run1' })).length, 1);
  assert.deepEqual((await store.results({ target: 'sim' })).map((row) => row.runId), ['run0', 'run1', 'run2']);
  // The latest 2 finished runs (a running one has no results yet).
  assert.deepEqual((await store.results({ runs: 2 })).map((row) => row.runId), ['run2', 'run3']);
  assert.deepEqual((await store.metrics({ target: 'sim', metric: 'echo.p50Us', runs: 2 })).map((row) => row.value), [11, 12]);
  assert.deepEqual((await store.metrics({ target: 'sim', before: '2026-01-02T12:00:00.000Z' })).map((row) => row.value), [10, 11]);
  // Finishing again replaces the rows instead of doubling them.
  await store.finishRun('run1', { status: 'failed', durationMs: 5, regressions: 0 }, [result({ runId: 'run1', outcome: 'failed' })], []);
  assert.deepEqual((await store.results({ runId: 'run1' })).map((row) => row.outcome), ['failed']);
  assert.equal((await store.run('run1'))?.status, 'failed');
  // A farm job's run keeps its job id.
  await store.beginRun({ ...run('job', '2026-01-10T00:00:00.000Z'), farmJob: 42 });
  assert.equal((await store.run('job'))?.farmJob, 42);
  assert.equal((await store.run('run0'))?.farmJob, null);
  // Many rows at once (a nightly run): all kept, in order.
  const many = Array.from({ length: 1203 }, (_, index) => result({ runId: 'job', title: `t${index}`, startedAt: '2026-01-10T00:00:01.000Z' }));
  await store.finishRun('job', { status: 'passed', durationMs: 1, regressions: 0 }, many, []);
  assert.deepEqual((await store.results({ runId: 'job' })).map((row) => row.title), many.map((row) => row.title));
}
