/** `farm run --farm URL`: the command line of a run on the farm of many hosts (farm-run.ts). */
import { resolve } from 'node:path';
import type { ParsedArgs } from './cli-args.js';
import type { FarmConfig } from './config.js';
import { checkDatabaseUrl } from './db/connection.js';
import { parseRequirement, runOnFarm } from './farm-run.js';
import { UsageError } from './selection.js';
import { FIRMWARE_REV_ENV } from '../reports/history/run-history.js';

export function optionalInteger(value: string | true | undefined, option: string, minimum: number): number | undefined {
  if (value === undefined || value === true) return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < minimum) throw new UsageError(`--${option}: expected an integer >= ${minimum}, got "${value}"`);
  return Number(value);
}

export function seconds(value: string | true | undefined, option: string, fallback: number): number {
  if (value === undefined || value === true) return fallback * 1000;
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) throw new UsageError(`--${option}: expected seconds > 0, got "${value}"`);
  return Math.round(Number(value) * 1000);
}

export async function farmRunCommand(config: FarmConfig, args: ParsedArgs): Promise<number> {
  for (const local of ['workers', 'shard', 'no-wait', 'lock-wait']) {
    if (args.values[local] !== undefined) throw new UsageError(`--${local}: not with --farm (the farm schedules places itself)`);
  }
  if (args.values.history !== undefined) throw new UsageError('--history: not with --farm (the agents keep the history of farm jobs in the farm database: farm history --farm URL)');
  const url = checkDatabaseUrl(args.values.farm as string);
  const out = args.values.out;
  return runOnFarm({
    url,
    places: args.lists.target ?? [],
    suites: args.lists.suite ?? [],
    requirement: parseRequirement(args.lists.require ?? []),
    priority: optionalInteger(args.values.priority, 'priority', -1_000_000) ?? 0,
    ttlMs: seconds(args.values.ttl, 'ttl', 30),
    queueTimeoutMs: seconds(args.values['queue-timeout'], 'queue-timeout', 120),
    repeat: optionalInteger(args.values.repeat, 'repeat', 1),
    retries: optionalInteger(args.values.retries, 'retries', 0),
    firmwareRev: typeof args.values['firmware-rev'] === 'string' ? args.values['firmware-rev'] : process.env[FIRMWARE_REV_ENV] || undefined,
    failOnRegression: args.values['fail-on-regression'] === true,
    maxAttempts: 2,
    outDir: typeof out === 'string' ? resolve(process.cwd(), out) : resolve(config.configDir, config.defaults.out),
  });
}
