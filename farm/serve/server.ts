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
import type { HistoryStore, RunRow } from '../../reports/history/history-store.js';
import { flakyView, perfView, runsView } from '../../reports/history/history-views.js';
import { liveEventsFile, readLiveEvents } from '../../reports/live-events.js';
import type { PerfOptions } from '../../reports/history/perf.js';
import { redactSecrets } from '../../reports/redact.js';
import { ConsolePrefixer } from '../console-prefixer.js';
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

/** Turns live events into the lines `farm up` prints: console tagged "[target stream] ", the farm's lines "[target] ...". */
export class LiveFormatter {
  private readonly consoles = new Map<string, ConsolePrefixer>();

  format(event: { target: string; stream: string; text: string }): string {
    const prefixer = this.prefixer(event.target);
    if (event.stream === 'farm' || event.stream === 'test') {
      const tag = event.target ? `[${event.target}] ` : '[farm] ';
      const lineBreak = [...this.consoles.values()].map((console) => console.lineBreak()).join('').slice(0, 1);
      return `${lineBreak}${event.text.split('\n').map((line) => `${tag}${event.stream === 'test' ? '== ' : ''}${line}`).join('\n')}\n`;
    }
    return prefixer.format(event.stream, event.text);
  }

  private prefixer(target: string): ConsolePrefixer {
    let prefixer = this.consoles.get(target);
    if (!prefixer) {
      prefixer = new ConsolePrefixer((stream) => `[${target} ${stream}] `);
      this.consoles.set(target, prefixer);
    }
    return prefixer;
  }
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

  app.get('/api/boards', async () => {
    const [boards, running, recent] = await Promise.all([options.boards(), liveRuns(), store.results({ runs: 20 })]);
    return boards.map((board) => {
      const results = recent.filter((result) => result.target === board.name && result.outcome !== 'skipped');
      const infrastructure = results.filter((result) => result.outcome === 'error').length;
      const failed = results.filter((result) => result.outcome === 'failed').length;
      const lease = running.find((run) => run.targets.includes(board.name));
      const health = !board.runnable ? 'cannot run here' : results.length === 0 ? 'no history' : infrastructure > 0 ? 'infrastructure errors' : failed > 0 ? 'failing tests' : 'healthy';
      return {
        ...board,
        health,
        recent: { executions: results.length, passed: results.length - infrastructure - failed, failed, errors: infrastructure },
        lease: lease ? { holder: `farm run ${lease.id.slice(0, 8)} (pid ${lease.pid} on ${lease.hostname})`, runId: lease.id, since: lease.startedAt } : null,
      };
    });
  });

  app.get('/api/queue', async () => {
    const running = await liveRuns();
    return {
      // Queued jobs live in the farm database (multi-host farm); a local farm has none.
      database: false,
      note: 'no farm database configured: local runs only, nothing is queued',
      queued: [],
      running: running.map((run) => ({ id: run.id, startedAt: run.startedAt, targets: run.targets, hostname: run.hostname, pid: run.pid })),
    };
  });

  app.get('/api/runs', async (request) => {
    const query = request.query as Record<string, string | undefined>;
    const runs = await runsView(store, { runs: Math.min(500, Number(query.limit ?? 50) || 50) });
    return runs.map(({ outDir: _outDir, ...run }) => ({ ...run, live: isLive({ ...run, outDir: '' }) }));
  });

  app.get('/api/runs/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const run = await store.run(id);
    if (!run) return reply.code(404).send({ error: `no run ${id}` });
    const results = await store.results({ runId: id });
    const { outDir: _outDir, ...shown } = run;
    return { run: { ...shown, live: isLive(run) }, results: results.map((result) => ({ ...result, message: result.message === null ? null : redactSecrets(result.message) })) };
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

  return app;
}
