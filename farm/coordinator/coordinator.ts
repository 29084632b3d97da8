/**
 * The coordinator: every scheduling decision is one SQL statement on the farm database, so any
 * number of agents and CI clients on any hosts agree without a server of our own.
 *
 * Queue: plain `SELECT ... FOR UPDATE SKIP LOCKED` on farm_jobs. A job here is not a function
 * call to retry (what graphile-worker and pg-boss model) but a claim of a place that must match
 * the job's requirements, hold a lease that a heartbeat renews, and be given back when the
 * agent or the CI run goes away; those libraries would still leave all of that to us and add
 * their own schema and workers beside ours. The claim joins the queue with the agent's free
 * places in one statement; a unique index allows one running job per place whatever happens.
 *
 * Leases: a running job's lease_expires_at; agents renew it with their heartbeat. `sweep`
 * (run by every agent and every CI client, idempotent) requeues or fails jobs whose lease
 * expired, and cancels the jobs of runs whose client stopped heartbeating.
 */
import type { Pool, PoolClient } from '../db/connection.js';
import { inTransaction } from '../db/connection.js';
import { BASE_CAPABILITIES, blockedSuites, type CapabilityResult } from './capabilities.js';
import type { Health, JobState } from './schema.js';

export const DEFAULT_MAX_INFRA_FAILURES = 3;

/** A job matches a place (aliases j and p). */
const MATCH = `j.suite = ANY(p.suites) AND NOT (j.suite = ANY(p.blocked_suites))
  AND (j.want_place IS NULL OR j.want_place = p.name)
  AND (j.want_kind IS NULL OR j.want_kind = p.kind)
  AND (j.want_soc IS NULL OR j.want_soc = p.soc)
  AND p.instruments @> j.want_instruments`;

const ms = (parameter: number) => `($${parameter}::integer * interval '1 millisecond')`;

export interface JobOptions {
  readonly repeat?: number;
  readonly retries?: number;
  /** Git revision of the firmware under test, kept in the run history (`farm run --farm --firmware-rev`). */
  readonly firmwareRev?: string;
  /** A performance regression against the farm's history fails the job. */
  readonly failOnRegression?: boolean;
}

export interface Job {
  readonly id: number;
  readonly run_id: number;
  readonly priority: number;
  readonly suite: string;
  readonly want_place: string | null;
  readonly want_kind: string | null;
  readonly want_soc: string | null;
  readonly want_instruments: string[];
  readonly options: JobOptions;
  readonly state: JobState;
  readonly attempts: number;
  readonly max_attempts: number;
  readonly place: string | null;
  readonly agent: string | null;
  readonly lease_expires_at: Date | null;
  readonly cancel_requested: boolean;
  readonly queued_at: Date;
  readonly started_at: Date | null;
  readonly finished_at: Date | null;
  readonly exit_code: number | null;
  readonly summary: string | null;
  readonly error: string | null;
  readonly history: string[];
}

const JOB_COLUMNS = `j.id, j.run_id, j.priority, j.suite, j.want_place, j.want_kind, j.want_soc, j.want_instruments, j.options,
  j.state, j.attempts, j.max_attempts, j.place, j.agent, j.lease_expires_at, j.cancel_requested, j.queued_at, j.started_at,
  j.finished_at, j.exit_code, j.summary, j.error, j.history`;

export interface PlaceSpec {
  readonly name: string;
  readonly kind: string;
  readonly suites: readonly string[];
  readonly soc: string | null;
  readonly instruments: readonly string[];
  readonly capabilities: readonly string[];
  /** The target's farm.yaml entry, for `farm places`. */
  readonly config: unknown;
}

export interface Place {
  readonly name: string;
  readonly agent: string;
  readonly kind: string;
  readonly suites: string[];
  readonly soc: string | null;
  readonly instruments: string[];
  readonly health: Health;
  readonly bad_capabilities: string[];
  readonly blocked_suites: string[];
  readonly infra_failures: number;
  readonly check_due: boolean;
  readonly last_check_at: Date | null;
  readonly agent_online: boolean;
  readonly running_job: number | null;
}

// ---- agents and places -------------------------------------------------------------------

export interface AgentIdentity {
  readonly name: string;
  readonly host: string;
  readonly pid: number;
  readonly ttlMs: number;
}

/**
 * Registers (or re-registers) an agent and its places. Jobs an earlier incarnation of the agent
 * was running are lost with it: their leases are expired now, so the sweep requeues them at
 * once instead of after their TTL. A place another agent that is online holds is refused.
 */
export async function registerAgent(pool: Pool, agent: AgentIdentity, places: readonly PlaceSpec[]): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO farm_agents (name, host, pid, ttl_ms) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, ttl_ms = EXCLUDED.ttl_ms,
         started_at = now(), heartbeat_at = now(), stopped_at = NULL`,
      [agent.name, agent.host, agent.pid, agent.ttlMs],
    );
    const taken = await client.query<{ name: string; agent: string }>(
      `SELECT p.name, p.agent FROM farm_places p JOIN farm_agents a ON a.name = p.agent
       WHERE p.name = ANY($1::text[]) AND p.agent <> $2 AND a.stopped_at IS NULL
         AND a.heartbeat_at + a.ttl_ms * interval '1 millisecond' > now()`,
      [places.map((place) => place.name), agent.name],
    );
    if (taken.rows.length) {
      const list = taken.rows.map((row) => `${row.name} (agent ${row.agent})`).join(', ');
      throw new PlaceConflictError(`places already registered by another agent that is online: ${list}`);
    }
    for (const place of places) {
      await client.query(
        `INSERT INTO farm_places (name, agent, kind, suites, soc, instruments, capabilities, config)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (name) DO UPDATE SET agent = EXCLUDED.agent, kind = EXCLUDED.kind, suites = EXCLUDED.suites,
           soc = EXCLUDED.soc, instruments = EXCLUDED.instruments, capabilities = EXCLUDED.capabilities,
           config = EXCLUDED.config, check_due = true`,
        [place.name, agent.name, place.kind, place.suites, place.soc, place.instruments, place.capabilities, JSON.stringify(place.config)],
      );
    }
    await client.query(`UPDATE farm_jobs SET lease_expires_at = now() - interval '1 millisecond' WHERE agent = $1 AND state = 'running'`, [agent.name]);
  });
}

export class PlaceConflictError extends Error {}

export async function stopAgent(pool: Pool, name: string): Promise<void> {
  await pool.query('UPDATE farm_agents SET stopped_at = now() WHERE name = $1', [name]);
}

export interface HeartbeatResult {
  /** Jobs whose lease is gone (expired and swept): the agent must stop them, their result is void. */
  readonly lost: readonly number[];
  /** Jobs whose run was cancelled: stop them and report them cancelled. */
  readonly cancel: readonly number[];
}

/** Renews the agent and the leases of `running` jobs it holds. */
export async function heartbeat(pool: Pool, agent: string, running: readonly number[], ttlMs: number): Promise<HeartbeatResult> {
  await pool.query('UPDATE farm_agents SET heartbeat_at = now(), stopped_at = NULL WHERE name = $1', [agent]);
  if (running.length === 0) return { lost: [], cancel: [] };
  const renewed = await pool.query<{ id: number; cancel_requested: boolean }>(
    `UPDATE farm_jobs SET lease_expires_at = now() + ${ms(3)}
     WHERE agent = $1 AND state = 'running' AND id = ANY($2::bigint[]) RETURNING id, cancel_requested`,
    [agent, running, ttlMs],
  );
  const alive = new Set(renewed.rows.map((row) => row.id));
  return { lost: running.filter((id) => !alive.has(id)), cancel: renewed.rows.filter((row) => row.cancel_requested).map((row) => row.id) };
}

/** Takes the first queued job (by priority, then age) one of `freePlaces` can run, leasing it. */
export async function claimJob(pool: Pool | PoolClient, agent: string, freePlaces: readonly string[], ttlMs: number): Promise<Job | undefined> {
  if (freePlaces.length === 0) return undefined;
  const result = await pool.query<Job>(
    // The queue is walked in order (its partial index gives priority, then age) and each job is
    // matched against the agent's free places, materialised once: the first job that fits wins,
    // without joining (and sorting) the whole queue with every place.
    `WITH mine AS MATERIALIZED (
       SELECT name, kind, soc, suites, blocked_suites, instruments FROM farm_places
       WHERE name = ANY($2::text[]) AND agent = $1 AND health = 'Good' AND NOT check_due
     ), candidate AS (
       SELECT j.id, m.name AS place FROM farm_jobs j
       CROSS JOIN LATERAL (SELECT p.name FROM mine p WHERE ${MATCH} LIMIT 1) m
       WHERE j.state = 'queued'
       ORDER BY j.priority DESC, j.id
       LIMIT 1
       FOR UPDATE OF j SKIP LOCKED
     )
     UPDATE farm_jobs j SET state = 'running', place = c.place, agent = $1, attempts = j.attempts + 1,
       started_at = now(), lease_expires_at = now() + ${ms(3)}
     FROM candidate c WHERE j.id = c.id
     RETURNING ${JOB_COLUMNS}`,
    [agent, freePlaces, ttlMs],
  );
  return result.rows[0];
}

export type JobOutcome = 'passed' | 'failed' | 'infra-error' | 'cancelled';

export interface JobReport {
  readonly outcome: JobOutcome;
  readonly exitCode: number | null;
  readonly summary: string;
  readonly error: string | null;
  readonly junit: string | null;
  readonly metrics: unknown;
  readonly html: string | null;
}

export interface FinishResult {
  /** False: the agent had lost the lease; nothing was recorded (the job was requeued or ended). */
  readonly recorded: boolean;
  /** The state the job is in now ('queued' when an infrastructure failure requeued it). */
  readonly state?: JobState;
  /** The place went Bad with this job. */
  readonly quarantined?: boolean;
}

/**
 * Records a job's end. An infrastructure error is retried on another attempt (queued again)
 * while attempts remain, and counts against the place: after `maxInfraFailures` in a row the
 * place is Bad; any infrastructure error makes the next use of the place wait for a health check.
 */
export async function finishJob(pool: Pool, jobId: number, agent: string, report: JobReport, maxInfraFailures = DEFAULT_MAX_INFRA_FAILURES): Promise<FinishResult> {
  if (report.outcome === 'passed' || report.outcome === 'failed') {
    // The common case in one statement (one round trip): the job ends, the place's run of
    // infrastructure failures is broken.
    const done = await pool.query<{ n: number }>(
      `WITH job AS (
         UPDATE farm_jobs SET state = $3, exit_code = $4, summary = $5, error = $6, junit = $7, metrics = $8, html = $9,
           finished_at = now(), lease_expires_at = NULL,
           history = history || format('attempt %s on %s (agent %s): %s%s', attempts, place, agent, $3::text, ': ' || $6::text)
         WHERE id = $1 AND agent = $2 AND state = 'running' RETURNING place
       ), reset AS (
         UPDATE farm_places p SET infra_failures = 0 FROM job WHERE p.name = job.place AND p.infra_failures <> 0 RETURNING p.name
       )
       SELECT (SELECT count(*) FROM job)::int AS n, (SELECT count(*) FROM reset)::int AS reset`,
      [jobId, agent, report.outcome, report.exitCode, report.summary, report.error, report.junit, report.metrics === undefined ? null : JSON.stringify(report.metrics), report.html],
    );
    return (done.rows[0]?.n ?? 0) > 0 ? { recorded: true, state: report.outcome, quarantined: false } : { recorded: false };
  }
  return inTransaction(pool, async (client) => {
    const current = (await client.query<Job>(`SELECT ${JOB_COLUMNS} FROM farm_jobs j WHERE j.id = $1 AND j.agent = $2 AND j.state = 'running' FOR UPDATE`, [jobId, agent])).rows[0];
    if (!current) return { recorded: false };
    const infra = report.outcome === 'infra-error';
    const state: JobState = current.cancel_requested && report.outcome !== 'passed' && report.outcome !== 'failed'
      ? 'cancelled'
      : infra && current.attempts < current.max_attempts
        ? 'queued'
        : report.outcome;
    const note = `attempt ${current.attempts} on ${current.place} (agent ${agent}): ${report.outcome}${report.error ? `: ${report.error}` : ''}`;
    await client.query(
      `UPDATE farm_jobs SET state = $2, exit_code = $3, summary = $4, error = $5, junit = $6, metrics = $7, html = $8,
         finished_at = CASE WHEN $2 = 'queued' THEN NULL ELSE now() END,
         place = CASE WHEN $2 = 'queued' THEN NULL ELSE place END,
         agent = CASE WHEN $2 = 'queued' THEN NULL ELSE agent END,
         lease_expires_at = NULL, history = history || $9::text
       WHERE id = $1`,
      [jobId, state, report.exitCode, report.summary, report.error, report.junit, report.metrics === undefined ? null : JSON.stringify(report.metrics), report.html, note],
    );
    let quarantined = false;
    if (current.place) {
      if (infra) quarantined = await countInfraFailure(client, current.place, `job ${jobId} (${current.suite}): ${report.error ?? 'infrastructure error'}`, maxInfraFailures);
      else if (report.outcome !== 'cancelled') await client.query('UPDATE farm_places SET infra_failures = 0 WHERE name = $1', [current.place]);
    }
    return { recorded: true, state, quarantined };
  });
}

/** One more infrastructure failure of `place` in a row; Bad at `limit`. Returns whether it went Bad now. */
async function countInfraFailure(client: PoolClient, place: string, reason: string, limit: number): Promise<boolean> {
  const row = (await client.query<{ infra_failures: number; health: Health }>(
    `UPDATE farm_places SET infra_failures = infra_failures + 1, check_due = true WHERE name = $1 RETURNING infra_failures, health`,
    [place],
  )).rows[0];
  if (!row || row.infra_failures < limit || row.health === 'Bad' || row.health === 'Retired' || row.health === 'Maintenance') return false;
  await client.query(`UPDATE farm_places SET health = 'Bad' WHERE name = $1`, [place]);
  await client.query(`INSERT INTO farm_health_events (place, health, reason) VALUES ($1, 'Bad', $2)`, [
    place,
    `quarantined after ${row.infra_failures} infrastructure failures in a row; last: ${reason}`,
  ]);
  return true;
}

export interface SweepResult {
  readonly abandonedRuns: readonly number[];
  /** Jobs whose lease expired, with what became of them. */
  readonly expired: readonly { id: number; place: string | null; agent: string | null; state: JobState }[];
}

/**
 * Housekeeping any participant runs: runs whose client stopped heartbeating are abandoned
 * (their queued jobs cancelled, their running jobs asked to stop), and running jobs whose
 * lease expired (their agent died or lost the database) are requeued while attempts remain,
 * else failed as infrastructure errors; cancelled if their run was. Their places count an
 * infrastructure failure and need a health check before the next job.
 */
export async function sweep(pool: Pool, maxInfraFailures = DEFAULT_MAX_INFRA_FAILURES): Promise<SweepResult> {
  const abandoned = await pool.query<{ id: number }>(
    `UPDATE farm_runs SET state = 'abandoned' WHERE state = 'active' AND heartbeat_at + ttl_ms * interval '1 millisecond' < now() RETURNING id`,
  );
  await stopJobsOfEndedRuns(pool, null);
  const expired = await inTransaction(pool, async (client) => {
    const rows = (await client.query<{ id: number; place: string | null; agent: string | null; state: JobState; suite: string }>(
      `WITH expired AS (
         SELECT id, place, agent FROM farm_jobs WHERE state = 'running' AND lease_expires_at < now() FOR UPDATE SKIP LOCKED
       ), decided AS (
         SELECT j.id, e.place, e.agent,
           CASE WHEN j.cancel_requested THEN 'cancelled' WHEN j.attempts < j.max_attempts THEN 'queued' ELSE 'infra-error' END AS next,
           format('attempt %s on %s (agent %s): lease expired at %s: the agent stopped renewing it (died, or lost the farm database)',
             j.attempts, e.place, e.agent, to_char(j.lease_expires_at AT TIME ZONE 'UTC', 'HH24:MI:SS.MS "UTC"')) AS note
         FROM farm_jobs j JOIN expired e ON e.id = j.id
       )
       UPDATE farm_jobs j SET state = d.next, lease_expires_at = NULL, history = j.history || d.note,
         error = CASE WHEN d.next = 'queued' THEN j.error ELSE d.note END,
         finished_at = CASE WHEN d.next = 'queued' THEN NULL ELSE now() END,
         place = CASE WHEN d.next = 'queued' THEN NULL ELSE j.place END,
         agent = CASE WHEN d.next = 'queued' THEN NULL ELSE j.agent END
       FROM decided d WHERE j.id = d.id
       RETURNING j.id, d.place, d.agent, j.state, j.suite`,
    )).rows;
    for (const row of rows) {
      if (row.place) await countInfraFailure(client, row.place, `job ${row.id} (${row.suite}): lease expired (agent ${row.agent})`, maxInfraFailures);
    }
    return rows;
  });
  return { abandonedRuns: abandoned.rows.map((row) => row.id), expired: expired.map(({ id, place, agent, state }) => ({ id, place, agent, state })) };
}

/** Cancels queued jobs and asks running ones to stop, of ended runs (one run, or all). */
async function stopJobsOfEndedRuns(pool: Pool, runId: number | null): Promise<void> {
  await pool.query(
    `UPDATE farm_jobs j SET state = 'cancelled', finished_at = now(), error = 'run ' || r.state || ' before the job started'
     FROM farm_runs r WHERE j.run_id = r.id AND j.state = 'queued' AND r.state IN ('cancelled', 'abandoned') AND ($1::bigint IS NULL OR r.id = $1)`,
    [runId],
  );
  await pool.query(
    `UPDATE farm_jobs j SET cancel_requested = true
     FROM farm_runs r WHERE j.run_id = r.id AND j.state = 'running' AND NOT j.cancel_requested AND r.state IN ('cancelled', 'abandoned') AND ($1::bigint IS NULL OR r.id = $1)`,
    [runId],
  );
}

// ---- health --------------------------------------------------------------------------------

export type { CapabilityResult } from './capabilities.js';

/** Places of `agent` that need a health check before use: Unknown, flagged after a failure or re-registration, or due on schedule. */
export async function placesDueForCheck(pool: Pool, agent: string, intervalMs: number): Promise<string[]> {
  const rows = await pool.query<{ name: string }>(
    `SELECT name FROM farm_places WHERE agent = $1 AND health IN ('Good', 'Unknown')
       AND (check_due OR health = 'Unknown' OR last_check_at IS NULL OR last_check_at < now() - ${ms(2)})`,
    [agent, intervalMs],
  );
  return rows.rows.map((row) => row.name);
}

/**
 * Records a health check. A failed base capability (power, rpmsg) makes the place Bad; a failed
 * other capability quarantines only the suites that need it; all passing makes it Good.
 */
export async function recordHealthCheck(pool: Pool, place: string, results: readonly CapabilityResult[]): Promise<Health> {
  return inTransaction(pool, async (client) => {
    const row = (await client.query<{ suites: string[]; health: Health }>('SELECT suites, health FROM farm_places WHERE name = $1 FOR UPDATE', [place])).rows[0];
    if (!row) throw new Error(`no place ${place}`);
    // Maintenance or Retired set while the check ran wins over its result.
    if (row.health === 'Maintenance' || row.health === 'Retired') return row.health;
    const failed = results.filter((result) => !result.ok);
    const baseFailed = failed.filter((result) => BASE_CAPABILITIES.includes(result.capability));
    const bad = failed.map((result) => result.capability);
    const health: Health = baseFailed.length ? 'Bad' : 'Good';
    for (const result of results) {
      await client.query('INSERT INTO farm_health_events (place, health, capability, ok, reason) VALUES ($1, $2, $3, $4, $5)', [
        place,
        health,
        result.capability,
        result.ok,
        `health check: ${result.capability} ${result.ok ? 'ok' : 'FAILED'}: ${result.detail}`,
      ]);
    }
    await client.query(
      `UPDATE farm_places SET health = $2, bad_capabilities = $3, blocked_suites = $4, check_due = false, last_check_at = now(),
         infra_failures = CASE WHEN $2 = 'Good' THEN infra_failures ELSE infra_failures + 1 END
       WHERE name = $1`,
      [place, health, bad, blockedSuites(row.suites, bad)],
    );
    return health;
  });
}

/**
 * An operator's change: Maintenance (take out of service), Retired (for good), Unknown (return
 * to service: a health check runs before the next job, as after maintenance).
 */
export async function setHealth(pool: Pool, place: string, health: 'Maintenance' | 'Retired' | 'Unknown', reason: string): Promise<boolean> {
  return inTransaction(pool, async (client) => {
    const updated = await client.query(
      `UPDATE farm_places SET health = $2, check_due = true, infra_failures = CASE WHEN $2 = 'Unknown' THEN 0 ELSE infra_failures END WHERE name = $1`,
      [place, health],
    );
    if (updated.rowCount === 0) return false;
    await client.query('INSERT INTO farm_health_events (place, health, reason) VALUES ($1, $2, $3)', [place, health, `set by operator: ${reason}`]);
    return true;
  });
}

export async function listPlaces(pool: Pool): Promise<Place[]> {
  return (await pool.query<Place>(
    `SELECT p.name, p.agent, p.kind, p.suites, p.soc, p.instruments, p.health, p.bad_capabilities, p.blocked_suites,
       p.infra_failures, p.check_due, p.last_check_at,
       (a.stopped_at IS NULL AND a.heartbeat_at + a.ttl_ms * interval '1 millisecond' > now()) AS agent_online,
       (SELECT j.id FROM farm_jobs j WHERE j.place = p.name AND j.state = 'running') AS running_job
     FROM farm_places p JOIN farm_agents a ON a.name = p.agent ORDER BY p.name`,
  )).rows;
}

export interface HealthEvent {
  readonly place: string;
  readonly at: Date;
  readonly health: Health;
  readonly capability: string | null;
  readonly ok: boolean | null;
  readonly reason: string;
}

export async function healthHistory(pool: Pool, place: string | undefined, limit: number): Promise<HealthEvent[]> {
  return (await pool.query<HealthEvent>(
    `SELECT place, at, health, capability, ok, reason FROM farm_health_events WHERE ($1::text IS NULL OR place = $1) ORDER BY id DESC LIMIT $2`,
    [place ?? null, limit],
  )).rows.reverse();
}

// ---- runs (the CI side) ---------------------------------------------------------------------

export interface JobRequest {
  readonly suite: string;
  readonly place?: string;
  readonly kind?: string;
  readonly soc?: string;
  readonly instruments?: readonly string[];
  readonly options: JobOptions;
  readonly maxAttempts: number;
}

/** How many places (not Retired) could ever run `request`; 0 means the request is a mistake. */
export async function matchingPlaces(pool: Pool, request: JobRequest): Promise<string[]> {
  return (await pool.query<{ name: string }>(
    `SELECT p.name FROM farm_places p,
       (SELECT $1::text AS suite, $2::text AS want_place, $3::text AS want_kind, $4::text AS want_soc, $5::text[] AS want_instruments) j
     WHERE p.health <> 'Retired' AND j.suite = ANY(p.suites)
       AND (j.want_place IS NULL OR j.want_place = p.name) AND (j.want_kind IS NULL OR j.want_kind = p.kind)
       AND (j.want_soc IS NULL OR j.want_soc = p.soc) AND p.instruments @> j.want_instruments
     ORDER BY p.name`,
    [request.suite, request.place ?? null, request.kind ?? null, request.soc ?? null, request.instruments ?? []],
  )).rows.map((row) => row.name);
}

export async function createRun(pool: Pool, client: string, ttlMs: number, priority: number, jobs: readonly JobRequest[]): Promise<{ runId: number; jobIds: number[] }> {
  return inTransaction(pool, async (db) => {
    const runId = (await db.query<{ id: number }>('INSERT INTO farm_runs (client, ttl_ms, priority) VALUES ($1, $2, $3) RETURNING id', [client, ttlMs, priority])).rows[0]?.id as number;
    // One statement for all jobs (a nightly run may queue hundreds).
    const column = <T>(pick: (job: JobRequest) => T) => jobs.map(pick);
    const rows = await db.query<{ id: number }>(
      `INSERT INTO farm_jobs (run_id, priority, suite, want_place, want_kind, want_soc, want_instruments, options, max_attempts)
       SELECT $1, $2, suite, want_place, want_kind, want_soc,
         ARRAY(SELECT jsonb_array_elements_text(want_instruments)), options, max_attempts
       FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::jsonb[], $9::integer[]) WITH ORDINALITY
         AS t(suite, want_place, want_kind, want_soc, want_instruments, options, max_attempts, n)
       ORDER BY n RETURNING id`,
      [
        runId,
        priority,
        column((job) => job.suite),
        column((job) => job.place ?? null),
        column((job) => job.kind ?? null),
        column((job) => job.soc ?? null),
        column((job) => JSON.stringify(job.instruments ?? [])),
        column((job) => JSON.stringify(job.options)),
        column((job) => job.maxAttempts),
      ],
    );
    const jobIds = rows.rows.map((row) => row.id).sort((a, b) => a - b);
    return { runId, jobIds };
  });
}

/** Renews the run's heartbeat; returns its state ('abandoned' when it had expired already). */
export async function runHeartbeat(pool: Pool, runId: number): Promise<string | undefined> {
  const row = await pool.query<{ state: string }>(
    `UPDATE farm_runs SET heartbeat_at = CASE WHEN state = 'active' THEN now() ELSE heartbeat_at END WHERE id = $1 RETURNING state`,
    [runId],
  );
  return row.rows[0]?.state;
}

export async function endRun(pool: Pool, runId: number, state: 'finished' | 'cancelled'): Promise<void> {
  await pool.query(`UPDATE farm_runs SET state = $2 WHERE id = $1 AND state = 'active'`, [runId, state]);
  if (state === 'cancelled') await stopJobsOfEndedRuns(pool, runId);
}

/**
 * Fails the queued jobs of a run that no place can run any more (none that matches is Good or
 * Unknown on an online agent) and have waited `graceMs`: such a job would wait forever.
 */
export async function failUnrunnable(pool: Pool, runId: number, graceMs: number): Promise<number> {
  const result = await pool.query(
    `UPDATE farm_jobs j SET state = 'infra-error', finished_at = now(),
       error = 'no place can run it: every matching place is Bad, in Maintenance, Retired, quarantined for this suite (a capability it needs failed its health check) or on an agent that is offline (waited ' || ($2::integer / 1000) || ' s)'
     WHERE j.run_id = $1 AND j.state = 'queued' AND j.queued_at < now() - ${ms(2)}
       AND NOT EXISTS (
         SELECT 1 FROM farm_places p JOIN farm_agents a ON a.name = p.agent
         WHERE p.health IN ('Good', 'Unknown') AND a.stopped_at IS NULL
           AND a.heartbeat_at + a.ttl_ms * interval '1 millisecond' > now() AND ${MATCH})`,
    [runId, graceMs],
  );
  return result.rowCount ?? 0;
}

export interface JobWithReports extends Job {
  readonly junit: string | null;
  readonly metrics: unknown;
  readonly html: string | null;
}

export async function jobsOfRun(pool: Pool, runId: number, withReports = false): Promise<JobWithReports[]> {
  return (await pool.query<JobWithReports>(
    `SELECT ${JOB_COLUMNS}${withReports ? ', j.junit, j.metrics, j.html' : ''} FROM farm_jobs j WHERE j.run_id = $1 ORDER BY j.id`,
    [runId],
  )).rows;
}

export async function appendJobLog(pool: Pool, jobId: number, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  await pool.query('INSERT INTO farm_job_log (job_id, text) SELECT $1, unnest($2::text[])', [jobId, lines]);
}

export async function runLogSince(pool: Pool, runId: number, afterId: number): Promise<{ id: number; job_id: number; text: string }[]> {
  return (await pool.query<{ id: number; job_id: number; text: string }>(
    `SELECT l.id, l.job_id, l.text FROM farm_job_log l JOIN farm_jobs j ON j.id = l.job_id WHERE j.run_id = $1 AND l.id > $2 ORDER BY l.id LIMIT 1000`,
    [runId, afterId],
  )).rows;
}

/**
 * Gives a running job back to the queue without counting an attempt or a failure against the
 * place: the agent is stopping (its own fault, not the job's or the board's).
 */
export async function releaseJob(pool: Pool, jobId: number, agent: string, reason: string): Promise<boolean> {
  const result = await pool.query(
    `UPDATE farm_jobs SET state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END,
       finished_at = CASE WHEN cancel_requested THEN now() ELSE NULL END,
       error = CASE WHEN cancel_requested THEN 'cancelled' ELSE error END,
       attempts = attempts - 1, place = CASE WHEN cancel_requested THEN place ELSE NULL END,
       agent = CASE WHEN cancel_requested THEN agent ELSE NULL END, lease_expires_at = NULL,
       history = history || format('attempt %s on %s (agent %s): given back: %s', attempts, place, agent, $3::text)
     WHERE id = $1 AND agent = $2 AND state = 'running'`,
    [jobId, agent, reason],
  );
  return (result.rowCount ?? 0) > 0;
}
