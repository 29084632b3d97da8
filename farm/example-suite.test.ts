/**
 * The example user suite (examples/user-suite/: its own farm.yaml and a TypeScript spec that
 * imports `openamp-farm`) run end to end through `farm run` on the real sim and QEMU Cortex-M4
 * targets: it must pass and show up in JUnit and in the HTML report as a built-in suite does.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { CLI, junitAllCases } from './testing/cli-harness.js';
import { readJunit } from '../reports/junit-reader.js';
import { readHtmlReport } from '../reports/testing/html-report.js';

const CHECKOUT = fileURLToPath(new URL('../..', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'farm-example-suite-'));
after(() => rmSync(out, { recursive: true, force: true }));

const SMOKE = 'the remote announces the demo channel and answers one ping @smoke';
const NIGHTLY = '64 pings of growing size come back unchanged and in order';

test('the example user suite passes on sim and qemu-cortex-m4 and is reported like a built-in suite', { timeout: 600_000 }, () => {
  const run = spawnSync(process.execPath, [CLI, 'run', '--config', join(CHECKOUT, 'examples', 'user-suite', 'farm.yaml'), '--out', out], {
    cwd: CHECKOUT,
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0', CI: '1' },
    timeout: 590_000,
  });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^sim\s+ping-pong\s+2\s+0\s+0\s+0/m);
  assert.match(run.stdout, /^qemu-cortex-m4\s+ping-pong\s+2\s+0\s+0\s+0/m);

  const xml = readFileSync(join(out, 'junit.xml'), 'utf8');
  assert.deepEqual(junitAllCases(xml).sort(), [
    `qemu-cortex-m4|qemu-cortex-m4.ping-pong|${NIGHTLY}|passed`,
    `qemu-cortex-m4|qemu-cortex-m4.ping-pong|${SMOKE}|passed`,
    `sim|sim.ping-pong|${NIGHTLY}|passed`,
    `sim|sim.ping-pong|${SMOKE}|passed`,
  ]);
  for (const suite of readJunit(xml).suites) {
    // As for a built-in suite: the firmware it ran (echo's reference image) and the run's status.
    assert.match(suite.properties.get('firmware.ping-pong.sha256') ?? '', /^[0-9a-f]{64}$/, suite.attributes.name);
    assert.equal(suite.properties.get('run.status'), 'passed');
    assert.ok(suite.attributes.timestamp && suite.attributes.hostname);
  }

  const html = readHtmlReport(join(out, 'html', 'index.html')).flatMap((file) => file.tests);
  assert.deepEqual(html.map((entry) => `${entry.projectName}|${entry.title}|${entry.outcome}|${entry.tags.join(',')}`).sort(), [
    `qemu-cortex-m4|${NIGHTLY}|expected|@nightly`,
    `qemu-cortex-m4|${SMOKE}|expected|@smoke`,
    `sim|${NIGHTLY}|expected|@nightly`,
    `sim|${SMOKE}|expected|@smoke`,
  ]);
  assert.ok(html.every((entry) => entry.location.file.endsWith('examples/user-suite/ping-pong.spec.ts')));
});
