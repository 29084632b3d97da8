/**
 * The registry of target kinds. A kind is a module exporting a TargetKindDefinition; built-in
 * kinds are listed in BUILTIN_KINDS (one import + one line each). Labs add kinds of their own
 * without forking the farm through the plugin variable FARM_EXTRA_KINDS: a list of module paths
 * (separated by ':'), each exporting `kinds` (an array of definitions) or a default export (one
 * definition or an array).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve, delimiter } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileFunction } from 'node:vm';
import type { Prerequisite, SuiteName, Target } from './target.js';
import { SUITE_NAMES } from './target.js';
import { InfrastructureError } from '../openamp/errors.js';
// Kinds throw ConfigError from parseParams; re-exported so a kind needs only this module.
export { ConfigError } from '../farm/config-error.js';

// ---- built-in kinds: add yours here (one import, one line in BUILTIN_KINDS) ----
import { simKind } from './sim/index.js';
import { qemuKinds } from './qemu/index.js';
import { linuxProcessKind } from './linux-process/index.js';
import { linuxRemoteprocKind } from './linux-remoteproc/index.js';

export const EXTRA_KINDS_ENV = 'FARM_EXTRA_KINDS';

/** What a kind gets besides its own parameters when the farm creates a target. */
export interface TargetContext {
  /** Directory of the farm.yaml the target came from (or the working directory). */
  readonly configDir: string;
  /** Firmware paths from farm.yaml, by suite, absolute; a kind uses them instead of its defaults. */
  readonly firmware: Readonly<Partial<Record<SuiteName, string>>>;
  /** An empty scratch directory for this target instance; the farm removes it after teardown. */
  readonly workDir: string;
}

/** What a kind's prerequisite check gets besides its parameters. */
export interface PrerequisiteContext {
  /** Directory of the farm.yaml the target came from (or the working directory): relative paths resolve here. */
  readonly configDir: string;
  /** The target's `firmware:` paths by suite (absolute): what a kind need not build. Absent: none given. */
  readonly firmware?: Readonly<Partial<Record<SuiteName, string>>>;
}

/** The ELF images a kind's remote core runs; `farm doctor` checks `firmware:` files against it. */
export interface KindMachine {
  /** e_machine (openamp/elf/elf-constants.ts: EM_RISCV, EM_ARM, ...). */
  readonly elfMachine: number;
  readonly elfClass?: 32 | 64;
}

export interface TargetKindDefinition<Params = unknown> {
  /** The `kind:` value in farm.yaml ("sim", "qemu-riscv"). */
  readonly kind: string;
  /** One line for `farm targets`. */
  readonly description: string;
  /** Suites the kind can run at all (a target may narrow it in farm.yaml). */
  readonly suites: readonly SuiteName[];
  /**
   * Validates the `params:` mapping of a target. `path` is where it sits in farm.yaml
   * ("targets[2].params"); throw ConfigError(`${path}.field`, "what is wrong") on a mistake.
   * Must be pure: it runs in the CLI and again in every Playwright worker.
   */
  parseParams(raw: unknown, path: string): Params;
  /**
   * False when the kind runs no images from farm.yaml's `firmware:` (linux-process runs
   * commands): the config loader then rejects a target that has `firmware:`. Default: true.
   */
  readonly acceptsFirmwareImages?: boolean;
  /** With acceptsFirmwareImages false: where a suite's remote is configured instead. */
  readonly remoteParam?: { readonly path: string; readonly runs: string };
  /** The machine of the images the kind runs, when it runs ELF images. */
  readonly machine?: KindMachine;
  /** Everything this target needs on this machine (binaries, devices, groups), checked now. */
  prerequisites(params: Params, context: PrerequisiteContext): Promise<Prerequisite[]>;
  /** A target that is not set up yet; `setup` provisions it. */
  create(name: string, params: Params, context: TargetContext): Target;
}

const BUILTIN_KINDS: readonly TargetKindDefinition[] = [
  simKind,
  ...(qemuKinds as readonly TargetKindDefinition[]),
  linuxProcessKind as TargetKindDefinition,
  linuxRemoteprocKind as TargetKindDefinition,
];

export class KindRegistry {
  private readonly byName = new Map<string, TargetKindDefinition>();

  constructor(kinds: Iterable<TargetKindDefinition>) {
    for (const definition of kinds) {
      if (this.byName.has(definition.kind)) {
        throw new InfrastructureError(`target kind "${definition.kind}" is defined twice`);
      }
      this.byName.set(definition.kind, definition);
    }
  }

  get(kind: string): TargetKindDefinition | undefined {
    return this.byName.get(kind);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  all(): TargetKindDefinition[] {
    return [...this.byName.values()];
  }
}

function isKindDefinition(value: unknown): value is TargetKindDefinition {
  if (!value || typeof value !== 'object') return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.kind === 'string' &&
    typeof candidate.description === 'string' &&
    Array.isArray(candidate.suites) &&
    candidate.suites.every((suite) => (SUITE_NAMES as readonly unknown[]).includes(suite)) &&
    typeof candidate.parseParams === 'function' &&
    typeof candidate.prerequisites === 'function' &&
    typeof candidate.create === 'function'
  );
}

/** "module" or "commonjs": how Node's resolution rules (extension, nearest package.json) type a file. */
function moduleFormat(file: string): 'module' | 'commonjs' {
  if (file.endsWith('.mjs')) return 'module';
  if (file.endsWith('.cjs')) return 'commonjs';
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    try {
      const type = (JSON.parse(readFileSync(resolve(dir, 'package.json'), 'utf8')) as { type?: unknown }).type;
      return type === 'module' ? 'module' : 'commonjs';
    } catch {
      // No (readable) package.json here: look further up.
    }
    if (dirname(dir) === dir) return 'commonjs';
  }
}

/**
 * A kind module written with import/export in a CommonJS-typed file (a .js outside a "type":
 * "module" package) imports fine in the CLI, where Node detects the syntax, but Playwright's test
 * workers load it as CommonJS and fail in every test; refuse it here, up front, as they would.
 */
function assertLoadableInWorkers(file: string): void {
  if (moduleFormat(file) !== 'commonjs') return;
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    return; // The import below reports an unreadable file.
  }
  try {
    compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: file });
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    const esm = /import statement|export|import\.meta|await is only valid/.test(error.message);
    throw new InfrastructureError(
      `${EXTRA_KINDS_ENV}: ${file}: ${error.message}` +
        (esm
          ? ' (a .js file outside a package with "type": "module" is CommonJS for the test workers: rename it to .mjs, or add a package.json with "type": "module" next to it)'
          : ''),
    );
  }
}

async function importExtraKinds(modulePath: string): Promise<TargetKindDefinition[]> {
  const absolute = isAbsolute(modulePath) ? modulePath : resolve(modulePath);
  assertLoadableInWorkers(absolute);
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  } catch (error) {
    const reason = String(error).split('\n', 1)[0];
    throw new InfrastructureError(`${EXTRA_KINDS_ENV}: cannot load kind module ${absolute}: ${reason}`, { cause: error });
  }
  const exported = loaded.kinds ?? loaded.default;
  const list = Array.isArray(exported) ? exported : [exported];
  if (list.length === 0 || !list.every(isKindDefinition)) {
    throw new InfrastructureError(
      `${EXTRA_KINDS_ENV}: ${absolute} must export \`kinds\` (TargetKindDefinition[]) or a default TargetKindDefinition`,
    );
  }
  return list;
}

const loaded = new Map<string, Promise<KindRegistry>>();

/** The built-in kinds plus those named by FARM_EXTRA_KINDS (loaded once per process). */
export function loadKindRegistry(env: NodeJS.ProcessEnv = process.env): Promise<KindRegistry> {
  const extra = (env[EXTRA_KINDS_ENV] ?? '').split(delimiter).filter((entry) => entry.trim() !== '');
  const key = extra.join(delimiter);
  let registry = loaded.get(key);
  if (!registry) {
    registry = (async () => {
      const extraKinds = (await Promise.all(extra.map(importExtraKinds))).flat();
      return new KindRegistry([...BUILTIN_KINDS, ...extraKinds]);
    })();
    loaded.set(key, registry);
  }
  return registry;
}
