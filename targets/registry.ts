/**
 * The registry of target kinds. A kind is a module exporting a TargetKindDefinition; built-in
 * kinds are listed in BUILTIN_KIND_MODULES (the kind names a module defines, and how to import
 * it). Labs add kinds of their own without forking the farm through the plugin variable
 * FARM_EXTRA_KINDS: a list of module paths (separated by ':'), each exporting `kinds` (an array
 * of definitions) or a default export (one definition or an array).
 *
 * The kind modules are imported when asked for, not with this module: a Playwright worker
 * needs the one kind of its target (`loadKind`), and a kind's modules pull in SSH, serial,
 * container or process libraries that cost hundreds of milliseconds to import.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve, delimiter } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileFunction } from 'node:vm';
import { SUITE_NAMES } from './target.js';
import type { TargetKindDefinition } from './kind.js';
import { InfrastructureError } from '../base/errors.js';

/** One built-in kind module: the kinds it defines (checked against what it exports) and its import. */
interface BuiltinKindModule {
  readonly kinds: readonly string[];
  readonly load: () => Promise<readonly TargetKindDefinition[]>;
}

// ---- built-in kinds: add yours here (its kind names and its import) ----
export const BUILTIN_KIND_MODULES: readonly BuiltinKindModule[] = [
  { kinds: ['sim'], load: async () => [(await import('./sim/index.js')).simKind as TargetKindDefinition] },
  {
    kinds: ['qemu-riscv64-virt', 'qemu-cortex-m4', 'qemu-versal-r5', 'qemu-zynqmp-r5'],
    load: async () => (await import('./qemu/index.js')).qemuKinds as readonly TargetKindDefinition[],
  },
  { kinds: ['linux-process'], load: async () => [(await import('./linux-process/index.js')).linuxProcessKind as TargetKindDefinition] },
  { kinds: ['linux-remoteproc'], load: async () => [(await import('./linux-remoteproc/index.js')).linuxRemoteprocKind as TargetKindDefinition] },
  { kinds: ['qemu-linux'], load: async () => [(await import('./qemu-linux/index.js')).qemuLinuxKind as TargetKindDefinition] },
  { kinds: ['micropython-openamp'], load: async () => [(await import('./micropython/index.js')).micropythonOpenampKind as TargetKindDefinition] },
];

/** Imports one built-in kind module; its definitions must be the kinds the table names for it. */
async function loadBuiltinModule(entry: BuiltinKindModule): Promise<readonly TargetKindDefinition[]> {
  const definitions = await entry.load();
  const names = definitions.map((definition) => definition.kind);
  if (names.join() !== entry.kinds.join()) {
    throw new InfrastructureError(`built-in kind module defines ${names.join(', ')}, but targets/registry.ts lists ${entry.kinds.join(', ')} for it`);
  }
  return definitions;
}

export const EXTRA_KINDS_ENV = 'FARM_EXTRA_KINDS';

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

function extraModules(env: NodeJS.ProcessEnv): string[] {
  return (env[EXTRA_KINDS_ENV] ?? '').split(delimiter).filter((entry) => entry.trim() !== '');
}

const loaded = new Map<string, Promise<KindRegistry>>();

/** The built-in kinds plus those named by FARM_EXTRA_KINDS (loaded once per process). */
export function loadKindRegistry(env: NodeJS.ProcessEnv = process.env): Promise<KindRegistry> {
  const extra = extraModules(env);
  const key = extra.join(delimiter);
  let registry = loaded.get(key);
  if (!registry) {
    registry = (async () => {
      const builtin = (await Promise.all(BUILTIN_KIND_MODULES.map(loadBuiltinModule))).flat();
      const extraKinds = (await Promise.all(extra.map(importExtraKinds))).flat();
      return new KindRegistry([...builtin, ...extraKinds]);
    })();
    loaded.set(key, registry);
  }
  return registry;
}

/**
 * One kind, importing only the modules that may define it: its built-in module, if any, and
 * the FARM_EXTRA_KINDS modules (a kind defined by both is refused, as by loadKindRegistry).
 * Undefined when none defines it.
 */
export async function loadKind(kind: string, env: NodeJS.ProcessEnv = process.env): Promise<TargetKindDefinition | undefined> {
  const builtin = BUILTIN_KIND_MODULES.find((entry) => entry.kinds.includes(kind));
  const [builtinKinds, ...extraKinds] = await Promise.all([builtin ? loadBuiltinModule(builtin) : [], ...extraModules(env).map(importExtraKinds)]);
  return new KindRegistry([...(builtinKinds ?? []), ...extraKinds.flat()]).get(kind);
}
