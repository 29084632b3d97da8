/**
 * farm.yaml: loading, validation against the schema, and the built-in farm used when there is
 * no file. Every mistake becomes one ConfigFileError line "file:line:col: field: what".
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, type Node as YamlNode } from 'yaml';
import { SUITE_NAMES, type SuiteName } from '../targets/target.js';
import { ConfigError, ConfigFileError } from '../base/errors.js';
import { fieldPath, validate, type Schema } from './config-schema.js';
import type { KindRegistry } from '../targets/registry.js';

export const DEFAULT_CONFIG_FILE = 'farm.yaml';

export interface TargetConfig {
  readonly name: string;
  readonly kind: string;
  /** The raw `params:` mapping (plain JSON); the kind's parseParams accepted it. */
  readonly params: unknown;
  /** Suites this target runs: its `suites:` (or all) narrowed to what its kind can run. */
  readonly suites: readonly SuiteName[];
  /** Firmware overrides by suite, absolute paths. */
  readonly firmware: Readonly<Partial<Record<SuiteName, string>>>;
  /** What a farm of many hosts matches jobs against besides kind and suites (`place:`). */
  readonly place?: PlaceAttributes;
}

export interface PlaceAttributes {
  /** The SoC or board, e.g. "stm32mp157" (`farm run --farm --require soc=...`). */
  readonly soc?: string;
  /** Instruments attached to the place, e.g. ["power-meter", "logic-analyzer"]. */
  readonly instruments?: readonly string[];
}

export interface FarmDefaults {
  readonly suites: readonly SuiteName[];
  readonly repeat: number;
  readonly retries: number;
  /** Total Playwright workers; undefined = one per target, at most 2. */
  readonly workers: number | undefined;
  /** Per-test timeout, seconds. */
  readonly timeout: number;
  /** Time allowed to provision a target (worker fixture), seconds. */
  readonly setupTimeout: number;
  readonly out: string;
}

export interface FarmConfig {
  /** The file it came from, or null for the built-in farm. */
  readonly source: string | null;
  /** Directory relative paths resolve against. */
  readonly configDir: string;
  readonly defaults: FarmDefaults;
  readonly targets: readonly TargetConfig[];
}

const suiteName: Schema = { type: 'string', oneOf: SUITE_NAMES };
const suiteList: Schema = { type: 'array', items: suiteName, minItems: 1 };

export const FARM_SCHEMA: Schema = {
  type: 'object',
  properties: {
    defaults: {
      schema: {
        type: 'object',
        properties: {
          suites: { schema: suiteList },
          repeat: { schema: { type: 'integer', minimum: 1 } },
          retries: { schema: { type: 'integer', minimum: 0 } },
          workers: { schema: { type: 'integer', minimum: 1 } },
          timeout: { schema: { type: 'number', exclusiveMinimum: 0 } },
          setupTimeout: { schema: { type: 'number', exclusiveMinimum: 0 } },
          out: { schema: { type: 'string' } },
        },
      },
    },
    targets: {
      required: true,
      schema: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          properties: {
            name: {
              required: true,
              schema: {
                type: 'string',
                pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
                patternHint: 'use letters, digits, ".", "_" and "-", starting with a letter or digit',
              },
            },
            kind: { required: true, schema: { type: 'string' } },
            params: { schema: { type: 'any' } },
            suites: { schema: suiteList },
            firmware: {
              schema: { type: 'object', properties: {}, additional: { type: 'string' }, keys: SUITE_NAMES },
            },
            place: {
              schema: {
                type: 'object',
                properties: {
                  soc: { schema: { type: 'string' } },
                  instruments: { schema: { type: 'array', items: { type: 'string' } } },
                },
              },
            },
          },
        },
      },
    },
  },
};

/** The farm used when there is no farm.yaml: the simulated SoC, so `farm run` works anywhere. */
export const BUILTIN_FARM_YAML = `targets:\n  - name: sim\n    kind: sim\n`;

const DEFAULTS: FarmDefaults = {
  suites: SUITE_NAMES,
  repeat: 1,
  retries: 0,
  workers: undefined,
  timeout: 120,
  setupTimeout: 600,
  out: 'farm-out',
};

function parsePath(path: string): (string | number)[] {
  const segments: (string | number)[] = [];
  for (const match of path.matchAll(/\[(\d+)\]|([^.[\]]+)/g)) {
    segments.push(match[1] !== undefined ? Number(match[1]) : (match[2] as string));
  }
  return segments;
}

/** Offset of the field `path` in the document: its key when it exists, else the nearest parent. */
function locate(contents: YamlNode | null, path: string): number {
  let node: unknown = contents;
  let offset = contents?.range?.[0] ?? 0;
  for (const segment of parsePath(path)) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) return offset;
      const keyNode = pair.key as YamlNode;
      offset = keyNode.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as YamlNode | undefined;
      if (!item) return offset;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      return offset;
    }
  }
  return offset;
}

function displayPath(file: string): string {
  const fromCwd = relative(process.cwd(), file);
  return fromCwd && !fromCwd.startsWith('..') && !isAbsolute(fromCwd) ? fromCwd : file;
}

/** Parses and validates farm.yaml text. `file` is only used in messages and to resolve paths. */
export function parseFarmConfig(text: string, file: string | null, registry: KindRegistry, baseDir = process.cwd()): FarmConfig {
  const shownFile = file ? displayPath(file) : '(built-in farm)';
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const [syntaxError] = document.errors;
  if (syntaxError) {
    const position = lineCounter.linePos(syntaxError.pos[0]);
    const detail = syntaxError.message.split('\n', 1)[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'syntax error';
    throw new ConfigFileError(shownFile, position.line, position.col, '', `YAML syntax error: ${detail}`);
  }
  const fail = (error: ConfigError): never => {
    const position = lineCounter.linePos(locate(document.contents as YamlNode | null, error.field));
    throw new ConfigFileError(shownFile, position.line, position.col, error.field, error.detail);
  };
  const raw: unknown = document.toJS() ?? {};
  const configDir = file ? dirname(resolve(file)) : baseDir;
  try {
    validate(raw, FARM_SCHEMA, '');
    return buildConfig(raw as RawFarm, file, configDir, registry);
  } catch (error) {
    if (error instanceof ConfigError) return fail(error);
    throw error;
  }
}

interface RawTarget {
  name: string;
  kind: string;
  params?: unknown;
  suites?: SuiteName[];
  firmware?: Partial<Record<SuiteName, string>>;
  place?: PlaceAttributes;
}
interface RawFarm {
  defaults?: Partial<Omit<FarmDefaults, 'suites'>> & { suites?: SuiteName[] };
  targets: RawTarget[];
}

function buildConfig(raw: RawFarm, file: string | null, configDir: string, registry: KindRegistry): FarmConfig {
  const defaults: FarmDefaults = { ...DEFAULTS, ...raw.defaults };
  const seen = new Map<string, number>();
  const targets = raw.targets.map((target, index): TargetConfig => {
    const path = fieldPath('targets', index);
    const earlier = seen.get(target.name);
    if (earlier !== undefined) {
      throw new ConfigError(fieldPath(path, 'name'), `duplicate target name "${target.name}" (also targets[${earlier}])`);
    }
    seen.set(target.name, index);
    const kind = registry.get(target.kind);
    if (!kind) {
      const known = registry.names();
      throw new ConfigError(
        fieldPath(path, 'kind'),
        `unknown kind "${target.kind}" (known: ${known.length ? known.join(', ') : 'none registered'})`,
      );
    }
    const params = target.params ?? {};
    try {
      kind.parseParams(params, fieldPath(path, 'params'));
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(fieldPath(path, 'params'), error instanceof Error ? error.message : String(error));
    }
    const wanted = target.suites ?? defaults.suites;
    if (target.suites) {
      target.suites.forEach((suite, suiteIndex) => {
        if (!kind.suites.includes(suite)) {
          throw new ConfigError(
            fieldPath(fieldPath(path, 'suites'), suiteIndex),
            `kind "${kind.kind}" cannot run suite "${suite}" (it runs: ${kind.suites.join(', ')})`,
          );
        }
      });
    }
    const firmware: Partial<Record<SuiteName, string>> = {};
    const [imageSuite] = Object.keys(target.firmware ?? {});
    if (imageSuite !== undefined && kind.acceptsFirmwareImages === false) {
      const instead = kind.remoteParam
        ? `a ${kind.kind} target runs ${kind.remoteParam.runs}, not images: move targets.${target.name}.firmware.${imageSuite} to ${kind.remoteParam.path}.${imageSuite}`
        : `kind "${kind.kind}" takes no firmware images`;
      throw new ConfigError(fieldPath(fieldPath(path, 'firmware'), imageSuite), instead);
    }
    for (const [suite, firmwarePath] of Object.entries(target.firmware ?? {})) {
      firmware[suite as SuiteName] = resolve(configDir, firmwarePath);
    }
    return {
      name: target.name,
      kind: target.kind,
      params,
      suites: SUITE_NAMES.filter((suite) => wanted.includes(suite) && kind.suites.includes(suite)),
      firmware,
      ...(target.place ? { place: target.place } : {}),
    };
  });
  return { source: file ? resolve(file) : null, configDir, defaults, targets };
}

/**
 * The farm to use: `file` when given (it must exist), else ./farm.yaml when present, else the
 * built-in farm.
 */
export function loadFarmConfig(file: string | undefined, registry: KindRegistry, cwd = process.cwd()): FarmConfig {
  const candidate = file ?? (existsSync(resolve(cwd, DEFAULT_CONFIG_FILE)) ? DEFAULT_CONFIG_FILE : undefined);
  if (candidate === undefined) return parseFarmConfig(BUILTIN_FARM_YAML, null, registry, cwd);
  const absolute = resolve(cwd, candidate);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(error);
    throw new ConfigFileError(displayPath(absolute), 1, 1, '', `cannot read config: ${reason}`);
  }
  return parseFarmConfig(text, absolute, registry, cwd);
}
