/**
 * What `farm serve --farm URL` shows of the farm database besides the run history: the places
 * (boards) with their agent, health and current lease, the queue, the running jobs, and a job's
 * log (its runner's output and its targets' consoles, which the agent streams there). Read-only;
 * nothing of a place's farm.yaml entry (params may hold credentials) is read.
 */
import { hostname } from 'node:os';
import { jobLogSince, listPlaces, type JobLogLine } from '../coordinator/coordinator.js';
import { FINAL_JOB_STATES, type JobState } from '../coordinator/schema.js';
import { openPool, redactUrl, type Pool } from '../db/connection.js';

export interface FarmPlace {
  readonly name: string;
  readonly agent: string;
  readonly agentOnline: boolean;
  readonly kind: string;
  readonly suites: readonly string[];
  readonly soc: string | null;
  readonly instruments: readonly string[];
  readonly health: string;
  readonly badCapabilities: readonly string[];
  readonly quarantinedSuites: readonly string[];
  readonly lastCheckAt: string | null;
  /** The running job holding the place. */
  readonly lease: { readonly job: number; readonly run: number; readonly suite: string; readonly agent: string | null; readonly since: string | null; readonly expires: string | null } | null;
}

export interface FarmJob {
  readonly id: number;
  readonly run: number;
  readonly suite: string;
  readonly state: JobState;
  /** What the job asked for: a place by name, or any place with kind / SoC / instruments. */
  readonly wants: string;
  readonly priority: number;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly place: string | null;
  readonly agent: string | null;
  readonly queuedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly leaseExpires: string | null;
  readonly summary: string | null;
  readonly error: string | null;
  readonly history: readonly string[];
}

export interface FarmView {
  /** The database, without its password. */
  readonly location: string;
  places(): Promise<FarmPlace[]>;
  /** Queued jobs (in the order they will be taken) and running ones. */
  queue(): Promise<{ queued: FarmJob[]; running: FarmJob[] }>;
  job(id: number): Promise<FarmJob | undefined>;
  jobLog(id: number, afterId: number, limit: number): Promise<JobLogLine[]>;
  close(): Promise<void>;
}

export const isFinalJobState = (state: JobState): boolean => FINAL_JOB_STATES.includes(state);

interface JobDbRow {
  id: number;
  run_id: number;
  suite: string;
  state: JobState;
  want_place: string | null;
  want_kind: string | null;
  want_soc: string | null;
  want_instruments: string[];
  priority: number;
  attempts: number;
  max_attempts: number;
  place: string | null;
  agent: string | null;
  queued_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  lease_expires_at: Date | null;
  summary: string | null;
  error: string | null;
  history: string[];
}

const JOB_COLUMNS = `id, run_id, suite, state, want_place, want_kind, want_soc, want_instruments, priority, attempts, max_attempts, place, agent,
  queued_at, started_at, finished_at, lease_expires_at, summary, error, history`;

const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);

function toJob(row: JobDbRow): FarmJob {
  const wants = row.want_place ?? `any place with ${[row.want_kind && `kind=${row.want_kind}`, row.want_soc && `soc=${row.want_soc}`, ...row.want_instruments.map((name) => `instrument=${name}`)].filter(Boolean).join(', ') || 'the suite'}`;
  return {
    id: row.id,
    run: row.run_id,
    suite: row.suite,
    state: row.state,
    wants,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    place: row.place,
    agent: row.agent,
    queuedAt: row.queued_at.toISOString(),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    leaseExpires: iso(row.lease_expires_at),
    summary: row.summary,
    error: row.error,
    history: row.history,
  };
}

export function openFarmView(url: string): FarmView {
  const pool: Pool = openPool(url, { applicationName: `farm serve ${hostname()}`, max: 3 });
  const jobs = async (where: string, values: unknown[] = []) => (await pool.query<JobDbRow>(`SELECT ${JOB_COLUMNS} FROM farm_jobs ${where}`, values)).rows.map(toJob);
  return {
    location: redactUrl(url),
    async places() {
      const [places, running] = await Promise.all([listPlaces(pool), jobs(`WHERE state = 'running'`)]);
      return places.map((place) => {
        const job = running.find((candidate) => candidate.place === place.name);
        return {
          name: place.name,
          agent: place.agent,
          agentOnline: place.agent_online,
          kind: place.kind,
          suites: place.suites,
          soc: place.soc,
          instruments: place.instruments,
          health: place.health,
          badCapabilities: place.bad_capabilities,
          quarantinedSuites: place.blocked_suites,
          lastCheckAt: iso(place.last_check_at),
          lease: job ? { job: job.id, run: job.run, suite: job.suite, agent: job.agent, since: job.startedAt, expires: job.leaseExpires } : null,
        };
      });
    },
    async queue() {
      const [queued, running] = await Promise.all([
        // The order claimJob takes them in.
        jobs(`WHERE state = 'queued' ORDER BY priority DESC, id LIMIT 500`),
        jobs(`WHERE state = 'running' ORDER BY started_at, id`),
      ]);
      return { queued, running };
    },
    async job(id) {
      return (await jobs('WHERE id = $1', [id]))[0];
    },
    jobLog: (id, afterId, limit) => jobLogSince(pool, id, afterId, limit),
    close: () => pool.end(),
  };
}
