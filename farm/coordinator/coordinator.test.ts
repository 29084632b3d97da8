/** The coordinator's SQL against a real PostgreSQL (a throwaway cluster of this test). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPgCluster, type PgCluster } from '../db/throwaway-cluster.js';
import { openPool, type Pool } from '../db/connection.js';
import { migrate, pendingMigrations } from '../db/migrate.js';
import { FARM_MIGRATIONS } from '../farm-migrations.js';
import {
  claimJob, createRun, endRun, failUnrunnable, finishJob, heartbeat, jobsOfRun, listPlaces, placesDueForCheck, recordHealthCheck, registerAgent,
  releaseJob, runHeartbeat, setHealth, sweep, type JobReport, type PlaceSpec,
} from './coordinator.js';

let cluster: PgCluster;
let pool: Pool;
before(async () => {
  cluster = await createPgCluster();
  pool = openPool(cluster.url, { applicationName: 'coordinator test', max: 8 });
  await migrate(pool, FARM_MIGRATIONS);
});
after(async () => {
  await pool?.end();
  await cluster?.remove();
});

const place = (name: string, extra: Partial<PlaceSpec> = {}): PlaceSpec => ({
  name, kind: 'sim', suites: ['echo', 'lifecycle'], soc: null, instruments: [], capabilities: ['power', 'rpmsg', 'console'], config: {}, ...extra,
});
const TTL = 60_000;
const passed: JobReport = { outcome: 'passed', exitCode: 0, summary: '1 passed', error: null, junit: null, metrics: null, html: null };
const infra: JobReport = { ...passed, outcome: 'infra-error', exitCode: 1, summary: 'setup failed', error: 'board did not boot' };
const good = [{ capability: 'power', ok: true, detail: 'up' }, { capability: 'rpmsg', ok: true, detail: 'echo' }, { capability: 'console', ok: true, detail: 'seen' }] as const;

test('migrations are versioned: a second init applies nothing, an edited migration is refused', async () => {
  assert.deepEqual(await pendingMigrations(pool, FARM_MIGRATIONS), []);
  const again = await migrate(pool, FARM_MIGRATIONS);
  assert.deepEqual(again.applied, []);
  const edited = FARM_MIGRATIONS.map((migration) => ({ ...migration, sql: `${migration.sql}\n-- changed` }));
  await assert.rejects(migrate(pool, edited), /was applied with other SQL.*append-only/);
  const added = await migrate(pool, [...FARM_MIGRATIONS, { id: 'test-001-extra', module: 'test', sql: 'CREATE TABLE test_extra (x int)' }]);
  assert.deepEqual(added.applied, ['test-001-extra']);
});

test('jobs go by priority to places that meet their requirements, one running job per place, only after a health check', async () => {
  await registerAgent(pool, { name: 'a1', host: 'h1', pid: 1, ttlMs: TTL }, [place('p-sim'), place('p-mp1', { kind: 'linux-remoteproc', soc: 'stm32mp157', instruments: ['power-meter'] })]);
  const { runId } = await createRun(pool, 'ci', TTL, 0, [
    { suite: 'echo', kind: 'linux-remoteproc', options: {}, maxAttempts: 2 },
    { suite: 'echo', soc: 'stm32mp157', instruments: ['power-meter'], options: {}, maxAttempts: 2 },
  ]);
  const urgent = await createRun(pool, 'pr', TTL, 10, [{ suite: 'echo', place: 'p-mp1', options: {}, maxAttempts: 2 }]);
  // Unknown health: nothing is handed out before a health check.
  assert.equal(await claimJob(pool, 'a1', ['p-sim', 'p-mp1'], TTL), undefined);
  assert.equal(await recordHealthCheck(pool, 'p-sim', good), 'Good');
  assert.equal(await recordHealthCheck(pool, 'p-mp1', good), 'Good');
  // The sim place meets none of the requirements.
  assert.equal(await claimJob(pool, 'a1', ['p-sim'], TTL), undefined);
  const first = await claimJob(pool, 'a1', ['p-sim', 'p-mp1'], TTL);
  assert.equal(first?.run_id, urgent.runId, 'the higher priority first');
  assert.equal(first?.place, 'p-mp1');
  // The place is leased: the database refuses a second running job on it.
  await assert.rejects(claimJob(pool, 'a1', ['p-mp1'], TTL), /farm_jobs_one_per_place/);
  assert.deepEqual((await finishJob(pool, first?.id as number, 'a1', passed)).state, 'passed');
  const second = await claimJob(pool, 'a1', ['p-mp1'], TTL);
  assert.equal(second?.run_id, runId);
  await finishJob(pool, second?.id as number, 'a1', passed);
  const third = await claimJob(pool, 'a1', ['p-mp1'], TTL);
  await finishJob(pool, third?.id as number, 'a1', passed);
  assert.deepEqual((await jobsOfRun(pool, runId)).map((job) => job.state), ['passed', 'passed']);
});

test('concurrent claims of many agents never hand one job out twice (SKIP LOCKED)', async () => {
  const agents = Array.from({ length: 6 }, (_, index) => `c${index}`);
  for (const agent of agents) {
    await registerAgent(pool, { name: agent, host: agent, pid: 1, ttlMs: TTL }, [place(`${agent}-x`, { kind: 'conc' }), place(`${agent}-y`, { kind: 'conc' })]);
    await recordHealthCheck(pool, `${agent}-x`, good);
    await recordHealthCheck(pool, `${agent}-y`, good);
  }
  const { runId } = await createRun(pool, 'ci', TTL, 0, Array.from({ length: 40 }, () => ({ suite: 'echo', kind: 'conc', options: {}, maxAttempts: 1 })));
  const taken: number[] = [];
  await Promise.all(agents.flatMap((agent) => [`${agent}-x`, `${agent}-y`].map(async (name) => {
    for (;;) {
      const job = await claimJob(pool, agent, [name], TTL);
      if (!job) return;
      taken.push(job.id);
      await finishJob(pool, job.id, agent, passed);
    }
  })));
  assert.equal(taken.length, 40);
  assert.equal(new Set(taken).size, 40);
  assert.ok((await jobsOfRun(pool, runId)).every((job) => job.state === 'passed'));
});

test('an expired lease requeues the job once, then fails it as an infrastructure error; the place counts it', async () => {
  await registerAgent(pool, { name: 'dead', host: 'h', pid: 1, ttlMs: 200 }, [place('p-dead', { kind: 'lease' })]);
  await recordHealthCheck(pool, 'p-dead', good);
  const { runId } = await createRun(pool, 'ci', TTL, 0, [{ suite: 'echo', kind: 'lease', options: {}, maxAttempts: 2 }]);
  const job = await claimJob(pool, 'dead', ['p-dead'], 200);
  assert.ok(job);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const swept = await sweep(pool);
  assert.deepEqual(swept.expired.filter((entry) => entry.id === job.id).map((entry) => entry.state), ['queued']);
  // The late agent learns it lost the lease; its result is not recorded.
  assert.deepEqual((await heartbeat(pool, 'dead', [job.id], 200)).lost, [job.id]);
  assert.equal((await finishJob(pool, job.id, 'dead', passed)).recorded, false);
  // A failure makes the place wait for a health check before it is used again.
  assert.equal(await claimJob(pool, 'dead', ['p-dead'], 200), undefined);
  await recordHealthCheck(pool, 'p-dead', good);
  const again = await claimJob(pool, 'dead', ['p-dead'], 200);
  assert.equal(again?.id, job.id);
  assert.equal(again?.attempts, 2);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await sweep(pool);
  const [final] = await jobsOfRun(pool, runId);
  assert.equal(final?.state, 'infra-error');
  assert.match(final?.error ?? '', /attempt 2 on p-dead \(agent dead\): lease expired at .* the agent stopped renewing it/);
  assert.equal(final?.history.length, 2);
  assert.equal((await listPlaces(pool)).find((entry) => entry.name === 'p-dead')?.infra_failures, 2);
});

test('N infrastructure failures in a row make a place Bad; a failed capability quarantines only the suites that need it', async () => {
  await registerAgent(pool, { name: 'q', host: 'h', pid: 1, ttlMs: TTL }, [place('p-q', { kind: 'quar' }), place('p-cap', { kind: 'cap' })]);
  await recordHealthCheck(pool, 'p-q', good);
  await createRun(pool, 'ci', TTL, 0, Array.from({ length: 3 }, () => ({ suite: 'echo', kind: 'quar', options: {}, maxAttempts: 1 })));
  for (let failure = 1; failure <= 3; failure++) {
    const job = await claimJob(pool, 'q', ['p-q'], TTL);
    assert.ok(job, `job ${failure}`);
    const result = await finishJob(pool, job.id, 'q', infra);
    assert.equal(result.state, 'infra-error');
    assert.equal(result.quarantined, failure === 3);
    if (failure < 3) await recordHealthCheck(pool, 'p-q', good);
  }
  assert.equal((await listPlaces(pool)).find((entry) => entry.name === 'p-q')?.health, 'Bad');
  // Back to service only through Unknown and a health check.
  assert.ok(await setHealth(pool, 'p-q', 'Unknown', 'relay replaced'));
  assert.equal((await listPlaces(pool)).find((entry) => entry.name === 'p-q')?.infra_failures, 0);

  const health = await recordHealthCheck(pool, 'p-cap', [good[0], good[1], { capability: 'console', ok: false, detail: 'no output in 5 s' }]);
  assert.equal(health, 'Good');
  const cap = (await listPlaces(pool)).find((entry) => entry.name === 'p-cap');
  assert.deepEqual(cap?.bad_capabilities, ['console']);
  assert.deepEqual(cap?.blocked_suites, ['lifecycle']);
  const { runId } = await createRun(pool, 'ci', TTL, 0, [
    { suite: 'lifecycle', kind: 'cap', options: {}, maxAttempts: 1 },
    { suite: 'echo', kind: 'cap', options: {}, maxAttempts: 1 },
  ]);
  const job = await claimJob(pool, 'q', ['p-cap'], TTL);
  assert.equal(job?.suite, 'echo', 'lifecycle needs the console: only echo runs');
  await finishJob(pool, job?.id as number, 'q', passed);
  assert.equal(await claimJob(pool, 'q', ['p-cap'], TTL), undefined);
  // Nothing can run the lifecycle job: after the grace period it fails instead of waiting forever.
  assert.equal(await failUnrunnable(pool, runId, 0), 1);
  const states = (await jobsOfRun(pool, runId)).map((entry) => `${entry.suite}:${entry.state}`);
  assert.deepEqual(states, ['lifecycle:infra-error', 'echo:passed']);
});

test('a run whose client stops heartbeating is abandoned: queued jobs cancelled, running ones asked to stop', async () => {
  await registerAgent(pool, { name: 'r', host: 'h', pid: 1, ttlMs: TTL }, [place('p-r', { kind: 'run' })]);
  await recordHealthCheck(pool, 'p-r', good);
  const { runId } = await createRun(pool, 'ci', 200, 0, [
    { suite: 'echo', kind: 'run', options: {}, maxAttempts: 1 },
    { suite: 'echo', kind: 'run', options: {}, maxAttempts: 1 },
  ]);
  const job = await claimJob(pool, 'r', ['p-r'], TTL);
  assert.equal(await runHeartbeat(pool, runId), 'active');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual((await sweep(pool)).abandonedRuns, [runId]);
  assert.equal(await runHeartbeat(pool, runId), 'abandoned');
  assert.deepEqual((await heartbeat(pool, 'r', [job?.id as number], TTL)).cancel, [job?.id]);
  const result = await finishJob(pool, job?.id as number, 'r', { ...passed, outcome: 'cancelled', summary: 'stopped' });
  assert.equal(result.state, 'cancelled');
  assert.deepEqual((await jobsOfRun(pool, runId)).map((entry) => entry.state), ['cancelled', 'cancelled']);
  // A cancelled run (Ctrl-C of the client) does the same at once.
  const second = await createRun(pool, 'ci', TTL, 0, [{ suite: 'echo', kind: 'run', options: {}, maxAttempts: 1 }]);
  await endRun(pool, second.runId, 'cancelled');
  assert.deepEqual((await jobsOfRun(pool, second.runId)).map((entry) => entry.state), ['cancelled']);
});

test('health checks fall due on schedule and after maintenance; a stopping agent gives its job back without spending an attempt', async () => {
  await registerAgent(pool, { name: 's', host: 'h', pid: 1, ttlMs: TTL }, [place('p-s', { kind: 'sched' })]);
  assert.deepEqual(await placesDueForCheck(pool, 's', 3_600_000), ['p-s'], 'Unknown: due');
  await recordHealthCheck(pool, 'p-s', good);
  assert.deepEqual(await placesDueForCheck(pool, 's', 3_600_000), [], 'just checked');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(await placesDueForCheck(pool, 's', 10), ['p-s'], 'on schedule');
  await setHealth(pool, 'p-s', 'Maintenance', 'new cable');
  assert.deepEqual(await placesDueForCheck(pool, 's', 3_600_000), [], 'in maintenance: not checked, not used');
  await setHealth(pool, 'p-s', 'Unknown', 'cable done');
  assert.deepEqual(await placesDueForCheck(pool, 's', 3_600_000), ['p-s'], 'after maintenance: checked before use');
  await recordHealthCheck(pool, 'p-s', good);

  const { runId } = await createRun(pool, 'ci', TTL, 0, [{ suite: 'echo', kind: 'sched', options: {}, maxAttempts: 1 }]);
  const job = await claimJob(pool, 's', ['p-s'], TTL);
  assert.ok(await releaseJob(pool, job?.id as number, 's', 'agent s stopped'));
  const [queued] = await jobsOfRun(pool, runId);
  assert.equal(queued?.state, 'queued');
  assert.equal(queued?.attempts, 0);
  assert.match(queued?.history[0] ?? '', /given back: agent s stopped/);
  assert.equal((await claimJob(pool, 's', ['p-s'], TTL))?.id, job?.id, 'and it runs again');
});
