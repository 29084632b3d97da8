import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteHistoryStore } from '../../reports/history/sqlite-store.js';
import { LiveEventLog, liveEventsFile, readLiveEvents } from '../../reports/live-events.js';
import { redactSecrets, registerSecret } from '../../reports/redact.js';
import { hostname } from 'node:os';
import { createDashboardServer, type BoardInfo } from './server.js';
import { LiveFormatter } from '../live-formatter.js';
import { isLoopback, parseListen } from './serve-command.js';
import WebSocket from 'ws';
import type { FarmJob, FarmView } from './farm-view.js';
import { waitFor } from '../testing/cli-harness.js';
import { within } from '../testing/within.js';

const BOARDS: BoardInfo[] = [{ name: 'sim', kind: 'sim', suites: ['echo'], runnable: true, problems: [] }];

async function withServer(token: string | undefined, body: (app: Awaited<ReturnType<typeof createDashboardServer>>, store: SqliteHistoryStore, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'farm-serve-test-'));
  const store = new SqliteHistoryStore(join(dir, 'h.sqlite'));
  const app = await createDashboardServer({ store, boards: async () => BOARDS, token, livePollMs: 20 });
  try {
    await body(app, store, dir);
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('serve: open on loopback without a token; with one, every request needs it (bearer, ?token= then its cookie)', async () => {
  await withServer(undefined, async (app) => {
    const page = await app.inject({ url: '/' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<script src="\/assets\/uPlot\.iife\.min\.js">/);
    assert.match(page.headers['content-security-policy'] as string, /default-src 'self'/);
    const chart = await app.inject({ url: '/assets/uPlot.iife.min.js' });
    assert.equal(chart.statusCode, 200);
    assert.match(chart.body, /uPlot/);
    assert.equal((await app.inject({ url: '/api/boards' })).json()[0].name, 'sim');
  });
  const token = 'correct-horse-battery-staple';
  await withServer(token, async (app) => {
    for (const url of ['/', '/api/runs', '/api/boards', '/assets/dashboard.js']) assert.equal((await app.inject({ url })).statusCode, 401, url);
    assert.equal((await app.inject({ url: '/api/runs', headers: { authorization: 'Bearer wrong-token-of-same-size!!' } })).statusCode, 401);
    assert.equal((await app.inject({ url: '/api/runs', headers: { authorization: `Bearer ${token}` } })).statusCode, 200);
    const first = await app.inject({ url: `/?token=${token}` });
    assert.equal(first.statusCode, 200);
    const cookie = String(first.headers['set-cookie']);
    assert.match(cookie, /HttpOnly; SameSite=Strict/);
    assert.equal((await app.inject({ url: '/api/runs', headers: { cookie: cookie.split(';')[0] as string } })).statusCode, 200);
  });
});

test('serve: boards with health and lease, runs, run details, flaky tests and perf trends from the history; no out dir or secret in them', async () => {
  await withServer(undefined, async (app, store, dir) => {
    const startedAt = (day: number) => `2026-01-0${day}T00:00:00.000Z`;
    for (const [index, outcome] of (['passed', 'failed'] as const).entries()) {
      const id = `run${index}`;
      await store.beginRun({ id, startedAt: startedAt(index + 1), durationMs: null, status: 'running', farmVersion: '0.1.0', firmwareRev: 'abc123', hostname: hostname(), outDir: join(dir, 'secret-out'), pid: 1, targets: ['sim'], regressions: 0 });
      await store.finishRun(id, { status: outcome, durationMs: 10, regressions: 0 }, [
        { runId: id, target: 'sim', kind: 'sim', suite: 'echo', title: 'echoes', repeat: 0, attempt: 0, outcome, failureClass: outcome === 'failed' ? 'protocol' : null, message: outcome === 'failed' ? 'login failed: password=hunter22 rejected' : null, durationMs: 5, firmwareSha256: 'aa', firmwareLabel: 'echo.elf', startedAt: startedAt(index + 1) },
      ], [{ runId: id, target: 'sim', metric: 'echo.p50Us', value: 20 + index, firmwareSha256: 'aa', startedAt: startedAt(index + 1) }]);
    }
    // A run in progress in this very process: the board is leased to it.
    await store.beginRun({ id: 'live', startedAt: startedAt(3), durationMs: null, status: 'running', farmVersion: '0.1.0', firmwareRev: null, hostname: hostname(), outDir: dir, pid: process.pid, targets: ['sim'], regressions: 0 });
    const boards = (await app.inject({ url: '/api/boards' })).json();
    assert.equal(boards[0].health, 'failing tests');
    assert.equal(boards[0].lease.runId, 'live');
    const queue = (await app.inject({ url: '/api/queue' })).json();
    assert.equal(queue.database, false);
    assert.deepEqual(queue.running.map((run: { id: string }) => run.id), ['live']);
    const runs = (await app.inject({ url: '/api/runs' })).json();
    assert.deepEqual(runs.map((run: { id: string; live: boolean }) => [run.id, run.live]), [['live', true], ['run1', false], ['run0', false]]);
    const detail = await app.inject({ url: '/api/runs/run1' });
    assert.equal(detail.json().results[0].message, 'login failed: password=*** rejected');
    assert.equal((await app.inject({ url: '/api/runs/nope' })).statusCode, 404);
    const flaky = (await app.inject({ url: '/api/flaky' })).json();
    assert.equal(flaky.tests[0].title, 'echoes');
    assert.equal(flaky.tests[0].lastFailure, 'protocol: login failed: password=*** rejected');
    const perf = (await app.inject({ url: '/api/perf' })).json();
    assert.deepEqual(perf.map((trend: { metric: string; points: unknown[] }) => [trend.metric, trend.points.length]), [['echo.p50Us', 2]]);
    for (const url of ['/api/runs', '/api/runs/run1', '/api/boards', '/api/flaky', '/api/queue']) {
      const body = (await app.inject({ url })).body;
      assert.doesNotMatch(body, /hunter22|secret-out/, url);
    }
  });
});

interface LiveMessage {
  readonly type: string;
  readonly text?: string;
  readonly status?: string;
}

/** A client of a live websocket (a run's or a job's console): every message kept, `ended` at the 'end' one. */
function followLive(url: string): { socket: WebSocket; messages: LiveMessage[]; ended: Promise<void> } {
  const socket = new WebSocket(url);
  const messages: LiveMessage[] = [];
  const ended = new Promise<void>((resolve) => {
    socket.on('message', (data: WebSocket.RawData) => {
      const message = JSON.parse(data.toString()) as LiveMessage;
      messages.push(message);
      if (message.type === 'end') resolve();
    });
  });
  return { socket, messages, ended };
}

test('serve: a running run\'s console is streamed live over a websocket, tagged as farm up tags it, until the run ends', async () => {
  await withServer(undefined, async (app, store, dir) => {
    await store.beginRun({ id: 'live', startedAt: new Date().toISOString(), durationMs: null, status: 'running', farmVersion: '0.1.0', firmwareRev: null, hostname: hostname(), outDir: dir, pid: process.pid, targets: ['sim'], regressions: 0 });
    const log = new LiveEventLog(liveEventsFile(dir));
    log.append('sim', 'farm', 'setting up sim (sim)');
    log.append('sim', 'uart0', 'boot');
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const { socket, messages, ended } = followLive(`${address.replace(/^http/, 'ws')}/api/runs/live/live`);
    // The first events arrive, then more while the run goes on.
    await waitFor(() => messages.some((message) => message.text?.includes('boot')), 10_000, 'the first events');
    log.append('sim', 'uart0', 'ing done\nsecond line token: abcdefgh\n');
    log.append('sim', 'test', 'end echo › echoes: passed (300ms)');
    await waitFor(() => messages.some((message) => message.text?.includes('passed')), 10_000, 'events written later');
    await store.finishRun('live', { status: 'passed', durationMs: 1, regressions: 0 }, [], []);
    await within(ended, 10_000, 'the end of the run');
    socket.terminate();
    const text = messages.filter((message) => message.type === 'console').map((message) => message.text).join('');
    assert.equal(text, '[sim] setting up sim (sim)\n[sim uart0] booting done\n[sim uart0] second line token: ***\n[sim] == end echo › echoes: passed (300ms)\n');
    assert.ok(messages.filter((message) => message.type === 'console').length >= 2, 'events came in more than one message');
    assert.deepEqual(messages.at(-1), { type: 'end', status: 'passed' });
  });
});

test('live events: lines of parallel writers stay whole, a partial last line waits for the next read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'farm-live-test-'));
  try {
    const file = liveEventsFile(dir);
    const a = new LiveEventLog(file);
    const b = new LiveEventLog(file);
    for (let index = 0; index < 50; index++) {
      a.append('a', 'uart0', `a${index}\n`);
      b.append('b', 'uart0', 'x'.repeat(20_000));
    }
    const { events, offset } = readLiveEvents(file, 0, 64 * 1024 * 1024);
    assert.equal(events.filter((event) => event.target === 'a').length, 50);
    // A 20 000-character chunk is split into events of at most 16 KiB of text.
    assert.equal(events.filter((event) => event.target === 'b').map((event) => event.text).join('').length, 50 * 20_000);
    assert.deepEqual(readLiveEvents(file, offset), { events: [], offset });
    const partial = readLiveEvents(file, 0, 100);
    assert.equal(partial.events.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('redaction: private keys, password / token assignments, bearer tokens, URL credentials and registered secrets', () => {
  registerSecret('s3cr3t-dashboard-token');
  const text = [
    '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n-----END OPENSSH PRIVATE KEY-----',
    'password=hunter2 PASSWORD: "x y" passphrase hello',
    'Authorization: Bearer abc.def-ghi',
    'ssh://root:toor@10.0.0.2:22/',
    'the token s3cr3t-dashboard-token leaked',
    'token count: 5 is fine? no, masked too: token: 5',
  ].join('\n');
  const clean = redactSecrets(text);
  for (const secret of ['b3BlbnNzaC1rZXktdjEAAAA', 'hunter2', '"x y"', 'abc.def-ghi', 'toor', 's3cr3t-dashboard-token']) assert.ok(!clean.includes(secret), `${secret} in ${clean}`);
  assert.match(clean, /ssh:\/\/root:\*\*\*@10\.0\.0\.2/);
  assert.equal(redactSecrets('echo: 480 messages, p50 20 µs'), 'echo: 480 messages, p50 20 µs');
});

test('serve: --listen parsing and what counts as loopback', () => {
  assert.deepEqual(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseListen('[::1]:8750'), { host: '::1', port: 8750 });
  assert.deepEqual(parseListen(':9000'), { host: '127.0.0.1', port: 9000 });
  assert.throws(() => parseListen('localhost'), /not HOST:PORT/);
  assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost'));
  assert.ok(!isLoopback('0.0.0.0') && !isLoopback('192.168.1.2'));
});

test('live formatter: console chunks are tagged per line however they are split, farm lines start a fresh line', () => {
  const formatter = new LiveFormatter();
  const out = [
    formatter.format({ target: 'rv', stream: 'uart0', text: 'hel' }),
    formatter.format({ target: 'rv', stream: 'uart0', text: 'lo\nwor' }),
    formatter.format({ target: 'rv', stream: 'farm', text: 'NS create' }),
    formatter.format({ target: 'rv', stream: 'uart0', text: 'ld\n' }),
  ].join('');
  assert.equal(out, '[rv uart0] hello\n[rv uart0] wor\n[rv] NS create\n[rv uart0] ld\n');
});

test('serve --farm: places are the boards with their lease, the queue is the farm\'s, a job\'s log is streamed live until the job ends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'farm-serve-test-'));
  const store = new SqliteHistoryStore(join(dir, 'h.sqlite'));
  const job = (id: number, state: FarmJob['state'], place: string | null): FarmJob => ({
    id, run: 3, suite: 'echo', state, wants: 'fk', priority: 0, attempts: state === 'queued' ? 0 : 1, maxAttempts: 2, place, agent: place && 'host-a',
    queuedAt: '2026-12-03T10:00:00.000Z', startedAt: null, finishedAt: null, leaseExpires: null, summary: null, error: 'ssh password=hunter22 refused', history: [],
  });
  let state: FarmJob['state'] = 'running';
  const log = [{ id: 1, at: new Date(), source: 'runner' as const, text: 'farm: 1 test(s) on fk' }, { id: 2, at: new Date(), source: 'console' as const, text: '[fk uart0] booted' }];
  const farm: FarmView = {
    location: 'postgres://farm@db/farm',
    places: async () => [{
      name: 'fk', agent: 'host-a', agentOnline: true, kind: 'fake', suites: ['echo'], soc: null, instruments: [], health: 'Good', badCapabilities: [], quarantinedSuites: [], lastCheckAt: null,
      lease: { job: 7, run: 3, suite: 'echo', agent: 'host-a', since: '2026-12-03T10:00:01.000Z', expires: '2026-12-03T10:00:31.000Z' },
    }],
    queue: async () => ({ queued: [job(8, 'queued', null)], running: [job(7, 'running', 'fk')] }),
    job: async (id) => (id === 7 ? { ...job(7, state, 'fk') } : undefined),
    jobLog: async (_id, after) => log.filter((line) => line.id > after),
    close: async () => undefined,
  };
  const app = await createDashboardServer({ store, boards: async () => BOARDS, livePollMs: 20, farm });
  try {
    const boards = (await app.inject({ url: '/api/boards' })).json() as { name: string; agent: string; lease: { holder: string; jobId: number } }[];
    assert.deepEqual(boards.map((board) => [board.name, board.agent, board.lease.holder, board.lease.jobId]), [['fk', 'host-a', 'job #7 (echo, run #3, agent host-a)', 7]]);
    const queue = (await app.inject({ url: '/api/queue' })).json() as { database: boolean; queued: FarmJob[]; running: FarmJob[] };
    assert.equal(queue.database, true);
    assert.deepEqual([queue.queued.map((entry) => entry.id), queue.running.map((entry) => entry.id)], [[8], [7]]);
    assert.equal(queue.running[0]?.error, 'ssh password=*** refused');
    const detail = (await app.inject({ url: '/api/jobs/7' })).json() as { job: FarmJob; runs: unknown[] };
    assert.equal(detail.job.error, 'ssh password=*** refused');
    assert.equal((await app.inject({ url: '/api/jobs/9' })).statusCode, 404);
    // A job's run is live while its job runs (its agent's host and pid mean nothing here).
    await store.beginRun({ id: 'jobrun', startedAt: new Date().toISOString(), durationMs: null, status: 'running', farmVersion: '0.1.0', firmwareRev: null, hostname: 'elsewhere', outDir: '/x', pid: 1, targets: ['fk'], regressions: 0, farmJob: 7 });
    const liveOf = async () => ((await app.inject({ url: '/api/runs' })).json() as { id: string; live: boolean; farmJob: number }[]).find((run) => run.id === 'jobrun');
    assert.deepEqual([(await liveOf())?.live, (await liveOf())?.farmJob], [true, 7]);
    assert.deepEqual((detail.runs as { id: string }[]).length, 0);
    assert.deepEqual(((await app.inject({ url: '/api/jobs/7' })).json() as { runs: { id: string }[] }).runs.map((run) => run.id), ['jobrun']);

    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const { socket, messages, ended } = followLive(`${address.replace(/^http/, 'ws')}/api/jobs/7/live`);
    await waitFor(() => messages.some((message) => message.text?.includes('booted')), 10_000, 'the first lines');
    log.push({ id: 3, at: new Date(), source: 'console', text: '[fk] == end echo › echoes: passed' });
    await waitFor(() => messages.some((message) => message.text?.includes('passed')), 10_000, 'a line written later');
    state = 'passed';
    await within(ended, 10_000, 'the end of the job');
    assert.equal((await liveOf())?.live, false);
    socket.terminate();
    assert.equal(messages.filter((message) => message.type === 'console').map((message) => message.text).join(''), '[runner] farm: 1 test(s) on fk\n[fk uart0] booted\n[fk] == end echo › echoes: passed\n');
    assert.deepEqual(messages.at(-1), { type: 'end', status: 'passed' });
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
