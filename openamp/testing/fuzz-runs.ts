/**
 * How many cases a property test generates. Each property states its default (chosen so the
 * whole unit-test run stays a few seconds on a shared 2-core machine); FARM_FUZZ_RUNS scales
 * every default by the same factor, expressed as the total a property with the reference
 * default of 10,000 runs would get: FARM_FUZZ_RUNS=200000 (`npm run fuzz`) runs everything
 * 20x longer, FARM_FUZZ_RUNS=1000 runs everything at a tenth. Unset, empty or invalid
 * values leave the defaults alone. At least one run always happens.
 */
import fc from 'fast-check';

export const FUZZ_RUNS_REFERENCE = 10_000;

// fast-check 4 reports a failed property as its seed, path and counterexample, and keeps the
// failed check itself in the error's `cause`, which the test runner does not print: every
// property test imports this module, so every failure here says which check failed.
fc.configureGlobal({ ...fc.readConfigureGlobal(), includeErrorInReport: true });

export function fuzzRuns(defaultRuns: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FARM_FUZZ_RUNS?.trim();
  const total = raw ? Number(raw) : NaN;
  if (!Number.isFinite(total) || total <= 0) return Math.max(1, Math.round(defaultRuns));
  return Math.max(1, Math.round((defaultRuns * total) / FUZZ_RUNS_REFERENCE));
}

/**
 * The default budget of every property test in the repository, one entry per `fc.assert` call
 * site, used as `{ numRuns: propertyRuns('<name>') }`. The issue asks for at least 100,000
 * generated cases in the default test run; the sum of this table is that figure, and
 * fuzz-runs.test.ts checks both the sum and that the table and the compiled tests agree (every
 * property uses exactly one entry, every entry is used). A call site in a shared helper counts
 * once however many backends run it, so the real total is a little higher than the sum.
 * Cheap properties on untrusted input (wire formats, rings, ELF, resource tables) get the big
 * budgets; about 15-40 µs a case, the rpmsg machine properties ~130 µs.
 */
export const PROPERTY_BUDGETS = {
  'elf: garbage input': 3000,
  'elf: garbage behind a valid identification': 4000,
  'elf: mutated and truncated images': 16_000,
  'rsc: garbage input': 3000,
  'rsc: garbage behind a plausible header': 7000,
  'rsc: mutated and truncated tables': 15_000,
  'rpmsg wire: header round trip': 8000,
  'rpmsg wire: NS message round trip': 8000,
  'rpmsg wire: any received NS payload': 10_000,
  'rpmsg wire: channel name limits': 7000,
  'rpmsg hostile: remote returns anything on vring 0': 4000,
  'rpmsg hostile: host offers anything on vring 1': 4000,
  'rpmsg hostile: ring and status corruption in live traffic': 4000,
  'vring: layout formula': 500,
  'vring: needEvent window': 5000,
  'vring: driver and device under ring corruption': 15_000,
  'memory: address space resolves in bounds or rejects': 500,
  'memory contract: u32 read back through every accessor': 200,
  'matrix-multiply: encode/decode round trip': 100,
  'remote text: escaped output is terminal-safe': 4000,
  'rpmsg ns: announced addresses': 1500,
  'layout: overlap check': 2000,
  'channel registry: matches a model': 500,
} as const satisfies Record<string, number>;

export type PropertyName = keyof typeof PROPERTY_BUDGETS;

/** The floor for generated cases in the default test run. */
export const DEFAULT_RUN_CASES_FLOOR = 100_000;

/** Cases the named property generates in this run (its budget, scaled by FARM_FUZZ_RUNS). */
export function propertyRuns(name: PropertyName, env: NodeJS.ProcessEnv = process.env): number {
  return fuzzRuns(PROPERTY_BUDGETS[name], env);
}
