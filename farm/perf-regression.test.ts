/**
 * The regression detector on real measurements: echo rounds on the sim target (a fresh target
 * per round, as a farm run has), judged with the default options against the rounds before
 * them, as `farm run` judges a run against its history. The remote does 500 µs of work per
 * echo (params.replyDelayUs, a sleep in its thread), as a real remote's service does: ten normal rounds
 * after the baseline raise no alarm however the machine's load moves them; a round on a remote
 * slowed to 5 ms per echo is flagged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simKind } from '../targets/sim/index.js';
import { DEMO_CHANNEL, echoRound, percentile, range } from '../suites/support/echo.js';
import { baselineOf, describeVerdict, judge, DEFAULT_PERF_OPTIONS, type PerfVerdict } from '../reports/history/perf.js';

type Figures = Record<'echo.p50Us' | 'echo.p99Us' | 'echo.msgsPerSec', number>;

async function echoFigures(replyDelayUs: number): Promise<Figures> {
  const workDir = mkdtempSync(join(tmpdir(), 'farm-perf-regression-'));
  // No host spin, and a remote that works 500 µs per echo: an idle echo's p50 is a few µs when
  // the remote's thread gets a core at once and 20-130 µs when another test file runs beside
  // this one (seen in CI), a noise that is all of an idle figure but a fraction of a working one.
  // The detector is what is tested here, on a figure as steady as a real service's.
  const target = simKind.create('sim', simKind.parseParams({ replyDelayUs, hostSpinMicros: 0 }, 'params'), { configDir: workDir, firmware: {}, workDir });
  try {
    await target.setup({ info: () => {}, console: () => {} });
    await target.host.start(await target.firmwareFor('echo'));
    const channel = await target.host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 10_000 });
    const endpoint = await target.host.openEndpoint({ name: DEMO_CHANNEL });
    // Fewer messages than the suite's 480 keep the test fast; the figures are the same kind.
    const stats = await echoRound(endpoint, channel.remoteAddr, range(1, 200));
    await endpoint.close();
    await target.host.stop();
    const totalUs = stats.roundTripsUs.reduce((sum, us) => sum + us, 0);
    return {
      'echo.p50Us': percentile(stats.roundTripsUs, 50),
      'echo.p99Us': percentile(stats.roundTripsUs, 99),
      'echo.msgsPerSec': stats.count / (totalUs / 1e6),
    };
  } finally {
    await target.teardown();
    rmSync(workDir, { recursive: true, force: true });
  }
}

function judgeAll(history: readonly Figures[], figures: Figures): PerfVerdict[] {
  return (Object.keys(figures) as (keyof Figures)[]).map((metric) =>
    judge('sim', metric, figures[metric], baselineOf(history.map((run) => run[metric]), DEFAULT_PERF_OPTIONS, metric)),
  );
}

/** The remote's work per echo in a normal round, and in the slowed one (µs). */
const NORMAL_WORK_US = 500;
const SLOWED_WORK_US = 5000;

test('perf regressions on the sim: 10 normal runs raise no alarm against their history, a remote slowed by replyDelayUs is flagged', { timeout: 120_000 }, async () => {
  const history: Figures[] = [];
  for (let run = 0; run < DEFAULT_PERF_OPTIONS.minRuns; run++) history.push(await echoFigures(NORMAL_WORK_US));
  const alarms: string[] = [];
  for (let run = 0; run < 10; run++) {
    const figures = await echoFigures(NORMAL_WORK_US);
    const verdicts = judgeAll(history, figures);
    assert.ok(verdicts.every((verdict) => verdict.status !== 'no-baseline'), 'every metric has a baseline');
    alarms.push(...verdicts.filter((verdict) => verdict.status === 'regression').map(describeVerdict));
    history.push(figures);
  }
  assert.deepEqual(alarms, [], `no false alarm over 10 normal runs (history: ${JSON.stringify(history.map((run) => run['echo.p50Us'].toFixed(1)))})`);

  const slowed = await echoFigures(SLOWED_WORK_US);
  const verdicts = judgeAll(history, slowed);
  const p50 = verdicts.find((verdict) => verdict.metric === 'echo.p50Us');
  assert.equal(p50?.status, 'regression', p50 && describeVerdict(p50));
  assert.ok(slowed['echo.p50Us'] >= SLOWED_WORK_US, `every echo works 5 ms in the remote: p50 ${slowed['echo.p50Us']} µs`);
});
