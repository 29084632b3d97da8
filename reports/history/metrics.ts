/**
 * The performance figures the history tracks, and how each is read from a finished test: echo
 * round-trip p50 / p99 and throughput, the time from a started remote to its announcement (echo
 * suite), the matrix-multiply exchange's time, and the flood suite's throughput each way. Each
 * says which direction is worse.
 */
import type { TestRecord } from '../test-record.js';

export interface MetricDefinition {
  readonly name: string;
  readonly unit: string;
  /** Which way is better: a regression is a move the other way. */
  readonly better: 'lower' | 'higher';
  readonly description: string;
  /**
   * How much wider than `mads` / `minBand` say its noise band is: 2 for the figures a loaded
   * machine moves most (a tail percentile, a mean over every round trip, a boot time), 1 for the
   * steady ones (a median, a long exchange's total).
   */
  readonly bandScale: number;
}

export const METRICS: readonly MetricDefinition[] = [
  { name: 'echo.p50Us', unit: 'µs', better: 'lower', description: 'echo round trip, median', bandScale: 1 },
  { name: 'echo.p99Us', unit: 'µs', better: 'lower', description: 'echo round trip, 99th percentile', bandScale: 2 },
  { name: 'echo.msgsPerSec', unit: 'msg/s', better: 'higher', description: 'echo messages per second (one at a time)', bandScale: 2 },
  { name: 'echo.announceMs', unit: 'ms', better: 'lower', description: 'started remote to its demo channel announcement', bandScale: 2 },
  { name: 'matrix-multiply.ms', unit: 'ms', better: 'lower', description: 'matrix-multiply test body (200 products)', bandScale: 1 },
  { name: 'flood.host-to-remote.msgsPerSec', unit: 'msg/s', better: 'higher', description: 'flood suite, host to remote', bandScale: 1 },
  { name: 'flood.remote-to-host.msgsPerSec', unit: 'msg/s', better: 'higher', description: 'flood suite, remote to host', bandScale: 1 },
];

export function metricDefinition(name: string): MetricDefinition | undefined {
  return METRICS.find((metric) => metric.name === name);
}

/** One figure of one test. */
export interface Measurement {
  readonly metric: string;
  readonly value: number;
}

/** The figures a finished test gives (none unless it passed: a failed run's timing says nothing). */
export function measurementsOf(record: TestRecord): Measurement[] {
  if (record.outcome !== 'passed') return [];
  const out: Measurement[] = [];
  const add = (metric: string, value: number | undefined) => {
    if (value !== undefined && Number.isFinite(value)) out.push({ metric, value });
  };
  if (record.suite === 'echo' && record.echo) {
    add('echo.p50Us', record.echo.p50Us);
    add('echo.p99Us', record.echo.p99Us);
    add('echo.msgsPerSec', record.echo.msgsPerSec);
    add('echo.announceMs', record.echo.announceMs);
  }
  if (record.suite === 'matrix-multiply') add('matrix-multiply.ms', record.timing.bodyMs);
  if (record.flood) add(`flood.${record.flood.direction}.msgsPerSec`, record.flood.messagesPerSecond);
  return out;
}

/** The median of a list (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
