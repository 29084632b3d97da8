/**
 * Performance regressions: a metric's baseline is the median of its per-run values over the
 * last N runs on the same target, with a noise band from the median absolute deviation (MAD,
 * scaled by 1.4826 so that it estimates a standard deviation for normal noise) and a floor
 * relative to the median (a very steady history must not turn every wobble into an alarm). A
 * value beyond the band on the worse side is a regression; on the better side an improvement.
 *
 * The statistics are taken on the logarithms of the values: timing noise is multiplicative (a
 * loaded machine makes a round trip 3x slower, not 30 µs slower), so the band is a ratio around
 * the median: a tail metric such as p99, which load scatters over an order of magnitude, gets a
 * wide band from its own history, while a steady median gets a narrow one.
 */
import { median, metricDefinition } from './metrics.js';

export interface PerfOptions {
  /** How many recent runs on the target make the baseline. */
  readonly baselineRuns: number;
  /** Fewer runs than this: no baseline, no verdict. */
  readonly minRuns: number;
  /** Band half-width in scaled MADs. */
  readonly mads: number;
  /** The band reaches at least this fraction above the median (and the same ratio below). */
  readonly minBand: number;
}

export const DEFAULT_PERF_OPTIONS: PerfOptions = { baselineRuns: 20, minRuns: 10, mads: 5, minBand: 1 };

export interface Baseline {
  readonly runs: number;
  readonly median: number;
  /** MAD of the natural logarithms of the values. */
  readonly mad: number;
  /** The noise band: values in [low, high] are normal. */
  readonly low: number;
  readonly high: number;
}

export type PerfStatus = 'regression' | 'improved' | 'ok' | 'no-baseline';

export interface PerfVerdict {
  readonly target: string;
  readonly metric: string;
  readonly value: number;
  readonly status: PerfStatus;
  readonly baseline: Baseline | null;
}

/**
 * The baseline of per-run values (oldest first), or null when there are too few. `metric` names
 * the figure, whose bandScale widens the band (1 when unknown or not given).
 */
export function baselineOf(values: readonly number[], options: PerfOptions = DEFAULT_PERF_OPTIONS, metric?: string): Baseline | null {
  const recent = values.slice(-options.baselineRuns);
  if (recent.length < options.minRuns) return null;
  // Figures are positive (times, rates); a zero would have no logarithm.
  const logs = recent.map((value) => Math.log(Math.max(value, Number.MIN_VALUE)));
  const center = median(logs);
  const mad = median(logs.map((value) => Math.abs(value - center)));
  const scale = (metric && metricDefinition(metric)?.bandScale) || 1;
  const half = scale * Math.max(options.mads * 1.4826 * mad, Math.log1p(options.minBand));
  return { runs: recent.length, median: Math.exp(center), mad, low: Math.exp(center - half), high: Math.exp(center + half) };
}

export function judge(target: string, metric: string, value: number, baseline: Baseline | null): PerfVerdict {
  if (!baseline) return { target, metric, value, status: 'no-baseline', baseline };
  const lowerIsBetter = (metricDefinition(metric)?.better ?? 'lower') === 'lower';
  const worse = lowerIsBetter ? value > baseline.high : value < baseline.low;
  const better = lowerIsBetter ? value < baseline.low : value > baseline.high;
  return { target, metric, value, status: worse ? 'regression' : better ? 'improved' : 'ok', baseline };
}

export function formatValue(value: number): string {
  const magnitude = Math.abs(value);
  return magnitude >= 100 ? value.toFixed(0) : magnitude >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** "echo.p50Us 2104 µs above the band 31..95 (median 63 over 12 runs)". */
export function describeVerdict(verdict: PerfVerdict): string {
  const unit = metricDefinition(verdict.metric)?.unit ?? '';
  const value = `${verdict.metric} ${formatValue(verdict.value)} ${unit}`.trim();
  const { baseline } = verdict;
  if (!baseline) return `${value} (no baseline yet)`;
  const where = verdict.status === 'ok' ? 'within' : verdict.value > baseline.high ? 'above' : 'below';
  return `${value} ${where} the band ${formatValue(baseline.low)}..${formatValue(baseline.high)} (median ${formatValue(baseline.median)} over ${baseline.runs} runs)`;
}
