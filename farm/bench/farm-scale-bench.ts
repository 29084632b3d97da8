/**
 * `npm run bench:scale`: the farm's scheduler at scale, simulated. The real coordinator (the
 * same SQL the agents and CI clients run: claimJob, finishJob, heartbeat, sweep) on a real
 * PostgreSQL (a throwaway cluster, or --farm URL of an empty database), driven by simulated
 * agents with simulated boards: by default 50 agents x 20 boards = 1,000 boards of 4 kinds, each
 * agent with its own connections as separate hosts would have. Jobs ask for a kind and last a
 * "realistic" time, compressed: log-normal around 90 s (sigma 0.8: most 30 s .. 5 min) plus 5 %
 * long ones (10 .. 30 min), divided by --compress (default 30: a 90 s job lasts 3 s here).
 * A producer keeps the queue saturated (a backlog of 2 jobs per board).
 *
 * Reported, over the measurement window after a warm-up:
 *   utilisation      board-time spent in jobs / (boards x window): the rest is scheduling
 *                    overhead and idle boards (the goal at saturation: >= 95 %);
 *   queue wait       from enqueue to the claim, p50 / p99 (at saturation mostly the backlog);
 *   scheduling overhead per job: the database time an agent spends on a job outside it (claim +
 *                    finish), mean / p50 / p99 (the goal: < 50 ms).
 * Options: --agents N --boards-per-agent N --compress F --seconds S --warmup S --farm URL.
 * One human-readable block, then one JSON line.
 */
import { hostname } from 'node:os';
import { createPgCluster, type PgCluster } from '../db/throwaway-cluster.js';
import { openPool, type Pool } from '../db/connection.js';
import { migrate } from '../db/migrate.js';
import { FARM_MIGRATIONS } from '../farm-migrations.js';
import { claimJob, createRun, finishJob, heartbeat, recordHealthCheck, registerAgent, sweep, type JobRequest } from '../coordinator/coordinator.js';

export const UTILISATION_GOAL = 0.95;
export const OVERHEAD_GOAL_MS = 50;

interface BenchOptions {
  readonly agents: number;
  readonly boardsPerAgent: number;
  readonly compress: number;
  readonly seconds: number;
  readonly warmup: number;
  readonly url: string | undefined;
}

function parseOptions(argv: readonly string[]): BenchOptions {
  const get = (name: string, fallback: number): number => {
    const index = argv.indexOf(`--${name}`);
    if (index === -1) return fallback;
    const value = Number(argv[index + 1]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: expected a number > 0, got "${argv[index + 1]}"`);
    return value;
  };
  const urlIndex = argv.indexOf('--farm');
  return {
    agents: get('agents', 50),
    boardsPerAgent: get('boards-per-agent', 20),
    compress: get('compress', 30),
    seconds: get('seconds', 60),
    warmup: get('warmup', 10),
    url: urlIndex === -1 ? undefined : argv[urlIndex + 1],
  };
}

const KINDS = ['bench-a', 'bench-b', 'bench-c', 'bench-d'];

/** Seconds of a job in farm time: log-normal around 90 s, 5 % long ones of 10 .. 30 min. */
export function jobSeconds(random: () => number): number {
  if (random() < 0.05) return 600 + random() * 1200;
  const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Math.min(1800, 90 * Math.exp(0.8 * normal));
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Interval {
  start: number;
  end: number;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  let cluster: PgCluster | undefined;
  const url = options.url ?? (cluster = await createPgCluster()).url;
  const ttlMs = 30_000;
  const boards = options.agents * options.boardsPerAgent;
  const admin = openPool(url, { applicationName: 'farm scale bench', max: 4 });
  const agentPools: Pool[] = [];
  let stop = false;
  try {
    await migrate(admin, FARM_MIGRATIONS);
    process.stdout.write(`farm scale bench: ${options.agents} agents x ${options.boardsPerAgent} boards = ${boards} boards, time / ${options.compress}, ${options.warmup} s warm-up + ${options.seconds} s measured, on ${cluster ? 'a throwaway cluster' : url}\n`);
    const agentNames = Array.from({ length: options.agents }, (_, index) => `bench-agent-${index}`);
    const boardsOf = new Map<string, string[]>();
    for (const [index, agent] of agentNames.entries()) {
      const names = Array.from({ length: options.boardsPerAgent }, (_, board) => `bench-${index}-${board}`);
      boardsOf.set(agent, names);
      await registerAgent(admin, { name: agent, host: hostname(), pid: process.pid, ttlMs }, names.map((name, board) => ({
        name, kind: KINDS[(index + board) % KINDS.length] as string, suites: ['echo'], soc: null, instruments: [], capabilities: ['power', 'rpmsg', 'console'], config: {},
      })));
      for (const name of names) {
        await recordHealthCheck(admin, name, [{ capability: 'power', ok: true, detail: 'sim' }, { capability: 'rpmsg', ok: true, detail: 'sim' }, { capability: 'console', ok: true, detail: 'sim' }]);
      }
    }
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const durationOf = new Map<number, number>();
    const enqueue = async (count: number) => {
      const requests: JobRequest[] = Array.from({ length: count }, () => ({ suite: 'echo', kind: KINDS[Math.floor(random() * KINDS.length)] as string, instruments: [], options: {}, maxAttempts: 2 }));
      const { jobIds } = await createRun(admin, 'bench producer', 3_600_000, 0, requests);
      for (const id of jobIds) durationOf.set(id, (jobSeconds(random) * 1000) / options.compress);
    };
    const backlog = boards * 2;
    await enqueue(backlog);

    const busy: Interval[] = [];
    /** Start of every job a simulated board is running now. */
    const active = new Map<number, number>();
    const overheadMs: number[] = [];
    const claimedAt: { id: number; at: number }[] = [];
    let finished = 0;
    const t0 = performance.now();
    const windowStart = t0 + options.warmup * 1000;
    const windowEnd = windowStart + options.seconds * 1000;

    const runAgent = async (agent: string): Promise<void> => {
      // As many connections as a real agent's pool (farm/agent/agent.ts).
      const pool = openPool(url, { applicationName: agent, max: 4 });
      agentPools.push(pool);
      const free = new Set(boardsOf.get(agent));
      const running = new Set<number>();
      let nextBeat = 0;
      let wake: () => void = () => undefined;
      const runJob = async (id: number, place: string, claimMs: number) => {
        const start = performance.now();
        active.set(id, start);
        await sleep(durationOf.get(id) ?? 1000);
        const end = performance.now();
        active.delete(id);
        if (stop) return;
        const finishStart = performance.now();
        await finishJob(pool, id, agent, { outcome: 'passed', exitCode: 0, summary: '1 passed', error: null, junit: null, metrics: null, html: null });
        overheadMs.push(claimMs + (performance.now() - finishStart));
        busy.push({ start, end });
        finished++;
        running.delete(id);
        free.add(place);
        wake();
      };
      while (!stop) {
        if (performance.now() >= nextBeat) {
          await heartbeat(pool, agent, [...running], ttlMs);
          await sweep(pool);
          nextBeat = performance.now() + ttlMs / 3;
        }
        while (free.size && !stop) {
          const claimStart = performance.now();
          const job = await claimJob(pool, agent, [...free], ttlMs);
          const claimMs = performance.now() - claimStart;
          if (!job) break;
          claimedAt.push({ id: job.id, at: Date.now() });
          free.delete(job.place as string);
          running.add(job.id);
          void runJob(job.id, job.place as string, claimMs).catch(() => undefined);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 250);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    };
    const producer = (async () => {
      while (!stop) {
        const queued = Number((await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM farm_jobs WHERE state = 'queued'`)).rows[0]?.n ?? 0);
        if (queued < backlog) await enqueue(backlog - queued);
        await sleep(200);
      }
    })();
    const agentsDone = Promise.all(agentNames.map((agent) => runAgent(agent)));
    const load = setInterval(() => undefined, 1000);
    await sleep(windowEnd - performance.now());
    stop = true;
    clearInterval(load);
    const jobsInWindow = overheadMs.length;
    // Board-time in jobs inside the window.
    let busyMs = 0;
    for (const interval of busy) busyMs += Math.max(0, Math.min(interval.end, windowEnd) - Math.max(interval.start, windowStart));
    // Jobs still running at the window's end were busy up to it.
    for (const start of active.values()) busyMs += Math.max(0, windowEnd - Math.max(start, windowStart));
    const utilisation = busyMs / (boards * (windowEnd - windowStart));
    await Promise.race([Promise.all([agentsDone, producer]), sleep(5000)]);
    const waits = (await admin.query<{ wait_ms: number }>(
      `SELECT extract(epoch FROM started_at - queued_at) * 1000 AS wait_ms FROM farm_jobs WHERE started_at IS NOT NULL`,
    )).rows.map((row) => Number(row.wait_ms));
    const mean = overheadMs.reduce((sum, value) => sum + value, 0) / Math.max(1, overheadMs.length);
    const figures = {
      boards,
      agents: options.agents,
      compress: options.compress,
      windowSeconds: options.seconds,
      jobsFinished: finished,
      jobsPerSecond: Number((jobsInWindow / (options.seconds + options.warmup)).toFixed(1)),
      utilisation: Number(utilisation.toFixed(4)),
      queueWaitP50Ms: Math.round(percentile(waits, 50)),
      queueWaitP99Ms: Math.round(percentile(waits, 99)),
      overheadMeanMs: Number(mean.toFixed(2)),
      overheadP50Ms: Number(percentile(overheadMs, 50).toFixed(2)),
      overheadP99Ms: Number(percentile(overheadMs, 99).toFixed(2)),
    };
    process.stdout.write(
      [
        `jobs finished        ${figures.jobsFinished} (${figures.jobsPerSecond}/s)`,
        `utilisation          ${(utilisation * 100).toFixed(1)} %  (goal >= ${UTILISATION_GOAL * 100} %: ${utilisation >= UTILISATION_GOAL ? 'met' : 'NOT met'})`,
        `queue wait           p50 ${figures.queueWaitP50Ms} ms, p99 ${figures.queueWaitP99Ms} ms  (x${options.compress} in farm time: p50 ${((figures.queueWaitP50Ms * options.compress) / 1000).toFixed(0)} s)`,
        `scheduling overhead  mean ${figures.overheadMeanMs} ms, p50 ${figures.overheadP50Ms} ms, p99 ${figures.overheadP99Ms} ms per job  (goal < ${OVERHEAD_GOAL_MS} ms: ${mean < OVERHEAD_GOAL_MS ? 'met' : 'NOT met'})`,
        JSON.stringify(figures),
        '',
      ].join('\n'),
    );
  } finally {
    stop = true;
    await Promise.all(agentPools.map((pool) => pool.end().catch(() => undefined)));
    await admin.end().catch(() => undefined);
    await cluster?.remove();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`farm scale bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
