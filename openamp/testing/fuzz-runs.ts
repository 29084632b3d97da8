/**
 * How many cases a property test generates. Each property states its default (chosen so the
 * whole unit-test run stays a few seconds on a shared 2-core machine); FARM_FUZZ_RUNS scales
 * every default by the same factor, expressed as the total a property with the reference
 * default of 10,000 runs would get: FARM_FUZZ_RUNS=200000 (`npm run fuzz`) runs everything
 * 20x longer, FARM_FUZZ_RUNS=1000 runs everything at a tenth. Unset, empty or invalid
 * values leave the defaults alone. At least one run always happens.
 */
export const FUZZ_RUNS_REFERENCE = 10_000;

export function fuzzRuns(defaultRuns: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FARM_FUZZ_RUNS?.trim();
  const total = raw ? Number(raw) : NaN;
  if (!Number.isFinite(total) || total <= 0) return Math.max(1, Math.round(defaultRuns));
  return Math.max(1, Math.round((defaultRuns * total) / FUZZ_RUNS_REFERENCE));
}
