/**
 * What the farm has and whether it can run here: the prerequisites of every configured target
 * (from its kind), plus the farm's own. Shared by `farm targets` and `farm doctor`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { assertMachine } from '../openamp/elf/check-machine.js';
import { parseElf } from '../openamp/elf/parse-elf.js';
import { machineName } from '../openamp/elf/elf-constants.js';
import { createRequire } from 'node:module';
import type { Prerequisite } from '../targets/target.js';
import type { KindRegistry } from '../targets/registry.js';
import type { KindMachine } from '../targets/kind.js';
import { builtinFirmware } from './suite-firmware.js';
import { type FarmConfig, type TargetConfig } from './config.js';
import { postgresPrerequisite } from './db/postgres-install.js';

export interface TargetInventory {
  readonly name: string;
  readonly kind: string;
  readonly description: string;
  readonly suites: readonly string[];
  readonly prerequisites: readonly Prerequisite[];
  /** Every prerequisite holds. */
  readonly runnable: boolean;
}

const MINIMUM_NODE: readonly [number, number] = [20, 5];

/** The farm's own needs, independent of targets. */
export function farmPrerequisites(): Prerequisite[] {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const nodeOk = major > MINIMUM_NODE[0] || (major === MINIMUM_NODE[0] && minor >= MINIMUM_NODE[1]);
  const require = createRequire(import.meta.url);
  const modules = ['@playwright/test', 'junit-report-builder', 'yaml', 'fastify', '@fastify/websocket', 'uplot', 'pg'].map((name): Prerequisite => {
    try {
      require.resolve(name);
      return { name: `npm package ${name}`, ok: true, detail: 'installed' };
    } catch {
      return { name: `npm package ${name}`, ok: false, detail: 'not installed', hint: 'run `npm ci` in the farm checkout' };
    }
  });
  return [
    {
      name: `node >= ${MINIMUM_NODE.join('.')}`,
      ok: nodeOk,
      detail: `running ${process.version}`,
      ...(nodeOk ? {} : { hint: 'install Node.js 20 LTS or newer (https://nodejs.org or NodeSource packages)' }),
    },
    ...modules,
    sqlitePrerequisite(require),
    postgresPrerequisite(),
    {
      name: 'chromium (the dashboard\'s browser tests)',
      ok: existsSync(CHROMIUM),
      detail: existsSync(CHROMIUM) ? CHROMIUM : `${CHROMIUM} missing`,
      ...(existsSync(CHROMIUM) ? {} : { debianPackages: ['chromium'] }),
    },
  ];
}

/** Debian's Chromium, which the dashboard's browser tests drive (no browser download is possible). */
export const CHROMIUM = '/usr/bin/chromium';

/** The run history's SQLite binding is native: it must load, not only be installed. */
function sqlitePrerequisite(require: NodeJS.Require): Prerequisite {
  const name = 'npm package better-sqlite3 (run history)';
  try {
    require('better-sqlite3');
    return { name, ok: true, detail: 'installed, native binding loads' };
  } catch (error) {
    return {
      name,
      ok: false,
      detail: error instanceof Error ? error.message.split('\n')[0] ?? 'does not load' : 'does not load',
      debianPackages: ['python3', 'make', 'g++'],
      hint: 'rebuild it from source against the local Node headers: npm_config_nodedir=$(dirname $(dirname $(command -v node))) npm rebuild better-sqlite3 (prebuilt binaries cannot be downloaded here)',
    };
  }
}

/** "farm.yaml" / "lab.yaml": the file a hint tells the user to edit. */
function configName(config: FarmConfig): string {
  return config.source ? basename(config.source) : 'farm.yaml';
}

/**
 * A firmware file must exist, be an ELF image, and be for the kind's machine (when it says). A
 * file that exists but is wrong is "invalid", with what is wrong with it: building it again
 * is not the fix for an image of another core or a file that is no image.
 */
function checkFirmwareFile(path: string, machine: KindMachine | undefined): { ok: boolean; invalid: boolean; detail: string } {
  if (!existsSync(path)) return { ok: false, invalid: false, detail: `${path} does not exist` };
  let image;
  try {
    image = parseElf(new Uint8Array(readFileSync(path)), path);
    if (machine) assertMachine(image, machine.elfMachine, machine.elfClass);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, invalid: true, detail: reason.includes(path) ? reason : `${path}: ${reason}` };
  }
  return { ok: true, invalid: false, detail: `${path} (ELF${image.class} ${image.machineName})` };
}

function firmwarePrerequisites(target: TargetConfig, config: FarmConfig, machine: KindMachine | undefined): Prerequisite[] {
  return Object.entries(target.firmware).map(([suite, path]) => {
    const { ok, invalid, detail } = checkFirmwareFile(path, machine);
    const field = `targets.${target.name}.firmware.${suite} in ${configName(config)}`;
    const wanted = machine ? `an ELF${machine.elfClass ?? ''} ${machineName(machine.elfMachine)} image` : 'an ELF image';
    const hint = invalid ? `replace it with ${wanted}, or point ${field} at one` : `build it, or fix ${field}`;
    return { name: `firmware for ${suite}`, ok, detail, ...(ok ? {} : { hint }), ...(invalid ? { invalid } : {}) };
  });
}

export async function inspectTarget(target: TargetConfig, registry: KindRegistry, config: FarmConfig): Promise<TargetInventory> {
  const kind = registry.get(target.kind);
  if (!kind) {
    const prerequisite: Prerequisite = { name: `kind ${target.kind}`, ok: false, detail: 'not registered' };
    return { name: target.name, kind: target.kind, description: '', suites: [], prerequisites: [prerequisite], runnable: false };
  }
  let prerequisites: Prerequisite[];
  try {
    prerequisites = await kind.prerequisites(kind.parseParams(target.params, `targets.${target.name}.params`), { configDir: config.configDir, firmware: builtinFirmware(target) });
  } catch (error) {
    prerequisites = [
      { name: `${target.kind} prerequisite check`, ok: false, detail: error instanceof Error ? error.message : String(error) },
    ];
  }
  prerequisites = [...prerequisites, ...firmwarePrerequisites(target, config, kind.machine)];
  return {
    name: target.name,
    kind: target.kind,
    description: kind.description,
    suites: target.suites,
    prerequisites,
    runnable: prerequisites.every((prerequisite) => prerequisite.ok),
  };
}

export function inspectFarm(config: FarmConfig, registry: KindRegistry): Promise<TargetInventory[]> {
  return Promise.all(config.targets.map((target) => inspectTarget(target, registry, config)));
}

/** Debian packages that would fix the failing prerequisites. */
export function missingPackages(prerequisites: readonly Prerequisite[]): string[] {
  return [...new Set(prerequisites.filter((item) => !item.ok).flatMap((item) => item.debianPackages ?? []))].sort();
}
