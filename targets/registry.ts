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
import { SUITE_NAMES } from './target.js';
import type { TargetKindDefinition } from './kind.js';
import { InfrastructureError } from '../base/errors.js';

// ---- built-in kinds: add yours here (one import, one line in BUILTIN_KINDS) ----
import { simKind } from './sim/index.js';
import { qemuKinds } from './qemu/index.js';
import { linuxProcessKind } from './linux-process/index.js';
import { linuxRemoteprocKind } from './linux-remoteproc/index.js';
import { micropythonOpenampKind } from './micropython/index.js';

export const EXTRA_KINDS_ENV = 'FARM_EXTRA_KINDS';

const BUILTIN_KINDS: readonly TargetKindDefinition[] = [
  simKind,
  ...(qemuKinds as readonly TargetKindDefinition[]),
  linuxProcessKind as TargetKindDefinition,
  linuxRemoteprocKind as TargetKindDefinition,
  micropythonOpenampKind as TargetKindDefinition,
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
