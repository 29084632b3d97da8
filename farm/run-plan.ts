/**
 * The resolved run handed from the CLI to Playwright's runner (a child process) and its
 * workers: the CLI writes it as JSON into the out dir and names it in FARM_RUN_PLAN.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { InfrastructureError } from '../base/errors.js';
import type { SuiteDefinition, TargetConfig } from './config.js';
import type { HistoryPlan } from '../reports/history/run-history.js';

export const RUN_PLAN_ENV = 'FARM_RUN_PLAN';

export interface RunPlan {
  readonly configSource: string | null;
  readonly configDir: string;
  /** Absolute. */
  readonly outDir: string;
  /** Playwright's test folder for the run: one entry file per spec file, `<suite>/<file>.js` (suite-entries.ts). */
  readonly suitesDir: string;
  /** The suites any selected target runs (built-in and user suites). */
  readonly suites: readonly SuiteDefinition[];
  /** Playwright's grep / grepInvert (regular expressions over test titles and tags), or null. */
  readonly grep: string | null;
  readonly grepInvert: string | null;
  /** The selected targets as farm.yaml configured them, each with only the suites selected. */
  readonly targets: readonly TargetConfig[];
  readonly repeat: number;
  readonly retries: number;
  readonly workers: number;
  readonly shard: { readonly current: number; readonly total: number } | null;
  readonly timeoutMs: number;
  readonly setupTimeoutMs: number;
  /** The run's history (known-flaky tests, baselines); null when history is off. */
  readonly history?: HistoryPlan | null;
}

export function writeRunPlan(file: string, plan: RunPlan): void {
  writeFileSync(file, JSON.stringify(plan, null, 2));
}

let cached: RunPlan | undefined;

/** The plan of the current run (Playwright config, fixtures, reporters). */
export function readRunPlan(env: NodeJS.ProcessEnv = process.env): RunPlan {
  if (cached) return cached;
  const file = env[RUN_PLAN_ENV];
  if (!file) {
    throw new InfrastructureError(`${RUN_PLAN_ENV} is not set: start runs with \`farm run\`, not with playwright directly`);
  }
  try {
    cached = JSON.parse(readFileSync(file, 'utf8')) as RunPlan;
  } catch (error) {
    throw new InfrastructureError(`cannot read run plan ${file}: ${String(error)}`, { cause: error });
  }
  return cached;
}
