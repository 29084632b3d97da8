import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { breakDown, median, summarizeRuns, type RunMetrics } from './farm-bench.js';
import { FAKE_KIND_MODULE, workspace } from '../testing/cli-harness.js';
import { EXTRA_KINDS_ENV } from '../../targets/registry.js';

const at = (ms: number) => new Date(ms).toISOString();

function testAt(startMs: number, workerIndex: number, setupMs: number, bodyMs: number, teardownMs: number) {
  return { outcome: 'passed', durationMs: setupMs + bodyMs + teardownMs, startedAt: at(startMs), workerIndex, setupMs, bodyMs, teardownMs };
}

test('breakDown splits one worker\'s wall time into parts that add up to it', () => {
  const spawn = 1_000_000;
  const metrics: RunMetrics = {
    status: 'passed',
    run: { startedAt: at(spawn + 400), durationMs: 1000 },
    // Worker start-up 300 ms; tests at +700 (100 ms) and +820 (200 ms): a 20 ms gap; run ends at +1400.
    tests: [testAt(spawn + 820, 0, 10, 180, 10), testAt(spawn + 700, 0, 50, 40, 10)],
  };
  const run = breakDown(metrics, spawn, spawn + 1500);
  assert.equal(run.wallMs, 1500);
  assert.equal(run.runnerStartMs, 400);
  assert.equal(run.workerStartMs, 300);
  assert.equal(run.firstSetupMs, 50, 'the earliest test of the worker carries the target set-up');
  assert.equal(run.setupMs, 10);
  assert.equal(run.bodiesMs, 220);
  assert.equal(run.teardownMs, 20);
  assert.equal(run.betweenTestsMs, 20);
  assert.equal(run.workerTeardownMs, 380);
  assert.equal(run.reportingMs, 100);
  const parts = run.runnerStartMs + run.workerStartMs + run.firstSetupMs + run.setupMs + run.bodiesMs + run.teardownMs + run.betweenTestsMs + run.workerTeardownMs + run.reportingMs;
  assert.equal(parts, run.wallMs);
  assert.equal(run.overheadPerTestMs, (1500 - 220) / 2);
  assert.equal(run.perTestAfterStartupMs, (10 + 20 + 20) / 2, 'set-up after the first test, teardown and gaps, per test');
});

test('breakDown: with two workers only the time no test runs counts as between tests', () => {
  const spawn = 0;
  const metrics: RunMetrics = {
    status: 'passed',
    run: { startedAt: at(100), durationMs: 900 },
    tests: [testAt(200, 0, 20, 260, 20), testAt(250, 1, 30, 100, 20), testAt(600, 1, 5, 90, 5)],
  };
  const run = breakDown(metrics, spawn, 1100);
  assert.equal(run.workers, 2);
  assert.equal(run.firstSetupMs, 50);
  assert.equal(run.setupMs, 5);
  assert.equal(run.betweenTestsMs, 100, 'tests cover 200..500 and 600..700');
  assert.equal(run.workerTeardownMs, 300);
});

test('breakDown refuses metrics of a run that did not end or ran nothing', () => {
  assert.throws(() => breakDown({ status: 'running', run: null, tests: [testAt(0, 0, 1, 1, 1)] }, 0, 10), /no run timing/);
  assert.throws(() => breakDown({ status: 'passed', run: { startedAt: at(0), durationMs: 5 }, tests: [] }, 0, 10), /no finished test/);
});

test('summarizeRuns: min and median wall time, and the 10 s goal', () => {
  const run = (wallMs: number) => ({ ...breakDown({ status: 'passed', run: { startedAt: at(10), durationMs: 50 }, tests: [testAt(20, 0, 1, 8, 1)] }, 0, wallMs) });
  const summary = summarizeRuns([run(9000), run(12_000), run(8000)]);
  assert.equal(summary.wallMinMs, 8000);
  assert.equal(summary.wallMedianMs, 9000);
  assert.equal(summary.goalMet, true);
  assert.equal(summarizeRuns([run(12_000), run(10_000)]).goalMet, false);
  assert.equal(summary.fastRunGoalMet, false);
  assert.equal(summarizeRuns([run(2000)]).fastRunGoalMet, true);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

test('the benchmark runs the real farm run, prints the breakdown and JSON, and removes its out dirs', async () => {
  const space = workspace();
  try {
    const config = space.write('farm.yaml', 'targets:\n  - name: bench\n    kind: fake\n');
    // A private TMPDIR, so that only this run's out dirs can show up there.
    const scratch = join(space.dir, 'tmp');
    mkdirSync(scratch);
    const script = fileURLToPath(new URL('./farm-bench.js', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [script, '--runs', '1', '--', '--config', config, '--suite', 'echo'], {
      timeout: 120_000,
      env: { ...process.env, [EXTRA_KINDS_ENV]: FAKE_KIND_MODULE, TMPDIR: scratch },
    });
    const lines = stdout.trim().split('\n');
    const json = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, number | string | boolean>);
    assert.deepEqual(json.map((record) => record.benchmark), ['farm-run', 'farm-run-summary']);
    const run = json[0]!;
    assert.equal(run.tests, 1);
    assert.equal(run.status, 'passed');
    for (const key of ['runnerStartMs', 'workerStartMs', 'firstSetupMs', 'bodiesMs', 'teardownMs', 'workerTeardownMs', 'reportingMs']) {
      assert.ok(typeof run[key] === 'number' && run[key] >= 0, `${key} = ${String(run[key])}`);
    }
    // Playwright's hook steps were found: starting the fake remote and stopping it take time.
    assert.ok((run.firstSetupMs as number) > 0 && (run.teardownMs as number) > 0, JSON.stringify(run));
    // The 10 s goal is judged only for the default run (`--target sim` of the checkout's farm).
    assert.doesNotMatch(stdout, /^goal:/m);
    assert.ok(lines.findIndex((line) => line.startsWith('{')) > lines.findLastIndex((line) => !line.startsWith('{')), 'JSON after the human lines');
    assert.deepEqual(readdirSync(scratch).filter((name) => name.startsWith('farm-bench-')), [], 'temporary out dirs removed');
  } finally {
    space.remove();
  }
});
