/**
 * The dashboard in a real browser: Playwright drives Debian's Chromium (no browser download is
 * possible) through `farm serve` while real `farm run`s write the history: a sim run's console
 * updating live, a flaky test listed after two runs of the fake kind, and a regression flagged
 * after a run on a sim slowed by replyDelayUs. Screenshots go to test-results/dashboard/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from '@playwright/test';
import { runCli, startCli, workspace } from '../testing/cli-harness.js';
import { CHROMIUM } from '../inventory.js';

const SCREENSHOTS = fileURLToPath(new URL('../../../test-results/dashboard/', import.meta.url));
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

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

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true });
}

test('dashboard in Chromium: a live console while a sim run runs, a flaky test after two runs, a regression after a slowed run', { skip: !existsSync(CHROMIUM) && `${CHROMIUM} is not installed (farm doctor --fix)`, timeout: 600_000 }, async () => {
  const ws = workspace();
  const server = startCli(['serve', '--listen', '127.0.0.1:0'], ws.dir);
  let browser: Browser | undefined;
  try {
    ws.write('farm.yaml', farmYaml('{}', '{}'));
    const base = await until('farm serve to listen', async () => /dashboard at (http:\/\/127\.0\.0\.1:\d+)\//.exec(server.output())?.[1], 30_000);
    const api = async (path: string) => (await fetch(base + path)).json() as Promise<unknown>;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });

    // Flaky: the fake's echo passes, then fails on the same firmware.
    const pass = await runCli(['run', '--target', 'fake', '--out', 'out-fake'], ws.dir);
    assert.equal(pass.code, 0, pass.stdout + pass.stderr);
    ws.write('farm.yaml', farmYaml('{}', '{ corrupt: [echo] }'));
    const fail = await runCli(['run', '--target', 'fake', '--out', 'out-fake'], ws.dir);
    assert.equal(fail.code, 1, fail.stdout);
    await page.goto(`${base}/#/flaky`);
    const flakyRow = page.locator('[data-testid="flaky-table"] tbody tr', { hasText: 'echoes 480 payloads' });
    await flakyRow.waitFor();
    assert.match(await flakyRow.innerText(), /^fake\techo\techoes 480 payloads of 17\.\.496 bytes unchanged and in order\t50%\t1 \/ 2\t[0-9a-f]{12}\tassertion: /);
    await shot(page, 'flaky.png');

    // Live console: open the run's page while it runs; its console fills as the run goes.
    ws.write('farm.yaml', farmYaml('{}', '{}'));
    const live = startCli(['run', '--target', 'sim', '--suite', 'echo,matrix-multiply,multi-endpoint', '--out', 'out-sim'], ws.dir);
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
    const liveResult = await live.result;
    assert.equal(liveResult.code, 0, liveResult.stdout + liveResult.stderr);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('[data-testid="live-console"]')?.dataset.ended === 'passed', undefined, { timeout: 30_000 });
    assert.ok(Number(await consoleBox.getAttribute('data-chunks')) >= 2, 'the console came in several live updates');
    const consoleText = await consoleBox.innerText();
    assert.match(consoleText, /\[sim\] == end echo › echoes 480 payloads .*: passed/);
    assert.match(consoleText, /\[sim\] == end matrix-multiply › /);
    await page.locator('[data-testid="results"] tbody tr', { hasText: 'multi-endpoint' }).first().waitFor();

    // Baseline: two more normal echo runs (3 with the one above), then one on a slowed remote.
    for (let run = 0; run < 2; run++) {
      const normal = await runCli(['run', '--target', 'sim', '--suite', 'echo', '--out', 'out-sim'], ws.dir);
      assert.equal(normal.code, 0, normal.stdout);
      assert.doesNotMatch(normal.stdout, /PERF REGRESSION/);
    }
    ws.write('farm.yaml', farmYaml('{ replyDelayUs: 5000 }', '{}'));
    const slowed = await runCli(['run', '--target', 'sim', '--suite', 'echo', '--out', 'out-sim'], ws.dir);
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
    server.child.kill('SIGINT');
    await server.result;
    ws.remove();
  }
});
