/** Turning `farm run` options + farm.yaml into a run plan (which targets, which suites, how). */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { InfrastructureError } from '../base/errors.js';
import type { FarmConfig, TargetConfig } from './config.js';
import type { RunPlan } from './run-plan.js';
import { reportPaths } from '../reports/paths.js';

/** A mistake on the command line; the CLI prints it as one line and exits 2. */
export class UsageError extends InfrastructureError {}

export interface RunOptions {
  readonly targets: readonly string[];
  readonly suites: readonly string[];
  readonly repeat?: string | undefined;
  readonly retries?: string | undefined;
  readonly workers?: string | undefined;
  readonly shard?: string | undefined;
  readonly out?: string | undefined;
  /** Only tests whose title (with its tags, e.g. @smoke) matches this regular expression. */
  readonly grep?: string | undefined;
  /** Only tests whose title does not match. */
  readonly grepInvert?: string | undefined;
}

function pattern(value: string | undefined, option: string): string | null {
  if (value === undefined) return null;
  try {
    new RegExp(value);
  } catch (error) {
    throw new UsageError(`--${option}: not a regular expression: ${(error as Error).message}`);
  }
  return value;
}

function integer(value: string | undefined, option: string, minimum: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < minimum) {
    throw new UsageError(`--${option}: expected an integer >= ${minimum}, got "${value}"`);
  }
  return Number(value);
}

export function parseShard(value: string | undefined): RunPlan['shard'] {
  if (value === undefined) return null;
  const match = /^(\d+)\/(\d+)$/.exec(value);
  const current = Number(match?.[1]);
  const total = Number(match?.[2]);
  if (!match || total < 1 || current < 1 || current > total) {
    throw new UsageError(`--shard: expected I/N with 1 <= I <= N, got "${value}"`);
  }
  return { current, total };
}

export interface Selection {
  readonly plan: RunPlan;
  /** Targets or suites dropped from the selection, said in words. */
  readonly notes: readonly string[];
}

export function selectRun(config: FarmConfig, options: RunOptions, cwd = process.cwd()): Selection {
  const notes: string[] = [];
  const configured = config.targets.map((target) => target.name);
  for (const name of options.targets) {
    if (!configured.includes(name)) {
      throw new UsageError(`--target: no target "${name}" in ${config.source ?? 'the built-in farm'} (configured: ${configured.join(', ')})`);
    }
  }
  const known = config.suites.map((suite) => suite.name);
  for (const suite of options.suites) {
    if (!known.includes(suite)) {
      throw new UsageError(`--suite: unknown suite "${suite}" (known: ${known.join(', ')}${config.source ? `; user suites come from suites: in ${basename(config.source)}` : ''})`);
    }
  }
  const wantedSuites = options.suites;
  const targets: TargetConfig[] = [];
  for (const target of config.targets) {
    if (options.targets.length && !options.targets.includes(target.name)) continue;
    const suites = wantedSuites.length ? target.suites.filter((suite) => wantedSuites.includes(suite)) : target.suites;
    const dropped = wantedSuites.filter((suite) => !target.suites.includes(suite));
    if (dropped.length) notes.push(`target ${target.name} (${target.kind}) does not run ${dropped.join(', ')}`);
    if (suites.length === 0) continue;
    targets.push({ ...target, suites });
  }
  // A firmware file that is not there is a farm.yaml mistake: say so now, not in every test.
  for (const target of targets) {
    for (const suite of target.suites) {
      const file = target.firmware[suite];
      if (file !== undefined && !existsSync(file)) {
        const where = config.source ? basename(config.source) : 'the farm file';
        throw new UsageError(`targets.${target.name}.firmware.${suite}: ${file} does not exist (build it, or fix the path in ${where}; farm doctor checks every firmware file)`);
      }
    }
  }
  if (targets.length === 0) throw new UsageError(`nothing to run: no selected target runs the selected suites${notes.length ? ` (${notes.join('; ')})` : ''}`);
  const workers = integer(options.workers, 'workers', 1) ?? config.defaults.workers ?? Math.min(2, targets.length);
  const outDir = options.out !== undefined ? resolve(cwd, options.out) : resolve(config.configDir, config.defaults.out);
  return {
    notes,
    plan: {
      configSource: config.source,
      configDir: config.configDir,
      outDir,
      suitesDir: reportPaths(outDir).suites,
      suites: config.suites.filter((suite) => targets.some((target) => target.suites.includes(suite.name))),
      grep: pattern(options.grep, 'grep'),
      grepInvert: pattern(options.grepInvert, 'grep-invert'),
      targets,
      repeat: integer(options.repeat, 'repeat', 1) ?? config.defaults.repeat,
      retries: integer(options.retries, 'retries', 0) ?? config.defaults.retries,
      workers,
      shard: parseShard(options.shard),
      timeoutMs: Math.round(config.defaults.timeout * 1000),
      setupTimeoutMs: Math.round(config.defaults.setupTimeout * 1000),
    },
  };
}
