/**
 * A farm of many hosts, end to end: one real PostgreSQL on loopback (a throwaway cluster),
 * `farm db init`, agents as separate `farm agent` processes with separate target sets (the
 * test-only fake kind), and `farm run --farm` as CI runs it. Then the faults: an agent killed
 * with SIGKILL mid-job, the database stopped for a few seconds, a CI run cancelled (Ctrl-C) and
 * one whose client vanished (SIGKILL). Every job must end classified, no lease may outlive its
 * TTL, nothing may be lost.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createPgCluster, type PgCluster } from '../db/throwaway-cluster.js';
import { openPool, type Pool } from '../db/connection.js';
import { descendants, isAlive, junitAllCases, runCli, startCli, waitFor, workspace } from '../testing/cli-harness.js';

const space = workspace();
let cluster: PgCluster;
let pool: Pool;
const agents: ChildProcess[] = [];

before(async () => {
  cluster = await createPgCluster();
  pool = openPool(cluster.url, { applicationName: 'farm-of-hosts test', max: 3 });
  const init = await runCli(['db', 'init', '--farm', cluster.url], space.dir);
  assert.equal(init.code, 0, init.stdout + init.stderr);
  assert.match(init.stdout, /applied coordinator-001-agents-places-runs-jobs/);
});

after(async () => {
  for (const agent of agents) if (agent.exitCode === null) agent.kill('SIGKILL');
  await pool?.end();
  await cluster?.remove();
  space.remove();
});

interface Agent {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly result: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function startAgent(name: string, yaml: string, ttlSeconds: number): Agent {
  const config = space.write(`${name}.yaml`, yaml);
  const started = startCli(['agent', '--farm', cluster.url, '--config', config, '--name', name, '--ttl', String(ttlSeconds)], space.dir);
  agents.push(started.child);
  return started;
}

async function placeHealth(name: string): Promise<string | undefined> {
  return (await pool.query<{ health: string; check_due: boolean }>('SELECT health, check_due FROM farm_places WHERE name = $1', [name])).rows[0]?.health;
}

async function waitHealth(name: string, health: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await placeHealth(name)) !== health) {
    if (Date.now() > deadline) throw new Error(`place ${name} did not become ${health} (is ${await placeHealth(name)})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function jobsOf(runId: number) {
  return (await pool.query<{ id: number; state: string; attempts: number; place: string | null; agent: string | null; history: string[]; error: string | null; started_at: Date | null }>(
    'SELECT id, state, attempts, place, agent, history, error, started_at FROM farm_jobs WHERE run_id = $1 ORDER BY id',
    [runId],
  )).rows;
}

async function waitFirstRunning(runId: number, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const running = (await jobsOf(runId)).find((job) => job.state === 'running');
    if (running) return running;
    if (Date.now() > deadline) throw new Error(`no job of run ${runId} started`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const runIdOf = (output: string) => Number(/run #(\d+) on /.exec(output)?.[1]);

/** Nothing is left running past its lease, and every job of every run has ended classified. */
async function assertFarmInvariants(): Promise<void> {
  const overdue = await pool.query(`SELECT id FROM farm_jobs WHERE state = 'running' AND lease_expires_at < now() - interval '1 second'`);
  assert.deepEqual(overdue.rows, [], 'no lease outlives its TTL');
}

const FAKE = (name: string, params = '{ delayMs: 1 }', place = '') => `  - name: ${name}\n    kind: fake\n    params: ${params}\n${place ? `    place: ${place}\n` : ''}`;

test('agents on two hosts run a CI run by place name and by requirement; health checks find a bad board and a dead console', async () => {
  startAgent('host-a', `targets:\n${FAKE('a-one')}${FAKE('a-two')}`, 4);
  startAgent('host-b', `targets:\n${FAKE('b-one', '{ delayMs: 1 }', '{ soc: socx, instruments: [power-meter] }')}${FAKE('b-bad', '{ setupFails: true }')}${FAKE('b-mute', '{ silentConsole: true }')}`, 4);
  await waitHealth('a-one', 'Good');
  await waitHealth('b-one', 'Good');
  await waitHealth('b-bad', 'Bad');
  await waitHealth('b-mute', 'Good');

  const places = await runCli(['places', '--farm', cluster.url], space.dir);
  assert.equal(places.code, 0, places.stderr);
  assert.match(places.stdout, /^b-bad\s+host-b\s+fake\s+-\s+-\s+\S+\s+Bad/m);
  assert.match(places.stdout, /^b-mute\s+host-b\s+fake\s.*Good\s+lifecycle \(bad: console\)/m);
  assert.match(places.stdout, /^b-one\s+host-b\s+fake\s+socx\s+power-meter\s/m);
  const health = await runCli(['health', 'b-bad', '--farm', cluster.url], space.dir);
  assert.match(health.stdout, /b-bad\s+Bad\s+health check: power FAILED: setup failed: .*power relay did not answer/);

  const byName = await runCli(['run', '--farm', cluster.url, '--target', 'a-one,b-one', '--suite', 'echo,matrix-multiply', '--out', 'out-names'], space.dir);
  assert.equal(byName.code, 0, byName.stdout + byName.stderr);
  assert.match(byName.stdout, /job #\d+ a-one echo: running on a-one \(agent host-a\)/);
  assert.match(byName.stdout, /job #\d+ b-one matrix-multiply: passed/);
  // The agents' output is streamed to the CI side live.
  assert.match(byName.stdout, /\[#\d+\] ok\s+\[1\/1\] b-one\s+echo/);
  const cases = junitAllCases(readFileSync(join(space.dir, 'out-names', 'junit.xml'), 'utf8'));
  assert.equal(cases.filter((entry) => entry.endsWith('|passed')).length, cases.length);
  assert.deepEqual([...new Set(cases.map((entry) => entry.split('|')[0]))].sort(), ['a-one', 'b-one']);
  const metrics = JSON.parse(readFileSync(join(space.dir, 'out-names', 'metrics.json'), 'utf8')) as { status: string; echo: unknown[]; jobs: { state: string }[] };
  assert.equal(metrics.status, 'passed');
  assert.equal(metrics.echo.length, 2);
  assert.equal(metrics.jobs.length, 4);
  assert.ok(existsSync(join(space.dir, 'out-names', 'html', 'index.html')));
  assert.match(byName.stdout, /a-one\s+echo\s+1\s+0\s+0\s+0/);

  // By requirement: only b-one has soc socx and a power meter.
  const byRequirement = await runCli(['run', '--farm', cluster.url, '--require', 'soc=socx,instrument=power-meter', '--suite', 'echo', '--out', 'out-req'], space.dir);
  assert.equal(byRequirement.code, 0, byRequirement.stdout + byRequirement.stderr);
  assert.match(byRequirement.stdout, /running on b-one \(agent host-b\)/);
  const none = await runCli(['run', '--farm', cluster.url, '--require', 'soc=nosuch', '--out', 'out-none'], space.dir);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /--require soc=nosuch: no place of the farm matches/);

  // The quarantined suite of the mute place and the Bad place: their jobs end as infrastructure
  // errors after the queue timeout instead of waiting forever, and the run fails.
  const blocked = await runCli(['run', '--farm', cluster.url, '--target', 'b-mute,b-bad', '--suite', 'lifecycle,echo', '--queue-timeout', '2', '--out', 'out-blocked'], space.dir);
  assert.equal(blocked.code, 1, blocked.stdout + blocked.stderr);
  assert.match(blocked.stdout, /note: place b-mute: lifecycle quarantined \(bad capability console\)/);
  const blockedCases = junitAllCases(readFileSync(join(space.dir, 'out-blocked', 'junit.xml'), 'utf8'));
  assert.ok(blockedCases.some((entry) => entry.startsWith('b-mute|b-mute.echo|') && entry.endsWith('|passed')), blockedCases.join('\n'));
  assert.ok(blockedCases.some((entry) => /^b-mute\|b-mute\.lifecycle\|farm job #\d+ \(lifecycle\)\|error$/.test(entry)), blockedCases.join('\n'));
  assert.ok(blockedCases.some((entry) => /^b-bad\|b-bad\.echo\|farm job #\d+ \(echo\)\|error$/.test(entry)), blockedCases.join('\n'));
  assert.match(readFileSync(join(space.dir, 'out-blocked', 'junit.xml'), 'utf8'), /no place can run it/);

  // An operator takes the bad board out of service; Good comes only from a health check.
  const maintenance = await runCli(['health', 'b-bad', '--set', 'Maintenance', '--reason', 'relay replaced', '--farm', cluster.url], space.dir);
  assert.equal(maintenance.code, 0, maintenance.stderr);
  assert.equal(await placeHealth('b-bad'), 'Maintenance');
  const good = await runCli(['health', 'b-bad', '--set', 'Good', '--reason', 'x', '--farm', cluster.url], space.dir);
  assert.equal(good.code, 2);
  assert.match(good.stderr, /--set: expected Maintenance, Retired or Unknown, got "Good" \(Good comes only from a passing health check\)/);
  const history = await runCli(['health', 'b-bad', '--farm', cluster.url], space.dir);
  assert.match(history.stdout, /b-bad\s+Maintenance\s+set by operator: relay replaced/);
  await assertFarmInvariants();
});

test('faults: an agent killed mid-job, the database gone for seconds, a cancelled and a vanished CI run', async () => {
  const TTL = 4;
  const slow = '{ delayMs: 25 }';
  const c = startAgent('host-c', `targets:\n${FAKE('c-slow', slow, '{ soc: slowsoc }')}`, TTL);
  const d = startAgent('host-d', `targets:\n${FAKE('d-slow', slow, '{ soc: slowsoc }')}`, TTL);
  await waitHealth('c-slow', 'Good');
  await waitHealth('d-slow', 'Good');

  // 1. kill -9 of the agent running the job: the lease expires, the job is requeued and runs
  //    on the other host; the killed agent's runner does not survive it.
  const killRun = startCli(['run', '--farm', cluster.url, '--require', 'soc=slowsoc', '--suite', 'matrix-multiply', '--repeat', '3', '--out', 'out-kill'], space.dir);
  await waitFor(() => Number.isFinite(runIdOf(killRun.output())), 30_000, 'the run to be queued');
  const killRunId = runIdOf(killRun.output());
  const first = await waitFirstRunning(killRunId);
  const victim = first.agent === 'host-c' ? c : d;
  await waitFor(() => descendants(victim.child.pid as number).length > 0, 30_000, 'the job runner to start');
  const runnerTree = descendants(victim.child.pid as number);
  victim.child.kill('SIGKILL');
  const killedAt = Date.now();
  await waitFor(() => runnerTree.every((pid) => !isAlive(pid)), 10_000, 'the killed agent\'s runner to end with it');
  const killResult = await killRun.result;
  assert.equal(killResult.code, 0, killResult.stdout + killResult.stderr);
  const [requeued] = await jobsOf(killRunId);
  assert.equal(requeued?.state, 'passed');
  assert.equal(requeued?.attempts, 2);
  assert.notEqual(requeued?.agent, first.agent);
  assert.match(requeued?.history[0] ?? '', new RegExp(`attempt 1 on ${first.place} \\(agent ${first.agent}\\): lease expired at .*: the agent stopped renewing it`));
  assert.match(killResult.stdout, /: (queued|running on \S+ \(agent host-\w\)) again \(attempt 1 on \S+ \(agent host-\w\): lease expired/);
  // Requeued within one TTL (plus the sweeper's period, a third of it) of the kill.
  const requeuedAt = requeued?.started_at?.getTime() ?? Infinity;
  assert.ok(requeuedAt - killedAt <= (TTL + TTL / 3 + 2) * 1000, `requeued ${requeuedAt - killedAt} ms after the kill`);
  await assertFarmInvariants();

  // 2. The database stopped for a few seconds mid-job: the job goes on and is recorded once the
  //    database is back; the CI side waits through it.
  const survivor = victim === c ? d : c;
  const survivorPlace = survivor === c ? 'c-slow' : 'd-slow';
  const dbRun = startCli(['run', '--farm', cluster.url, '--target', survivorPlace, '--suite', 'matrix-multiply', '--repeat', '3', '--out', 'out-db'], space.dir);
  await waitFor(() => Number.isFinite(runIdOf(dbRun.output())), 30_000, 'the run to be queued');
  const dbRunId = runIdOf(dbRun.output());
  await waitFirstRunning(dbRunId);
  await cluster.stop();
  await new Promise((resolve) => setTimeout(resolve, 2500));
  await cluster.start();
  const dbResult = await dbRun.result;
  assert.equal(dbResult.code, 0, dbResult.stdout + dbResult.stderr);
  assert.match(dbResult.stdout, /farm database unreachable/);
  assert.deepEqual((await jobsOf(dbRunId)).map((job) => `${job.state}/${job.attempts}`), ['passed/1']);
  assert.match(survivor.output(), /farm database unreachable/);
  assert.match(survivor.output(), /farm database reachable again/);

  // 3. Ctrl-C of the CI run: its running job is stopped by the agent at once, the queued one
  //    cancelled; the client reports them and exits 130.
  const cancelRun = startCli(['run', '--farm', cluster.url, '--target', survivorPlace, '--suite', 'matrix-multiply,echo', '--repeat', '200', '--out', 'out-cancel'], space.dir);
  await waitFor(() => Number.isFinite(runIdOf(cancelRun.output())), 30_000, 'the run to be queued');
  const cancelRunId = runIdOf(cancelRun.output());
  await waitFirstRunning(cancelRunId);
  cancelRun.child.kill('SIGINT');
  const cancelResult = await cancelRun.result;
  assert.equal(cancelResult.code, 130, cancelResult.stdout + cancelResult.stderr);
  assert.deepEqual((await jobsOf(cancelRunId)).map((job) => job.state), ['cancelled', 'cancelled']);
  const cancelCases = junitAllCases(readFileSync(join(space.dir, 'out-cancel', 'junit.xml'), 'utf8'));
  assert.ok(cancelCases.length >= 2 && !cancelCases.every((entry) => entry.endsWith('|passed')), cancelCases.join('\n'));
  assert.equal((await pool.query(`SELECT 1 FROM farm_jobs WHERE place = $1 AND state = 'running'`, [survivorPlace])).rowCount, 0, 'the place is free again');

  // 4. The CI client vanishes (SIGKILL): its run's lease (--ttl) runs out, the farm abandons it
  //    and the agent stops the job: the place is free within one TTL and a heartbeat.
  const RUN_TTL = 3;
  const vanishRun = startCli(['run', '--farm', cluster.url, '--target', survivorPlace, '--suite', 'matrix-multiply', '--repeat', '200', '--ttl', String(RUN_TTL), '--out', 'out-vanish'], space.dir);
  await waitFor(() => Number.isFinite(runIdOf(vanishRun.output())), 30_000, 'the run to be queued');
  const vanishRunId = runIdOf(vanishRun.output());
  await waitFirstRunning(vanishRunId);
  vanishRun.child.kill('SIGKILL');
  const vanishedAt = Date.now();
  const deadline = vanishedAt + (RUN_TTL + TTL / 3 + 10) * 1000;
  for (;;) {
    const [job] = await jobsOf(vanishRunId);
    if (job?.state === 'cancelled') break;
    assert.ok(Date.now() < deadline, `job still ${job?.state} ${Date.now() - vanishedAt} ms after its client vanished`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const releasedAfter = Date.now() - vanishedAt;
  // The run's TTL, then the sweep and the agent's next heartbeat (a third of the agent TTL), then the runner's stop.
  assert.ok(releasedAfter <= (RUN_TTL + TTL / 3 + 1) * 1000 + 8000, `released ${releasedAfter} ms after the client vanished`);
  assert.equal((await pool.query<{ state: string }>('SELECT state FROM farm_runs WHERE id = $1', [vanishRunId])).rows[0]?.state, 'abandoned');

  // Nothing lost: every job of every run has ended in a final state.
  const open = await pool.query(`SELECT id, state FROM farm_jobs WHERE state IN ('queued', 'running')`);
  assert.deepEqual(open.rows, []);
  await assertFarmInvariants();

  // The SIGKILLed agent could not remove its work folder; the next agent to start sweeps it (or
  // anything else of the farm that started meanwhile: a dead run's files are anyone's to sweep).
  const victimFolders = (): string[] => readdirSync(tmpdir()).filter((entry) => entry.startsWith(`farm-agent-${victim.child.pid}-`));
  const sweeper = startAgent('host-e', `targets:\n${FAKE('e-idle')}`, TTL);
  await waitFor(() => /registered with/.test(sweeper.output()), 30_000, 'the next agent to register');
  assert.deepEqual(victimFolders(), [], 'swept by the next agent');
  // SIGTERM just after registering, while the agent's first tick connects its listener: it
  // still ends, and on its own (not by the CLI's last-resort exit for a handle left open).
  sweeper.child.kill('SIGTERM');
  const swept = await sweeper.result;
  assert.equal(swept.code, 0, swept.stdout + swept.stderr);
  assert.doesNotMatch(swept.stderr, /handle was left open/);

  // An agent stopped with SIGTERM leaves cleanly and is shown offline.
  const survivorPid = survivor.child.pid;
  survivor.child.kill('SIGTERM');
  const stopped = await survivor.result;
  assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr);
  assert.doesNotMatch(stopped.stderr, /handle was left open/);
  assert.deepEqual(readdirSync(tmpdir()).filter((entry) => entry.startsWith(`farm-agent-${survivorPid}-`)), [], 'a stopped agent removes its work folder');
  const after = await runCli(['places', '--farm', cluster.url], space.dir);
  assert.match(after.stdout, new RegExp(`^${survivorPlace}\\s+${survivor === c ? 'host-c' : 'host-d'} \\(offline\\)`, 'm'));
});

test('an agent stopped at any moment of its start (SIGTERM right after it registers) ends on its own, within seconds', async () => {
  // Every few ms of the agent's first tick (heartbeat, sweep, connecting its listener): a stop
  // while the listener connected once left that connection open and the agent running forever.
  for (const delayMs of Array.from({ length: 20 }, (_, i) => i * 4)) {
    const agent = startAgent(`host-stop-${delayMs}`, `targets:\n${FAKE(`stop-${delayMs}`)}`, 4);
    await waitFor(() => /registered with/.test(agent.output()), 30_000, `agent host-stop-${delayMs} to register`);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    const stoppedAt = Date.now();
    agent.child.kill('SIGTERM');
    const result = await agent.result;
    assert.equal(result.code, 0, `SIGTERM ${delayMs} ms after registering: ${result.stdout}${result.stderr}`);
    assert.doesNotMatch(result.stderr, /handle was left open/, `SIGTERM ${delayMs} ms after registering`);
    assert.ok(Date.now() - stoppedAt < 30_000, `SIGTERM ${delayMs} ms after registering: ended ${Date.now() - stoppedAt} ms later`);
  }
});
