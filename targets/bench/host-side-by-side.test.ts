import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSideBySide } from './host-side-by-side.js';

test('bench:c-host: C and TS hosts against the same remote, one uncounted warm-up round each, then interleaved rounds; ratios of the medians', { timeout: 240_000 }, async () => {
  const lines: string[] = [];
  const record = await runSideBySide({ rounds: 2, roundTrips: 200, print: (line) => lines.push(line) });
  assert.equal(record.benchmark, 'host-side-by-side');
  assert.equal(record.rounds, 2);
  assert.equal(record.roundTripsPerRound, 200);
  const warmUps = lines.filter((line) => line.startsWith('warm-up round, not counted: '));
  assert.deepEqual(
    warmUps.map((line) => line.slice('warm-up round, not counted: '.length, 'warm-up round, not counted: '.length + 2)),
    ['C ', 'TS'],
    lines.join('\n'),
  );
  // Interleaved: round 1 C first, round 2 TS first.
  const rounds = lines.filter((line) => line.startsWith('round '));
  assert.deepEqual(
    rounds.map((line) => line.replace(/^(round \d\/\d: \w+).*$/, '$1')),
    ['round 1/2: C', 'round 1/2: TS', 'round 2/2: TS', 'round 2/2: C'],
    lines.join('\n'),
  );
  for (const host of [record.c, record.ts]) {
    assert.ok(host.p50Us > 0 && host.p50Us <= host.p99Us, JSON.stringify(host));
    assert.ok(host.roundTripsPerSecond > 0 && host.cpuSecondsPer1000 > 0, JSON.stringify(host));
    assert.ok(host.idleCpuPercent >= 0, JSON.stringify(host));
  }
  assert.equal(record.p50Ratio, record.ts.p50Us / record.c.p50Us);
  assert.equal(record.rateRatio, record.ts.roundTripsPerSecond / record.c.roundTripsPerSecond);
  assert.equal(record.p99Ratio, record.ts.p99Us / record.c.p99Us);
});
