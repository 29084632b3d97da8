/**
 * `farm run` keeps its history and `farm history` reads it, end to end through the CLI on the
 * test-only fake kind: a test that passed and then failed on the same firmware is listed as
 * flaky and marked in the next run's JUnit; a slowed remote is a performance regression, shown
 * in the progress line and the summary, and fails the run with --fail-on-regression.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, workspace } from './testing/cli-harness.js';
import { readJunit } from '../reports/junit-reader.js';

const farmYaml = (params: string) => `history:
  minRuns: 2
  mads: 2
  minBand: 0.5
targets:
  - name: fake
    kind: fake
    suites: [echo]
    params: ${params}
`;

function echoCase(xml: string) {
  const found = readJunit(xml).suites.flatMap((suite) => suite.cases).find((testCase) => testCase.attributes.classname === 'fake.echo');
  assert.ok(found, 'the echo testcase');
  return found;
}

test('farm history: flaky tests after a pass and a fail on the same firmware, perf regression of a slowed remote fails the gate when asked', { timeout: 300_000 }, async () => {
  const ws = workspace();
  try {
    const run = async (params: string, ...extra: string[]) => {
      ws.write('farm.yaml', farmYaml(params));
      const result = await runCli(['run', '--out', 'out', ...extra], ws.dir);
      return { ...result, junit: readFileSync(join(ws.dir, 'out', 'junit.xml'), 'utf8') };
    };
    const first = await run('{}', '--firmware-rev', 'v1.0-3-gabc');
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const second = await run('{ corrupt: [echo] }');
    assert.equal(second.code, 1, second.stdout);

    const flaky = await runCli(['history', 'flaky'], ws.dir);
    assert.equal(flaky.code, 0, flaky.stderr);
    assert.match(flaky.stdout, /fake\s+echo\s+echoes 480 payloads of 17\.\.496 bytes unchanged and in order\s+50%\s+1\/2/);
    assert.match(flaky.stdout, /per target:[\s\S]*fake\s+1\s+1\s+2\s+1\s+50%/);

    const third = await run('{}');
    assert.equal(third.code, 0, third.stdout);
    assert.equal(echoCase(third.junit).properties.get('history.flaky'), 'true');
    assert.doesNotMatch(third.stdout, /REGRESSION/);

    const slowed = await run('{ delayMs: 20 }', '--fail-on-regression');
    assert.equal(slowed.code, 1, slowed.stdout);
    assert.match(slowed.stdout, /ok {3}\[1\/1\] fake {2}echo › .* passed, PERF REGRESSION/);
    assert.match(slowed.stdout, /regression: echo\.p50Us \d+ µs above the band/);
    assert.match(slowed.stdout, /target\s+suite\s+passed\s+failed\s+error\s+skipped\s+regressed\s+duration/);
    assert.match(slowed.stdout, /farm: \d+ performance regression\(s\) and --fail-on-regression: the run fails/);
    const echo = echoCase(slowed.junit);
    assert.equal(echo.properties.get('perf.status'), 'regression');
    assert.equal(echo.failure?.attributes.type, 'performance');

    const runs = await runCli(['history', 'runs'], ws.dir);
    assert.equal(runs.code, 0, runs.stderr);
    const lines = runs.stdout.trim().split('\n').slice(3);
    assert.equal(lines.length, 4, runs.stdout);
    assert.match(lines[0] ?? '', /\spassed\s.*\sfake\s+1\s+0\s+0\s+0\s+0\s+[1-9]\d*\s+-$/);
    assert.match(lines[2] ?? '', /\sfailed\s.*\sfake\s+0\s+1\s+0\s+0\s+0\s+0\s+-$/);
    assert.match(lines[3] ?? '', /v1\.0-3-gabc$/);

    const perf = await runCli(['history', 'perf', '--metric', 'echo.p50Us'], ws.dir);
    assert.equal(perf.code, 0, perf.stderr);
    assert.match(perf.stdout, /fake\s+echo\.p50Us\s+\S+\s+3\s+[\d.]+ µs\s+[\d.]+\s+[\d.]+\.\.[\d.]+\s+regression\s+1/);

    const bad = await runCli(['history', 'perf', '--metric', 'nope'], ws.dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown metric "nope" \(known: echo\.p50Us/);
    const view = await runCli(['history', 'trends'], ws.dir);
    assert.equal(view.code, 2);
    assert.match(view.stderr, /unknown view "trends"/);
  } finally {
    ws.remove();
  }
});

test('farm serve refuses a non-loopback address without an access token', async () => {
  const ws = workspace();
  try {
    ws.write('farm.yaml', farmYaml('{}'));
    const result = await runCli(['serve', '--listen', '0.0.0.0:0'], ws.dir);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^farm serve: listening on 0\.0\.0\.0 \(not loopback\) needs an access token: --token TOKEN or FARM_SERVE_TOKEN\n$/);
  } finally {
    ws.remove();
  }
});
