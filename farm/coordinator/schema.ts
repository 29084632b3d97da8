/**
 * The coordinator's tables (migrations of module "coordinator"):
 *  - farm_agents: one row per `farm agent`, with its heartbeat;
 *  - farm_places: the targets agents registered, with capabilities (kind, suites, SoC,
 *    instruments, capability names), LAVA-style health and per-capability quarantine;
 *  - farm_runs: one row per `farm run --farm` (a CI run), with its own heartbeat: a run whose
 *    client stopped heartbeating is abandoned and its jobs are cancelled;
 *  - farm_jobs: the queue (one suite on one place, by name or by requirement) and, while
 *    running, the lease (place, agent, lease_expires_at): at most one running job per place;
 *  - farm_job_log: lines of running jobs: the runner's progress output (source "runner", what
 *    `farm run --farm` prints) and the targets' consoles (source "console", what `farm serve`
 *    shows live);
 *  - farm_health_events: every health change and health check, for `farm health`.
 * Triggers NOTIFY `farm_jobs` on every job insert and state change and `farm_log` on log lines,
 * so agents and CI clients wake at once instead of polling.
 */
import type { Migration } from '../db/migrate.js';

export const HEALTH_STATES = ['Good', 'Unknown', 'Bad', 'Maintenance', 'Retired'] as const;
export type Health = (typeof HEALTH_STATES)[number];

export const JOB_STATES = ['queued', 'running', 'passed', 'failed', 'infra-error', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINAL_JOB_STATES: readonly JobState[] = ['passed', 'failed', 'infra-error', 'cancelled'];

export const JOBS_CHANNEL = 'farm_jobs';
export const LOG_CHANNEL = 'farm_log';

export const COORDINATOR_MIGRATIONS: readonly Migration[] = [
  {
    id: 'coordinator-001-agents-places-runs-jobs',
    module: 'coordinator',
    sql: `
CREATE TABLE farm_agents (
  name text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  ttl_ms integer NOT NULL CHECK (ttl_ms > 0),
  stopped_at timestamptz
);

CREATE TABLE farm_places (
  name text PRIMARY KEY,
  agent text NOT NULL REFERENCES farm_agents (name),
  kind text NOT NULL,
  suites text[] NOT NULL,
  soc text,
  instruments text[] NOT NULL DEFAULT '{}',
  capabilities text[] NOT NULL DEFAULT '{}',
  health text NOT NULL DEFAULT 'Unknown' CHECK (health IN ('Good', 'Unknown', 'Bad', 'Maintenance', 'Retired')),
  bad_capabilities text[] NOT NULL DEFAULT '{}',
  -- suites that need a bad capability: quarantined while the rest of the place runs
  blocked_suites text[] NOT NULL DEFAULT '{}',
  infra_failures integer NOT NULL DEFAULT 0,
  check_due boolean NOT NULL DEFAULT true,
  last_check_at timestamptz,
  config jsonb NOT NULL,
  registered_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE farm_runs (
  id bigserial PRIMARY KEY,
  client text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  ttl_ms integer NOT NULL CHECK (ttl_ms > 0),
  state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'finished', 'cancelled', 'abandoned')),
  priority integer NOT NULL DEFAULT 0
);

CREATE TABLE farm_jobs (
  id bigserial PRIMARY KEY,
  run_id bigint NOT NULL REFERENCES farm_runs (id),
  priority integer NOT NULL DEFAULT 0,
  suite text NOT NULL,
  want_place text,
  want_kind text,
  want_soc text,
  want_instruments text[] NOT NULL DEFAULT '{}',
  options jsonb NOT NULL DEFAULT '{}',
  state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'passed', 'failed', 'infra-error', 'cancelled')),
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 2,
  place text REFERENCES farm_places (name),
  agent text,
  lease_expires_at timestamptz,
  cancel_requested boolean NOT NULL DEFAULT false,
  queued_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  exit_code integer,
  summary text,
  error text,
  junit text,
  metrics jsonb,
  html text,
  history text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX farm_jobs_queue ON farm_jobs (priority DESC, id) WHERE state = 'queued';
CREATE INDEX farm_jobs_leases ON farm_jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX farm_jobs_run ON farm_jobs (run_id);
-- The lease: one running job per place, whatever agents believe.
CREATE UNIQUE INDEX farm_jobs_one_per_place ON farm_jobs (place) WHERE state = 'running';

CREATE TABLE farm_job_log (
  id bigserial PRIMARY KEY,
  job_id bigint NOT NULL REFERENCES farm_jobs (id) ON DELETE CASCADE,
  at timestamptz NOT NULL DEFAULT now(),
  text text NOT NULL
);
CREATE INDEX farm_job_log_job ON farm_job_log (job_id, id);

CREATE TABLE farm_health_events (
  id bigserial PRIMARY KEY,
  place text NOT NULL REFERENCES farm_places (name),
  at timestamptz NOT NULL DEFAULT now(),
  health text NOT NULL,
  capability text,
  ok boolean,
  reason text NOT NULL
);
CREATE INDEX farm_health_events_place ON farm_health_events (place, id);

CREATE FUNCTION farm_notify_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.state IS DISTINCT FROM OLD.state OR NEW.cancel_requested IS DISTINCT FROM OLD.cancel_requested THEN
    PERFORM pg_notify('${JOBS_CHANNEL}', json_build_object('id', NEW.id, 'run', NEW.run_id, 'state', NEW.state, 'place', NEW.place, 'cancel', NEW.cancel_requested)::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER farm_jobs_notify AFTER INSERT OR UPDATE ON farm_jobs FOR EACH ROW EXECUTE FUNCTION farm_notify_job();

CREATE FUNCTION farm_notify_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${LOG_CHANNEL}', NEW.job_id::text);
  RETURN NULL;
END $$;
CREATE TRIGGER farm_job_log_notify AFTER INSERT ON farm_job_log FOR EACH ROW EXECUTE FUNCTION farm_notify_log();
`,
  },
  {
    id: 'coordinator-002-job-log-source',
    module: 'coordinator',
    sql: `
ALTER TABLE farm_job_log ADD COLUMN source text NOT NULL DEFAULT 'runner' CHECK (source IN ('runner', 'console'));
`,
  },
];
