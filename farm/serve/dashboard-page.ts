/**
 * The dashboard page and its script (plain DOM, no framework; uPlot for the plots, served from
 * node_modules). Every value is put into the page as text (textContent), never as HTML.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>openamp-farm</title>
<link rel="stylesheet" href="/assets/uPlot.min.css">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f5f6f8; }
  header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  nav a { color: #c9d3e6; margin-right: 16px; text-decoration: none; }
  nav a.active { color: #fff; border-bottom: 2px solid #6cb2ff; }
  main { padding: 16px 20px; }
  section { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: 12px 16px; margin-bottom: 16px; }
  h2 { font-size: 16px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eef0f4; vertical-align: top; }
  th { color: #5a6275; font-weight: 600; }
  .badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
  .passed, .healthy, .ok { background: #d8f3dc; color: #1b5e20; }
  .failed, .regression, .error, .interrupted, .timedout { background: #fde2e1; color: #9b1c1c; }
  .running, .live { background: #dbeafe; color: #1e40af; }
  .flaky, .improved, .no-baseline, .skipped { background: #fef3c7; color: #92400e; }
  pre.console { background: #0f1420; color: #d6deeb; padding: 10px; height: 420px; overflow: auto; font: 12px/1.35 ui-monospace, monospace; white-space: pre-wrap; }
  .muted { color: #7a8294; }
  .charts { display: flex; flex-wrap: wrap; gap: 16px; }
  .chart { border: 1px solid #eef0f4; padding: 6px; }
  a { color: #1d4ed8; }
</style>
</head>
<body>
<header><h1>openamp-farm</h1><nav id="nav">
  <a href="#/boards" data-view="boards">Boards</a><a href="#/runs" data-view="runs">Runs</a><a href="#/flaky" data-view="flaky">Flaky tests</a><a href="#/perf" data-view="perf">Performance</a>
</nav><span class="muted" id="updated"></span></header>
<main id="main"></main>
<script src="/assets/uPlot.iife.min.js"></script>
<script src="/assets/dashboard.js"></script>
</body>
</html>
`;

export const DASHBOARD_JS = String.raw`'use strict';
const main = document.getElementById('main');
let timer = null;
let socket = null;

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (key === 'class') node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
const badge = (text, cls) => h('span', { class: 'badge ' + (cls || text) }, text);
const ms = (value) => value === null || value === undefined ? '-' : value < 1000 ? Math.round(value) + ' ms' : (value / 1000).toFixed(1) + ' s';
const when = (iso) => iso ? iso.replace('T', ' ').slice(0, 19) : '-';
const pct = (rate) => (rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0) + '%';
const short = (v) => v === null || v === undefined ? '' : v >= 1e6 ? (v / 1e6) + 'M' : v >= 1e3 ? (v / 1e3) + 'k' : String(+v.toPrecision(3));
const num = (v) => v === null || v === undefined ? '' : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
async function api(path) {
  const response = await fetch(path, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(path + ': HTTP ' + response.status);
  return response.json();
}
function table(testid, header, rows) {
  return h('table', { 'data-testid': testid }, h('thead', {}, h('tr', {}, header.map((cell) => h('th', {}, cell)))),
    h('tbody', {}, rows.map((row) => h('tr', {}, row.map((cell) => h('td', {}, cell))))));
}
function stamp() { document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString(); }

async function boardsView() {
  const [boards, queue] = await Promise.all([api('/api/boards'), api('/api/queue')]);
  if (queue.database) return farmBoardsView(boards, queue);
  return [
    h('section', {}, h('h2', {}, 'Boards'), table('boards', ['board', 'kind', 'health', 'recent results', 'lease', 'suites'], boards.map((b) => [
      b.name, b.kind,
      h('span', {}, badge(b.health, b.health === 'healthy' ? 'healthy' : b.health === 'no history' ? 'skipped' : 'failed'), b.problems.length ? h('div', { class: 'muted' }, 'missing: ' + b.problems.join(', ')) : null),
      recentText(b.recent),
      b.lease ? h('a', { href: '#/runs/' + b.lease.runId }, b.lease.holder) : 'free',
      b.suites.join(', '),
    ]))),
    h('section', {}, h('h2', {}, 'Queue and running jobs'), h('p', { class: 'muted' }, queue.note),
      queue.running.length ? table('running', ['run', 'started', 'targets', 'where'], queue.running.map((r) => [h('a', { href: '#/runs/' + r.id }, r.id.slice(0, 8)), when(r.startedAt), r.targets.join(', '), r.hostname + ' pid ' + r.pid]))
        : h('p', { 'data-testid': 'running' }, 'no run is running')),
  ];
}
const recentText = (r) => r.executions ? r.passed + ' passed, ' + r.failed + ' failed, ' + r.errors + ' errors (last 20 runs)' : '-';
const healthClass = (health) => health === 'Good' ? 'healthy' : health === 'Unknown' ? 'skipped' : 'failed';
const jobLink = (id) => h('a', { href: '#/jobs/' + id }, 'job #' + id);

// The farm database's places (boards), their leases, the queue and the running jobs.
function farmBoardsView(places, queue) {
  return [
    h('section', {}, h('h2', {}, 'Boards (places of the farm)'), table('boards', ['place', 'agent', 'kind', 'health', 'recent results', 'lease', 'suites'], places.map((p) => [
      p.name, h('span', {}, p.agent, ' ', badge(p.agentOnline ? 'online' : 'offline', p.agentOnline ? 'ok' : 'failed')), p.kind,
      h('span', {}, badge(p.health, healthClass(p.health)), p.quarantinedSuites.length ? h('div', { class: 'muted' }, 'quarantined: ' + p.quarantinedSuites.join(', ') + ' (failed: ' + p.badCapabilities.join(', ') + ')') : null),
      recentText(p.recent),
      p.lease ? h('span', { 'data-testid': 'lease' }, h('a', { href: '#/jobs/' + p.lease.jobId }, p.lease.holder), h('div', { class: 'muted' }, 'since ' + when(p.lease.since) + ', lease until ' + when(p.lease.expires))) : 'free',
      p.suites.join(', '),
    ]))),
    h('section', {}, h('h2', {}, 'Running jobs'), h('p', { class: 'muted' }, queue.note),
      queue.running.length ? table('running-jobs', ['job', 'run', 'suite', 'place', 'agent', 'attempt', 'started', 'lease until'], queue.running.map((j) => [
        jobLink(j.id), '#' + j.run, j.suite, j.place, j.agent, j.attempts + ' / ' + j.maxAttempts, when(j.startedAt), when(j.leaseExpires),
      ])) : h('p', { 'data-testid': 'running-jobs' }, 'no job is running')),
    h('section', {}, h('h2', {}, 'Queue (taken by priority, then age)'),
      queue.queued.length ? table('queued', ['job', 'run', 'suite', 'wants', 'priority', 'queued', 'attempts'], queue.queued.map((j) => [
        jobLink(j.id), '#' + j.run, j.suite, j.wants, j.priority, when(j.queuedAt), j.attempts + ' / ' + j.maxAttempts,
      ])) : h('p', { 'data-testid': 'queued' }, 'nothing is queued')),
  ];
}

// Appends a live message to a console box; returns whether it ended.
function liveConsole(box, path, onEnd) {
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path;
  socket = new WebSocket(url);
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === 'console') {
      // How many live messages came (the browser tests read it).
      box.dataset.chunks = String(Number(box.dataset.chunks || 0) + 1);
      const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
      box.append(document.createTextNode(data.text));
      if (atEnd) box.scrollTop = box.scrollHeight;
    } else if (data.type === 'end') {
      box.dataset.ended = data.status;
      box.append(document.createTextNode('\n-- ended: ' + data.status + ' --\n'));
      onEnd();
    } else if (data.type === 'error') {
      box.append(document.createTextNode(data.text + '\n'));
    }
  };
}

function jobView(id) {
  const status = h('p', { 'data-testid': 'job-status' });
  const details = h('div', {});
  const consoleBox = h('pre', { class: 'console', 'data-testid': 'live-console' });
  async function refresh() {
    const detail = await api('/api/jobs/' + encodeURIComponent(id));
    const j = detail.job;
    status.replaceChildren(badge(j.state), ' ' + j.suite + ' on ' + (j.place || j.wants) + (j.agent ? ' (agent ' + j.agent + ')' : '') + ', run #' + j.run + ', attempt ' + j.attempts + ' of ' + j.maxAttempts
      + ', queued ' + when(j.queuedAt) + (j.startedAt ? ', started ' + when(j.startedAt) : '') + (j.finishedAt ? ', ended ' + when(j.finishedAt) : '') + (j.summary ? ': ' + j.summary : ''));
    details.replaceChildren(
      j.error && j.state !== 'passed' ? h('p', {}, 'error: ' + j.error) : '',
      j.history.length ? h('ul', {}, j.history.map((line) => h('li', { class: 'muted' }, line))) : '',
      detail.runs.length ? h('p', {}, 'results in the run history: ', detail.runs.map((r) => h('span', {}, h('a', { href: '#/runs/' + r.id }, r.id.slice(0, 8)), ' ', badge(r.status), ' '))) : '');
  }
  liveConsole(consoleBox, '/api/jobs/' + encodeURIComponent(id) + '/live', () => void refresh());
  timer = setInterval(() => void refresh().catch(() => {}), 2000);
  void refresh().catch((error) => status.replaceChildren(String(error)));
  return [h('section', {}, h('h2', {}, 'Job #' + id), status, details),
    h('section', {}, h('h2', {}, 'Console (UART, trace and farm events as farm up shows them; [runner] lines: the job\'s progress)'), consoleBox)];
}

async function runsView() {
  const runs = await api('/api/runs');
  return [h('section', {}, h('h2', {}, 'Runs'), runs.length ? table('runs', ['started', 'run', 'status', 'duration', 'targets', 'passed', 'failed', 'errors', 'skipped', 'flaky', 'perf', 'firmware rev'], runs.map((r) => [
    when(r.startedAt), h('span', {}, h('a', { href: '#/runs/' + r.id }, r.id.slice(0, 8)), r.farmJob ? [' ', jobLink(r.farmJob)] : null), badge(r.live ? 'running' : r.status),
    ms(r.durationMs), r.targets.join(', '), r.passed, r.failed, r.errors, r.skipped, r.flaky,
    r.regressions ? badge(r.regressions + ' regression' + (r.regressions > 1 ? 's' : ''), 'regression') : '', r.firmwareRev || '-',
  ])) : h('p', {}, 'no runs yet: farm run records them'))];
}

function runView(id) {
  const header = h('h2', {}, 'Run ' + id.slice(0, 8));
  const status = h('p', { 'data-testid': 'run-status' });
  const results = h('div', {});
  const consoleBox = h('pre', { class: 'console', 'data-testid': 'live-console' });
  const liveSection = h('section', {}, h('h2', {}, 'Console (UART, trace and farm events, as farm up shows them)'), consoleBox);
  async function refresh() {
    const detail = await api('/api/runs/' + encodeURIComponent(id));
    const r = detail.run;
    status.replaceChildren(badge(r.live ? 'running' : r.status), ' started ' + when(r.startedAt) + ', ' + ms(r.durationMs) + ', targets ' + r.targets.join(', ') + (r.firmwareRev ? ', firmware rev ' + r.firmwareRev : '') + ', farm ' + r.farmVersion);
    results.replaceChildren(table('results', ['target', 'suite', 'test', 'attempt', 'result', 'duration', 'firmware', 'failure'], detail.results.map((t) => [
      t.target, t.suite, t.title, t.attempt + 1, badge(t.outcome), ms(t.durationMs), t.firmwareLabel ? t.firmwareLabel + ' ' + (t.firmwareSha256 || '').slice(0, 12) : '-',
      t.failureClass ? t.failureClass + ': ' + (t.message || '') : '',
    ])));
    return r.live;
  }
  // A farm job's run: its console is the job's log in the farm database (the agent's out dir is on its host).
  void api('/api/runs/' + encodeURIComponent(id)).then((detail) => {
    if (location.hash !== '#/runs/' + encodeURIComponent(id) && location.hash !== '#/runs/' + id) return; // left the page meanwhile
    const path = detail.run.farmJob ? '/api/jobs/' + detail.run.farmJob + '/live' : '/api/runs/' + encodeURIComponent(id) + '/live';
    liveConsole(consoleBox, path, () => void refresh());
  }).catch((error) => status.replaceChildren(String(error)));
  timer = setInterval(() => void refresh().catch(() => {}), 2000);
  void refresh();
  return [h('section', {}, header, status, results), liveSection];
}

async function flakyView() {
  const view = await api('/api/flaky');
  return [
    h('section', {}, h('h2', {}, 'Flaky tests (passed and failed on the same firmware and target)'),
      view.tests.length ? table('flaky-table', ['target', 'suite', 'test', 'flake rate', 'failed / runs', 'firmware', 'last failure', 'last seen'], view.tests.map((t) => [
        t.target, t.suite, t.title, badge(pct(t.flakeRate), 'flaky'), t.failures + ' / ' + t.executions, t.firmware.map((s) => s.slice(0, 12)).join(', '), t.lastFailure || '-', when(t.lastSeen),
      ])) : h('p', { 'data-testid': 'flaky-table' }, 'no flaky test in the last ' + view.runs + ' runs')),
    h('section', {}, h('h2', {}, 'Per target'), table('flaky-targets', ['target', 'tests', 'flaky tests', 'test runs', 'flaky failures', 'flake rate'], view.targets.map((t) => [
      t.target, t.tests, t.flakyTests, t.executions, t.flakyFailures, pct(t.flakeRate),
    ]))),
  ];
}

async function perfView() {
  const trends = await api('/api/perf');
  if (!trends.length) return [h('section', {}, h('h2', {}, 'Performance'), h('p', { 'data-testid': 'perf-table' }, 'no performance figures yet'))];
  const charts = h('div', { class: 'charts' });
  const section = h('section', {}, h('h2', {}, 'Performance trends (each run against the runs before it)'),
    table('perf-table', ['target', 'metric', 'runs', 'latest', 'baseline median', 'band', 'latest run', 'regressions'], trends.map((t) => {
      const last = t.points[t.points.length - 1];
      return [t.target, t.metric, t.points.length, num(last.value) + ' ' + t.unit, t.baseline ? num(t.baseline.median) : '-', t.baseline ? num(t.baseline.low) + '..' + num(t.baseline.high) : '-', badge(last.status), t.points.filter((p) => p.status === 'regression').length];
    })), charts);
  requestAnimationFrame(() => {
    for (const t of trends) {
      const box = h('div', { class: 'chart', 'data-testid': 'perf-chart' });
      charts.append(box);
      // x: run number (oldest first); y: log scale, as the noise band is a ratio.
      const xs = t.points.map((p, i) => i + 1);
      const ys = t.points.map((p) => p.value);
      const bad = t.points.map((p) => p.status === 'regression' ? p.value : null);
      const hi = t.points.map((p) => p.band ? p.band.high : null);
      const lo = t.points.map((p) => p.band ? p.band.low : null);
      new uPlot({
        title: t.target + ' ' + t.metric + ' (' + t.unit + ', ' + t.better + ' is better)', width: 420, height: 240,
        scales: { x: { time: false, range: (u, min, max) => [min - 0.5, max + 0.5] }, y: { distr: 3 } },
        axes: [{ label: 'run (oldest to newest)', values: (u, vals) => vals.map((v) => Number.isInteger(v) ? String(v) : '') }, { size: 56, values: (u, vals) => vals.map((v) => short(v)) }],
        series: [{ label: 'run' }, { label: t.metric, stroke: '#2563eb', width: 2, points: { show: true, size: 6 }, value: (u, v) => v === null ? '-' : num(v) },
          { label: 'regression', stroke: '#dc2626', width: 0, points: { show: true, size: 11, fill: '#dc2626' }, value: (u, v) => v === null ? '-' : num(v) },
          { label: 'band high', stroke: '#9ca3af', dash: [4, 4], value: (u, v) => v === null ? '-' : num(v) }, { label: 'band low', stroke: '#9ca3af', dash: [4, 4], value: (u, v) => v === null ? '-' : num(v) }],
      }, [xs, ys, bad, hi, lo], box);
    }
  });
  return [section];
}

async function show() {
  clearInterval(timer); timer = null;
  if (socket) { socket.onmessage = null; socket.close(); socket = null; }
  const route = (location.hash || '#/boards').slice(2).split('/');
  for (const link of document.querySelectorAll('#nav a')) link.classList.toggle('active', link.dataset.view === route[0]);
  const render = async () => {
    const views = { boards: boardsView, runs: runsView, flaky: flakyView, perf: perfView };
    const view = views[route[0]] || boardsView;
    try { main.replaceChildren(...await view()); stamp(); } catch (error) { main.replaceChildren(h('section', {}, h('p', {}, String(error)))); }
  };
  if (route[0] === 'runs' && route[1]) { main.replaceChildren(...runView(decodeURIComponent(route[1]))); return; }
  if (route[0] === 'jobs' && route[1]) { main.replaceChildren(...jobView(decodeURIComponent(route[1]))); return; }
  await render();
  if (route[0] !== 'perf') timer = setInterval(() => void render(), 3000);
}
window.addEventListener('hashchange', () => void show());
void show();
`;
