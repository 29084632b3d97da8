import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InfrastructureError } from '../../base/errors.js';
import { latencyStats, runDoorbellBench, type LatencyStats } from './doorbell-bench.js';

test('latencyStats summarises samples by rank', () => {
  const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose
  assert.deepEqual(latencyStats(samples), { samples: 100, minNs: 1, medianNs: 51, p90Ns: 91, p99Ns: 100, meanNs: 51 });
  assert.deepEqual(latencyStats([7]), { samples: 1, minNs: 7, medianNs: 7, p90Ns: 7, p99Ns: 7, meanNs: 7 });
  assert.throws(() => latencyStats([]), InfrastructureError);
});

test('doorbell bench: a short run measures every figure it reports', async () => {
  const result = await runDoorbellBench({ rounds: 50, warmup: 5, fileMemoryIterations: 500, spinMicros: 5 });
  const check = (name: string, stats: LatencyStats, samples: number): void => {
    assert.equal(stats.samples, samples, name);
    assert.ok(stats.minNs > 0, `${name} min ${stats.minNs}`);
    assert.ok(stats.minNs <= stats.medianNs && stats.medianNs <= stats.p90Ns && stats.p90Ns <= stats.p99Ns, `${name} ${JSON.stringify(stats)}`);
    assert.ok(stats.p99Ns < 5e9, `${name} p99 ${stats.p99Ns}`);
  };
  check('atomics', result.atomicsRoundTrip, 50);
  check('unix socket', result.unixSocketRoundTrip, 50);
  check('file memory', result.fileMemoryStoreLoad, 5);
});
