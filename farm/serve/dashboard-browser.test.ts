/**
 * The dashboard in a real browser: Playwright drives Debian's Chromium (no browser download is
 * possible) through `farm serve` while real `farm run`s write the history: a sim run's console
 * updating live, a flaky test listed after two runs of the fake kind, and a regression flagged
 * after a run on a sim slowed by replyDelayUs. Screenshots go to test-results/dashboard/.
 *
 * The sim's remote works NORMAL_WORK_US per echo, as a real service does: an idle sim echo's p50
 * is a few µs to 130 µs depending on what else the machine runs, and over only three baseline
 * runs that noise widened the band past a 5 ms slowed p50 (CI saw the slowed run unflagged).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from '@playwright/test';
import { startCli, waitFor, workspace, type CliResult } from '../testing/cli-harness.js';
import { within } from '../testing/within.js';
import { createPgCluster } from '../db/throwaway-cluster.js';
import { CHROMIUM } from '../inventory.js';

const SCREENSHOTS = fileURLToPath(new URL('../../../test-results/dashboard/', import.meta.url));
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const NORMAL_WORK_US = 500;
const SLOWED_WORK_US = 10_000;
const NORMAL_SIM = `{ replyDelayUs: ${NORMAL_WORK_US} }`;

const farmYaml = (simParams: string, fakeParams: string) => `history:
  minRuns: 3
targets:
  - name: sim
    kind: sim
    params: ${simParams}
  - name: fake
    kind: fake
    suites: [echo]
    params: ${fakeParams}
`;

/**
 * The page's globals as the functions run in the page use them (they are serialised into the
 * page; a string expression would need 'unsafe-eval', which the dashboard's
 * Content-Security-Policy rightly forbids; this file is compiled without DOM types).
 */
interface PageGlobals {
  readonly document: { querySelector(selector: string): { dataset: Record<string, string | undefined>; textContent: string | null } | null };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A `farm` command run to its end, bounded: one that hangs fails the test (and is killed). */
async function farmCli(args: readonly string[], cwd: string): Promise<CliResult> {
  const cli = startCli(args, cwd);
  return within(cli.result, 240_000, `farm ${args.join(' ')}`, () => cli.child.kill('SIGKILL'));
}

/** A page of `browser` with its script errors and failed requests collected (a test asserts none). */
async function openPage(browser: Browser): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  return { page, pageErrors };
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true });
}

test('dashboard in Chromium: a live console while a sim run runs, a flaky test after two runs, a regression after a slowed run', { skip: !existsSync(CHROMIUM) && `${CHROMIUM} is not installed (farm doctor --fix)`, timeout: 600_000 }, async () => {
  const ws = workspace();
  const server = startCli(['serve', '--listen', '127.0.0.1:0'], ws.dir);
  let browser: Browser | undefined;
  let live: ReturnType<typeof startCli> | undefined;
  try {
    ws.write('farm.yaml', farmYaml(NORMAL_SIM, '{}'));
    const base = await until('farm serve to listen', async () => /dashboard at (http:\/\/127\.0\.0\.1:\d+)\//.exec(server.output())?.[1], 30_000);
    const api = async (path: string) => (await fetch(base + path)).json() as Promise<unknown>;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const { page, pageErrors } = await openPage(browser);

    // Flaky: the fake's echo passes, then fails on the same firmware.
    const pass = await farmCli(['run', '--target', 'fake', '--out', 'out-fake'], ws.dir);
    assert.equal(pass.code, 0, pass.stdout + pass.stderr);
    ws.write('farm.yaml', farmYaml(NORMAL_SIM, '{ corrupt: [echo] }'));
    const fail = await farmCli(['run', '--target', 'fake', '--out', 'out-fake'], ws.dir);
    assert.equal(fail.code, 1, fail.stdout);
    await page.goto(`${base}/#/flaky`);
    const flakyRow = page.locator('[data-testid="flaky-table"] tbody tr', { hasText: 'echoes 480 payloads' });
    await flakyRow.waitFor();
    assert.match(await flakyRow.innerText(), /^fake\techo\techoes 480 payloads of 17\.\.496 bytes unchanged and in order\t50%\t1 \/ 2\t[0-9a-f]{12}\tassertion: /);
    await shot(page, 'flaky.png');

    // Live console: open the run's page while it runs; its console fills as the run goes.
    ws.write('farm.yaml', farmYaml(NORMAL_SIM, '{}'));
    const liveRun = startCli(['run', '--target', 'sim', '--suite', 'echo,matrix-multiply,multi-endpoint', '--out', 'out-sim'], ws.dir);
    live = liveRun;
    const runId = await until('the sim run to be running', async () => ((await api('/api/queue')) as { running: { id: string }[] }).running[0]?.id, 60_000);
    await page.goto(`${base}/#/runs/${runId}`);
    const consoleBox = page.locator('[data-testid="live-console"]');
    // Seen while the run is still running: tagged UART lines of the sim and the farm's test events.
    await page.waitForFunction(() => {
      const box = (globalThis as unknown as PageGlobals).document.querySelector('[data-testid="live-console"]');
      return !!box && !box.dataset.ended && /\[sim uart0\] /.test(box.textContent ?? '') && /\[sim\] == start /.test(box.textContent ?? '');
    }, undefined, { timeout: 60_000 });
    assert.match(await page.locator('[data-testid="run-status"]').innerText(), /^running /);
    await shot(page, 'live-console.png');
    const liveResult = await within(liveRun.result, 240_000, 'the live sim run to end', () => liveRun.child.kill('SIGKILL'));
    assert.equal(liveResult.code, 0, liveResult.stdout + liveResult.stderr);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('[data-testid="live-console"]')?.dataset.ended === 'passed', undefined, { timeout: 30_000 });
    assert.ok(Number(await consoleBox.getAttribute('data-chunks')) >= 2, 'the console came in several live updates');
    const consoleText = await consoleBox.innerText();
    assert.match(consoleText, /\[sim\] == end echo › echoes 480 payloads .*: passed/);
    assert.match(consoleText, /\[sim\] == end matrix-multiply › /);
    await page.locator('[data-testid="results"] tbody tr', { hasText: 'multi-endpoint' }).first().waitFor();

    // Baseline: two more normal echo runs (3 with the one above), then one on a slowed remote.
    for (let run = 0; run < 2; run++) {
      const normal = await farmCli(['run', '--target', 'sim', '--suite', 'echo', '--out', 'out-sim'], ws.dir);
      assert.equal(normal.code, 0, normal.stdout);
      assert.doesNotMatch(normal.stdout, /PERF REGRESSION/);
    }
    ws.write('farm.yaml', farmYaml(`{ replyDelayUs: ${SLOWED_WORK_US} }`, '{}'));
    const slowed = await farmCli(['run', '--target', 'sim', '--suite', 'echo', '--out', 'out-sim'], ws.dir);
    assert.equal(slowed.code, 0, 'a regression alone does not fail the run without --fail-on-regression');
    assert.match(slowed.stdout, /PERF REGRESSION/);
    await page.goto(`${base}/#/perf`);
    const p50 = page.locator('[data-testid="perf-table"] tbody tr', { hasText: 'echo.p50Us' }).filter({ hasText: 'sim' });
    await p50.waitFor();
    assert.match(await p50.innerText(), /^sim\techo\.p50Us\t4\t\d+ µs\t[\d.]+\t[\d.]+\.\.[\d.]+\tregression\t1$/);
    assert.ok((await page.locator('[data-testid="perf-chart"] canvas').count()) >= 5, 'a plot per metric');
    await shot(page, 'perf.png');
    await page.goto(`${base}/#/runs`);
    const newest = page.locator('[data-testid="runs"] tbody tr').first();
    await newest.waitFor();
    assert.match(await newest.innerText(), /regression/);
    await page.goto(`${base}/#/boards`);
    await page.locator('[data-testid="boards"] tbody tr', { hasText: 'sim' }).first().waitFor();
    await shot(page, 'boards.png');
    assert.deepEqual(pageErrors, [], 'no script error or failed request in the page');
  } finally {
    await browser?.close();
    if (live && live.child.exitCode === null) live.child.kill('SIGKILL');
    server.child.kill('SIGINT');
    await within(server.result, 30_000, 'farm serve to stop on SIGINT', () => server.child.kill('SIGKILL')).catch(() => undefined);
    ws.remove();
  }
});

test('dashboard in Chromium on the farm database: a place with its lease, the queue, and a running job\'s console live', { skip: !existsSync(CHROMIUM) && `${CHROMIUM} is not installed (farm doctor --fix)`, timeout: 400_000 }, async () => {
  const ws = workspace();
  const cluster = await createPgCluster();
  const started: ReturnType<typeof startCli>[] = [];
  const start = (args: readonly string[]) => {
    const cli = startCli(args, ws.dir);
    started.push(cli);
    return cli;
  };
  let browser: Browser | undefined;
  try {
    const init = await farmCli(['db', 'init', '--farm', cluster.url], ws.dir);
    assert.equal(init.code, 0, init.stdout + init.stderr);
    // One place; a slow remote (25 ms a reply) so that its echo job runs for seconds.
    const config = ws.write('agent.yaml', 'targets:\n  - name: fk\n    kind: fake\n    suites: [echo, matrix-multiply]\n    params: { delayMs: 25 }\n');
    const agent = start(['agent', '--farm', cluster.url, '--config', config, '--name', 'bench-7', '--ttl', '10']);
    await waitFor(() => /fk: Good/.test(agent.output()) || agent.child.exitCode !== null, 60_000, 'the place fk to pass its health check');
    assert.match(agent.output(), /fk: Good/);
    const server = start(['serve', '--listen', '127.0.0.1:0', '--farm', cluster.url]);
    const base = await until('farm serve to listen', async () => /dashboard at (http:\/\/127\.0\.0\.1:\d+)\//.exec(server.output())?.[1], 30_000);
    await until('farm serve to name the farm database', async () => /farm serve: farm database postgres:\/\/farm@127\.0\.0\.1:\d+\/postgres \(places, queue, jobs and run history\)/.test(server.output()), 30_000);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const { page, pageErrors } = await openPage(browser);

    // Two jobs on one place: echo runs (it holds the lease), matrix-multiply waits in the queue.
    const farmRun = start(['run', '--farm', cluster.url, '--target', 'fk', '--suite', 'echo,matrix-multiply', '--out', 'out-farm']);
    await page.goto(`${base}/#/boards`);
    const place = page.locator('[data-testid="boards"] tbody tr', { hasText: 'fk' }).filter({ has: page.locator('[data-testid="lease"]') });
    await place.waitFor({ timeout: 60_000 });
    const placeText = await place.innerText();
    assert.match(placeText, /^fk\tbench-7 online\tfake\tGood\t.*\tjob #\d+ \(echo, run #\d+, agent bench-7\)\nsince [\d-]+ [\d:]+, lease until [\d-]+ [\d:]+\n\techo, matrix-multiply$/);
    const echoJob = Number(/job #(\d+) \(echo/.exec(placeText)?.[1]);
    const queued = page.locator('[data-testid="queued"] tbody tr', { hasText: 'matrix-multiply' });
    await queued.waitFor();
    assert.match(await queued.innerText(), /^job #\d+\t#\d+\tmatrix-multiply\tfk\t0\t[\d-]+ [\d:]+\t0 \/ 2$/);
    assert.match(await page.locator('[data-testid="running-jobs"] tbody tr').first().innerText(), new RegExp(`^job #${echoJob}\\t#\\d+\\techo\\tfk\\tbench-7\\t1 / 2\\t`));
    await shot(page, 'farm-boards.png');

    // The running job's console, live: the target's UART and the test events as the agent streams them.
    await page.goto(`${base}/#/jobs/${echoJob}`);
    await page.waitForFunction(() => {
      const box = (globalThis as unknown as PageGlobals).document.querySelector('[data-testid="live-console"]');
      return !!box && !box.dataset.ended && /\[fk remote-uart\] fake remote: booted echo/.test(box.textContent ?? '') && /\[fk\] == start echo › /.test(box.textContent ?? '');
    }, undefined, { timeout: 60_000 });
    assert.match(await page.locator('[data-testid="job-status"]').innerText(), /^running echo on fk \(agent bench-7\), run #\d+, attempt 1 of 2/);
    await shot(page, 'farm-job-console.png');
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('[data-testid="live-console"]')?.dataset.ended === 'passed', undefined, { timeout: 120_000 });
    const consoleBox = page.locator('[data-testid="live-console"]');
    assert.ok(Number(await consoleBox.getAttribute('data-chunks')) >= 2, 'the console came in several live updates');
    const consoleText = await consoleBox.innerText();
    assert.match(consoleText, /\[fk\] == end echo › echoes 480 payloads .*: passed/);
    assert.match(consoleText, /\[runner\] ok\s+\[1\/1\] fk\s+echo/);
    // The job's results are in the run history, linked from the job.
    await page.locator('[data-testid="job-status"]', { hasText: /^passed / }).waitFor({ timeout: 30_000 });
    const result = await within(farmRun.result, 180_000, 'farm run --farm to end', () => farmRun.child.kill('SIGKILL'));
    assert.equal(result.code, 0, result.stdout + result.stderr);
    // Both jobs done: the place is free, its recent results are its two jobs', nothing is queued.
    await page.goto(`${base}/#/boards`);
    const freed = page.locator('[data-testid="boards"] tbody tr', { hasText: 'fk' });
    await until('the place to be free', async () => /\tfree\t/.test(await freed.innerText()), 30_000);
    assert.match(await freed.innerText(), /\tGood\t2 passed, 0 failed, 0 errors \(last 20 runs\)\tfree\t/);
    assert.equal(await page.locator('[data-testid="queued"]').innerText(), 'nothing is queued');
    await page.goto(`${base}/#/runs`);
    const jobRun = page.locator('[data-testid="runs"] tbody tr', { hasText: `job #${echoJob}` });
    await jobRun.waitFor();
    assert.match(await jobRun.innerText(), /\tpassed\t.*\tfk\t1\t0\t0\t0\t0/);
    assert.deepEqual(pageErrors, [], 'no script error or failed request in the page');
  } finally {
    await browser?.close();
    for (const cli of started.reverse()) {
      if (cli.child.exitCode === null) cli.child.kill('SIGINT');
      await within(cli.result, 30_000, 'a farm process to stop', () => cli.child.kill('SIGKILL')).catch(() => undefined);
    }
    await cluster.remove();
    ws.remove();
  }
});
