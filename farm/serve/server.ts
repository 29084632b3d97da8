/**
 * The dashboard's HTTP server (fastify, with @fastify/websocket for live consoles): a page, the
 * chart library from node_modules (no CDN: the farm may have no network), and a read-only JSON
 * API over the run history and the farm file's targets. Without a token (loopback only, the CLI
 * enforces it) everything is open; with one, every request must carry it (Authorization:
 * Bearer, or ?token= once, which sets an HttpOnly cookie for the page's own requests). Nothing
 * that comes from farm.yaml params (passwords, key paths) is ever served; console text is
 * redacted.
 */
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { hostname } from 'node:os';
import type { HistoryStore, ResultRow, RunRow } from '../../reports/history/history-store.js';
import { flakyView, perfView, runsView } from '../../reports/history/history-views.js';
import { liveEventsFile, readLiveEvents } from '../../reports/live-events.js';
import type { PerfOptions } from '../../reports/history/perf.js';
import { redactSecrets } from '../../reports/redact.js';
import { LiveFormatter } from '../live-formatter.js';
import { isFinalJobState, type FarmJob, type FarmView } from './farm-view.js';
import { DASHBOARD_HTML, DASHBOARD_JS } from './dashboard-page.js';

export interface BoardInfo {
  readonly name: string;
  readonly kind: string;
  readonly suites: readonly string[];
  /** Every prerequisite holds on this machine. */
  readonly runnable: boolean;
  /** Failing prerequisites, by name. */
  readonly problems: readonly string[];
}

export interface DashboardOptions {
  readonly store: HistoryStore;
  /** The farm file's targets (cached by the caller: checking prerequisites runs tools). */
  readonly boards: () => Promise<readonly BoardInfo[]>;
  readonly token?: string | undefined;
  /** How regressions are judged (farm.yaml history:). */
  readonly perf?: PerfOptions;
  /** How often a live console looks for new events, ms. */
  readonly livePollMs?: number;
  /** The farm database (`farm serve --farm`): its places are the boards; its queue and jobs are shown. */
  readonly farm?: FarmView;
}

const TOKEN_COOKIE = 'farm_token';

function sameSecret(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

/** A run recorded as running whose `farm run` process is gone died without saying so. */
export function isLive(run: RunRow): boolean {
  if (run.status !== 'running') return false;
  if (run.hostname !== hostname()) return true;
  try {
    process.kill(run.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const require = createRequire(import.meta.url);
function uplotAsset(file: string): string {
  return readFileSync(join(dirname(require.resolve('uplot/package.json')), 'dist', file), 'utf8');
}

export async function createDashboardServer(options: DashboardOptions): Promise<FastifyInstance> {
  const { store, token } = options;
  const app = Fastify({ logger: false });
  await app.register(websocket);

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('Content-Security-Policy', "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'");
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    if (!token) return;
    const query = (request.query ?? {}) as Record<string, unknown>;
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const fromQuery = typeof query.token === 'string' ? query.token : undefined;
    const given = bearer ?? fromQuery ?? cookieValue(request.headers.cookie, TOKEN_COOKIE);
    if (!sameSecret(given, token)) {
      await reply.code(401).type('text/plain').send('farm serve: an access token is required (open the URL printed by farm serve, or send Authorization: Bearer TOKEN)\n');
      return reply;
    }
    if (fromQuery) reply.header('Set-Cookie', `${TOKEN_COOKIE}=${encodeURIComponent(fromQuery)}; HttpOnly; SameSite=Strict; Path=/`);
  });

  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(DASHBOARD_HTML));
  app.get('/assets/dashboard.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(DASHBOARD_JS));
  const uplotJs = uplotAsset('uPlot.iife.min.js');
  const uplotCss = uplotAsset('uPlot.min.css');
  app.get('/assets/uPlot.iife.min.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(uplotJs));
  app.get('/assets/uPlot.min.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(uplotCss));

  const liveRuns = async () => (await store.runs({ status: 'running', limit: 50 })).filter(isLive);

  /** A job as pages see it: what a failure said may quote a secret. */
  const shownJob = (job: FarmJob): FarmJob => ({ ...job, error: job.error === null ? null : redactSecrets(job.error), history: job.history.map((line) => redactSecrets(line)) });

  /** Health from a board's results in the last 20 runs. */
  const recentOf = (name: string, recent: readonly ResultRow[]) => {
    const results = recent.filter((result) => result.target === name && result.outcome !== 'skipped');
    const errors = results.filter((result) => result.outcome === 'error').length;
    const failed = results.filter((result) => result.outcome === 'failed').length;
    return { executions: results.length, passed: results.length - errors - failed, failed, errors };
  };

  app.get('/api/boards', async () => {
    const farm = options.farm;
    if (farm) {
      const places = await farm.places();
      // Each place's own last 20 runs (each job is a run of one place: the farm's latest 20 would leave most places out).
      const recent = await Promise.all(places.map((place) => store.results({ target: place.name, runs: 20 })));
      return places.map((place, index) => ({
        ...place,
        // Quarantined suites and failed capabilities are the place's problems.
        problems: place.badCapabilities,
        recent: recentOf(place.name, recent[index] ?? []),
        lease: place.lease
          ? { holder: `job #${place.lease.job} (${place.lease.suite}, run #${place.lease.run}, agent ${place.lease.agent ?? '?'})`, jobId: place.lease.job, since: place.lease.since, expires: place.lease.expires }
          : null,
      }));
    }
    const [boards, running, recent] = await Promise.all([options.boards(), liveRuns(), store.results({ runs: 20 })]);
    return boards.map((board) => {
      const counts = recentOf(board.name, recent);
      const lease = running.find((run) => run.targets.includes(board.name));
      const health = !board.runnable ? 'cannot run here' : counts.executions === 0 ? 'no history' : counts.errors > 0 ? 'infrastructure errors' : counts.failed > 0 ? 'failing tests' : 'healthy';
      return {
        ...board,
        health,
        recent: counts,
        lease: lease ? { holder: `farm run ${lease.id.slice(0, 8)} (pid ${lease.pid} on ${lease.hostname})`, runId: lease.id, since: lease.startedAt } : null,
      };
    });
  });

  app.get('/api/queue', async () => {
    const farm = options.farm;
    if (farm) {
      const { queued, running } = await farm.queue();
      return { database: true, note: `farm database ${farm.location}: jobs of farm run --farm`, queued: queued.map(shownJob), running: running.map(shownJob) };
    }
    const running = await liveRuns();
    return {
      // Queued jobs live in the farm database (multi-host farm); a local farm has none.
      database: false,
      note: 'no farm database configured: local runs only, nothing is queued',
      queued: [],
      running: running.map((run) => ({ id: run.id, startedAt: run.startedAt, targets: run.targets, hostname: run.hostname, pid: run.pid })),
    };
  });

  app.get('/api/jobs/:id', async (request, reply) => {
    const id = Number((request.params as { id: string }).id);
    const job = Number.isSafeInteger(id) && options.farm ? await options.farm.job(id) : undefined;
    if (!job) return reply.code(404).send({ error: options.farm ? `no job ${(request.params as { id: string }).id}` : 'no farm database (farm serve --farm URL)' });
    const runs = await store.runs({ farmJob: job.id, limit: 10 });
    return { job: shownJob(job), runs: runs.map((run) => ({ id: run.id, status: run.status, startedAt: run.startedAt })) };
  });

  /** A farm job's run lives on its agent's host: it is live while its job runs. */
  const runIsLive = async (run: RunRow): Promise<boolean> => {
    if (run.status !== 'running') return false;
    if (options.farm && typeof run.farmJob === 'number') return (await options.farm.job(run.farmJob))?.state === 'running';
    return isLive(run);
  };

  app.get('/api/runs', async (request) => {
    const query = request.query as Record<string, string | undefined>;
    const runs = await runsView(store, { runs: Math.min(500, Number(query.limit ?? 50) || 50) });
    return Promise.all(runs.map(async ({ outDir: _outDir, ...run }) => ({ ...run, live: await runIsLive({ ...run, outDir: '' }) })));
  });

  app.get('/api/runs/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const run = await store.run(id);
    if (!run) return reply.code(404).send({ error: `no run ${id}` });
    const results = await store.results({ runId: id });
    const { outDir: _outDir, ...shown } = run;
    return { run: { ...shown, live: await runIsLive(run) }, results: results.map((result) => ({ ...result, message: result.message === null ? null : redactSecrets(result.message) })) };
  });

  app.get('/api/flaky', async () => {
    const view = await flakyView(store);
    return { ...view, tests: view.tests.map((test) => ({ ...test, lastFailure: test.lastFailure === null ? null : redactSecrets(test.lastFailure) })) };
  });

  app.get('/api/perf', async (request) => {
    const query = request.query as Record<string, string | undefined>;
    return perfView(store, { ...(options.perf ? { perf: options.perf } : {}), ...(query.target ? { targets: [query.target] } : {}), ...(query.metric ? { metric: query.metric } : {}) });
  });

  // The live console of a run: everything so far, then new events as the run appends them.
  app.get('/api/runs/:id/live', { websocket: true }, (socket, request) => {
    const { id } = request.params as { id: string };
    let offset = 0;
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    const formatter = new LiveFormatter();
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
    });
    void (async () => {
      const run = await store.run(id);
      if (!run) {
        socket.send(JSON.stringify({ type: 'error', text: `no run ${id}` }));
        socket.close();
        return;
      }
      const file = liveEventsFile(run.outDir);
      const poll = async () => {
        if (closed) return;
        const read = readLiveEvents(file, offset);
        offset = read.offset;
        if (read.events.length) socket.send(JSON.stringify({ type: 'console', text: read.events.map((event) => formatter.format(event)).join('') }));
        const now = await store.run(id);
        if (!now || !isLive(now)) {
          const last = readLiveEvents(file, offset);
          if (last.events.length) socket.send(JSON.stringify({ type: 'console', text: last.events.map((event) => formatter.format(event)).join('') }));
          socket.send(JSON.stringify({ type: 'end', status: now?.status ?? 'unknown' }));
          socket.close();
          return;
        }
        timer = setTimeout(() => void poll().catch(() => socket.close()), options.livePollMs ?? 250);
      };
      await poll();
    })().catch(() => socket.close());
  });

  // A farm job's log, live: its runner's output and its targets' consoles, as its agent streams
  // them into the farm database; then the job's end.
  app.get('/api/jobs/:id/live', { websocket: true }, (socket, request) => {
    const id = Number((request.params as { id: string }).id);
    const farm = options.farm;
    let after = 0;
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
    });
    const send = (lines: readonly { source: string; text: string }[]) => {
      if (lines.length) socket.send(JSON.stringify({ type: 'console', text: lines.map((line) => `${line.source === 'runner' ? '[runner] ' : ''}${redactSecrets(line.text)}\n`).join('') }));
    };
    void (async () => {
      const job = Number.isSafeInteger(id) && farm ? await farm.job(id) : undefined;
      if (!farm || !job) {
        socket.send(JSON.stringify({ type: 'error', text: `no job ${id}` }));
        socket.close();
        return;
      }
      const poll = async () => {
        if (closed) return;
        // Read in pages until caught up; a job's log is bounded (the agent keeps the first lines of a chatty console).
        const state = (await farm.job(id))?.state ?? 'cancelled';
        for (;;) {
          const lines = await farm.jobLog(id, after, 1000);
          if (closed) return;
          send(lines);
          after = lines.at(-1)?.id ?? after;
          if (lines.length < 1000) break;
        }
        if (isFinalJobState(state)) {
          socket.send(JSON.stringify({ type: 'end', status: state }));
          socket.close();
          return;
        }
        timer = setTimeout(() => void poll().catch(() => socket.close()), options.livePollMs ?? 250);
      };
      await poll();
    })().catch(() => socket.close());
  });

  return app;
}
