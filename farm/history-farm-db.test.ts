/**
 * The run history in the farm database, end to end on a throwaway PostgreSQL cluster: the
 * history store behaves as the SQLite one (the same contract), `farm db init` creates its
 * tables, runs of `farm run --farm` (jobs that a `farm agent` runs on a place of the test-only
 * fake kind) are recorded there, and `farm history flaky|perf|runs --farm URL` read them: a test
 * that passed and then failed on the same firmware is listed as flaky and marked in the next
 * run's JUnit; a slowed remote is a performance regression that fails the run when asked.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPgCluster, type PgCluster } from './db/throwaway-cluster.js';
import { openPool } from './db/connection.js';
import { migrate } from './db/migrate.js';
import { FARM_MIGRATIONS } from './farm-migrations.js';
import { openHistoryStore } from './history-store-open.js';
import { startCli, waitFor, workspace, type CliResult } from './testing/cli-harness.js';
import { within } from './testing/within.js';
import { checkStoreContract } from '../reports/history/store-contract.test-helper.js';
import { readJunit } from '../reports/junit-reader.js';

const space = workspace();
let cluster: PgCluster;
let agent: ReturnType<typeof startCli> | undefined;

async function cli(args: readonly string[], what: string, env: Record<string, string> = {}): Promise<CliResult> {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  const started = startCli(args, space.dir);
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  return within(started.result, 180_000, what, () => started.child.kill('SIGKILL'));
}

before(async () => {
  cluster = await createPgCluster();
});

after(async () => {
  if (agent && agent.child.exitCode === null) agent.child.kill('SIGKILL');
  await cluster?.remove();
  space.remove();
});

test('the PostgreSQL history store keeps the same rows and answers the same queries as the SQLite one', async () => {
  const admin = openPool(cluster.url, { applicationName: 'history-farm-db test', max: 1 });
  try {
    await admin.query('CREATE DATABASE history_contract');
  } finally {
    await admin.end();
  }
  const url = cluster.url.replace(/\/postgres$/, '/history_contract');
  await assert.rejects(openHistoryStore(url), /farm database postgres:\/\/farm@127\.0\.0\.1:\d+\/history_contract has no run history tables yet \(lacks history-001-runs-results-metrics\): run `farm db init/);
  const pool = openPool(url, { applicationName: 'history-farm-db test', max: 1 });
  try {
    await migrate(pool, FARM_MIGRATIONS);
  } finally {
    await pool.end();
  }
  const store = await openHistoryStore(url);
  try {
    assert.equal(store.location, url);
    await checkStoreContract(store);
  } finally {
    await store.close();
  }
});

test('farm run --farm records its jobs in the farm database: farm history flaky and perf --farm list a flaky test and flag a slowed remote', { timeout: 600_000 }, async () => {
  const init = await cli(['db', 'init', '--farm', cluster.url], 'farm db init');
  assert.equal(init.code, 0, init.stdout + init.stderr);
  assert.match(init.stdout, /applied history-001-runs-results-metrics/);

  const startAgent = async (params: string): Promise<void> => {
    if (agent) {
      agent.child.kill('SIGTERM');
      const stopping = agent;
      await within(stopping.result, 60_000, 'the agent to stop on SIGTERM', () => stopping.child.kill('SIGKILL'));
    }
    const config = space.write('agent.yaml', `history:\n  minRuns: 2\n  mads: 2\n  minBand: 0.5\ntargets:\n  - name: fk\n    kind: fake\n    suites: [echo, matrix-multiply]\n    params: ${params}\n`);
    const started = startCli(['agent', '--farm', cluster.url, '--config', config, '--name', 'hist-host', '--ttl', '10'], space.dir);
    agent = started;
    // The place takes jobs once its health check passed.
    await waitFor(() => /fk: Good/.test(started.output()) || started.child.exitCode !== null, 60_000, 'the agent\'s place fk to pass its health check').catch((error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}; the agent said:\n${started.output()}`);
    });
    assert.match(started.output(), /fk: Good/);
  };
  const farmRun = async (out: string, suites: string, ...extra: string[]) => {
    const result = await cli(['run', '--farm', cluster.url, '--target', 'fk', '--suite', suites, '--out', out, ...extra], `farm run --farm (${out})`);
    const junit = readFileSync(join(space.dir, out, 'junit.xml'), 'utf8');
    const cases = readJunit(junit).suites.flatMap((suite) => suite.cases);
    const testCase = (suite: string) => {
      const found = cases.find((entry) => entry.attributes.classname === `fk.${suite}`);
      assert.ok(found, `the ${suite} testcase in ${out}/junit.xml:\n${junit}\n${result.stdout}`);
      return found;
    };
    return { ...result, testCase };
  };

  // The health check echoes: a corrupted echo would take the place out of service, so the
  // flaky test is matrix-multiply's; the slowed remote shows in the echo figures.
  await startAgent('{}');
  const first = await farmRun('out-1', 'echo,matrix-multiply', '--firmware-rev', 'v1.0-7-gfeed');
  assert.equal(first.code, 0, first.stdout + first.stderr);
  await startAgent('{ corrupt: [matrix-multiply] }');
  const second = await farmRun('out-2', 'matrix-multiply');
  assert.equal(second.code, 1, second.stdout + second.stderr);

  const flakyLine = /fk\s+matrix-multiply\s+multiplies 200 pairs of 6x6 matrices correctly\s+50%\s+1\/2/;
  const flaky = await cli(['history', 'flaky', '--farm', cluster.url], 'farm history flaky');
  assert.equal(flaky.code, 0, flaky.stdout + flaky.stderr);
  assert.match(flaky.stdout, /last 200 runs of postgres:\/\/farm@127\.0\.0\.1:\d+\/postgres:/);
  assert.match(flaky.stdout, flakyLine);
  assert.doesNotMatch(flaky.stdout, /fk\s+echo\s/);
  // FARM_DB is where farm history looks when neither --history nor FARM_HISTORY says otherwise.
  const byEnv = await cli(['history', 'flaky'], 'farm history flaky (FARM_DB)', { FARM_DB: cluster.url });
  assert.match(byEnv.stdout, flakyLine);

  // The next run knows the test is flaky: the gate can tell it apart.
  await startAgent('{}');
  const third = await farmRun('out-3', 'echo,matrix-multiply');
  assert.equal(third.code, 0, third.stdout + third.stderr);
  assert.equal(third.testCase('matrix-multiply').properties.get('history.flaky'), 'true');
  assert.equal(third.testCase('echo').properties.get('history.flaky'), undefined);

  // A slowed remote: a regression against the two passing runs, failing the run when asked.
  await startAgent('{ delayMs: 20 }');
  const slowed = await farmRun('out-4', 'echo', '--fail-on-regression');
  assert.equal(slowed.code, 1, slowed.stdout + slowed.stderr);
  assert.equal(slowed.testCase('echo').properties.get('perf.status'), 'regression');
  assert.equal(slowed.testCase('echo').failure?.attributes.type, 'performance');

  // Judged with the agent's farm file's history: settings, as the run was.
  const perf = await cli(['history', 'perf', '--farm', cluster.url, '--metric', 'echo.p50Us', '--config', 'agent.yaml'], 'farm history perf');
  assert.equal(perf.code, 0, perf.stdout + perf.stderr);
  assert.match(perf.stdout, /fk\s+echo\.p50Us\s+\S+\s+3\s+[\d.]+ µs\s+[\d.]+\s+[\d.]+\.\.[\d.]+\s+regression\s+1/);

  const runs = await cli(['history', 'runs', '--farm', cluster.url, '--json'], 'farm history runs');
  assert.equal(runs.code, 0, runs.stdout + runs.stderr);
  const list = JSON.parse(runs.stdout) as { status: string; targets: string[]; firmwareRev: string | null; farmJob: number | null; regressions: number }[];
  // One history run per job: echo and matrix-multiply of the first and third runs.
  assert.deepEqual(list.map((run) => run.status), ['passed', 'passed', 'passed', 'failed', 'passed', 'passed']);
  assert.ok(list.every((run) => run.targets.join() === 'fk' && typeof run.farmJob === 'number'), runs.stdout);
  assert.ok((list[0]?.regressions ?? 0) >= 1, runs.stdout);
  assert.equal(list[5]?.firmwareRev, 'v1.0-7-gfeed');

  const table = await cli(['history', 'runs', '--farm', cluster.url], 'farm history runs (table)');
  assert.match(table.stdout, /firmware rev\s+farm job\n/);
  assert.match(table.stdout, /\sfk\s+1\s+0\s+0\s+0\s+0\s+0\s+v1\.0-7-gfeed\s+#\d+\n$/);

  const both = await cli(['history', 'runs', '--farm', cluster.url, '--history', 'x.sqlite'], 'farm history with --farm and --history');
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--history and --farm: give one/);
  const refused = await cli(['run', '--farm', cluster.url, '--history', 'x.sqlite'], 'farm run --farm --history');
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--history: not with --farm/);
});
