/**
 * farm.yaml: loading, validation against the schema, and the built-in farm used when there is
 * no file. Every mistake becomes one ConfigFileError line "file:line:col: field: what".
 */
import { readFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, Parser, parseDocument, isMap, isSeq, isPair, isScalar, type Node as YamlNode, type YAMLError } from 'yaml';
import { DEFAULT_PERF_OPTIONS } from '../reports/history/perf.js';
import { SUITE_NAMES, type SuiteName } from '../targets/target.js';
import { ConfigError, ConfigFileError } from '../base/errors.js';
import { fieldPath, validate, type Schema } from './config-schema.js';
import { RUN_SUITES_DIR } from '../reports/paths.js';
import type { KindRegistry } from '../targets/registry.js';

export const DEFAULT_CONFIG_FILE = 'farm.yaml';

export interface TargetConfig {
  readonly name: string;
  readonly kind: string;
  /** The raw `params:` mapping (plain JSON); the kind's parseParams accepted it. */
  readonly params: unknown;
  /**
   * Suites this target runs: its `suites:` (or all) narrowed to what it can run: a built-in
   * suite its kind runs, a user suite it has firmware for. Built-ins first, in their order.
   */
  readonly suites: readonly string[];
  /** Firmware images by suite (built-in or user suite), absolute paths. */
  readonly firmware: Readonly<Record<string, string>>;
  /** What a farm of many hosts matches jobs against besides kind and suites (`place:`). */
  readonly place?: PlaceAttributes;
}

export interface PlaceAttributes {
  /** The SoC or board, e.g. "stm32mp157" (`farm run --farm --require soc=...`). */
  readonly soc?: string;
  /** Instruments attached to the place, e.g. ["power-meter", "logic-analyzer"]. */
  readonly instruments?: readonly string[];
}

/**
 * A suite: one of the four built-in ones (a spec file in dist/suites/), or a user suite that
 * farm.yaml's `suites:` names (one spec file, or a folder of them).
 */
export interface SuiteDefinition {
  readonly name: string;
  readonly builtin: boolean;
  /** The spec files, absolute. */
  readonly files: readonly string[];
  /**
   * User suites: the built-in suite whose reference firmware the remote runs on a target that
   * has no `firmware:` image of its own for this suite.
   */
  readonly firmware?: SuiteName;
}

/** Spec files a suite folder contributes (Playwright's names, *.spec.{ts,js,mts,mjs}). */
export const SPEC_FILE = /\.spec\.(?:[cm]?[jt]s)$/;

export interface FarmDefaults {
  readonly suites: readonly string[];
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

/** `history:` of farm.yaml: where runs are kept and how performance regressions are judged. */
export interface HistoryConfig {
  /** The SQLite file (absolute), "off", or undefined for the default (farm-history.sqlite next to farm.yaml). */
  readonly file: string | undefined;
  readonly baselineRuns: number;
  readonly minRuns: number;
  readonly mads: number;
  readonly minBand: number;
  readonly failOnRegression: boolean;
}

export interface FarmConfig {
  /** The file it came from, or null for the built-in farm. */
  readonly source: string | null;
  /** Directory relative paths resolve against. */
  readonly configDir: string;
  readonly defaults: FarmDefaults;
  /** The built-in suites, then the user suites of farm.yaml's `suites:`, in its order. */
  readonly suites: readonly SuiteDefinition[];
  readonly targets: readonly TargetConfig[];
  readonly history: HistoryConfig;
}

// Which names exist depends on the file's own `suites:`; buildConfig checks them.
const suiteName: Schema = { type: 'string' };
const suiteList: Schema = { type: 'array', items: suiteName, minItems: 1 };
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const NAME_HINT = 'use letters, digits, ".", "_" and "-", starting with a letter or digit';

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
    history: {
      schema: {
        type: 'object',
        properties: {
          file: { schema: { type: 'string' } },
          baselineRuns: { schema: { type: 'integer', minimum: 2 } },
          minRuns: { schema: { type: 'integer', minimum: 2 } },
          mads: { schema: { type: 'number', exclusiveMinimum: 0 } },
          minBand: { schema: { type: 'number', exclusiveMinimum: 0 } },
          failOnRegression: { schema: { type: 'boolean' } },
        },
      },
    },
    suites: {
      schema: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            name: { required: true, schema: { type: 'string', pattern: NAME_PATTERN, patternHint: NAME_HINT } },
            path: { required: true, schema: { type: 'string' } },
            firmware: { schema: { type: 'string', oneOf: SUITE_NAMES } },
          },
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
              schema: { type: 'string', pattern: NAME_PATTERN, patternHint: NAME_HINT },
            },
            kind: { required: true, schema: { type: 'string' } },
            params: { schema: { type: 'any' } },
            suites: { schema: suiteList },
            firmware: {
              schema: { type: 'object', properties: {}, additional: { type: 'string' } },
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

const HISTORY_DEFAULTS: HistoryConfig = { file: undefined, ...DEFAULT_PERF_OPTIONS, failOnRegression: false };

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

interface FlowStart {
  readonly offset: number;
  readonly source: string;
}

/** The opening "[" / "{" of every flow collection that has no closing bracket, in the file's order. */
function unclosedFlowCollections(text: string): FlowStart[] {
  const found: FlowStart[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(walk);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const token = node as { type?: unknown; start?: FlowStart; end?: readonly { source?: string }[] };
    if (token.type === 'flow-collection' && token.start) {
      const closer = token.start.source === '[' ? ']' : '}';
      if (!token.end?.some((end) => end.source === closer)) found.push(token.start);
    }
    for (const [key, value] of Object.entries(node)) if (key !== 'source') walk(value);
  };
  for (const token of new Parser().parse(text)) walk(token);
  return found.sort((a, b) => a.offset - b.offset);
}

/**
 * Where a YAML syntax error is, and what it is. The library reports a flow sequence or mapping
 * that is never closed where it gave up looking for the bracket (the next key, or the end of
 * the file); the mistake is the "[" / "{" left open, so that is the place named.
 */
function describeSyntaxError(text: string, error: YAMLError): { offset: number; detail: string } {
  const detail = error.message.split('\n', 1)[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'syntax error';
  if (/^Flow (sequence|map)/.test(detail)) {
    const open = unclosedFlowCollections(text).filter((start) => start.offset < error.pos[0]).at(-1);
    if (open) {
      const closer = open.source === '[' ? ']' : '}';
      const what = open.source === '[' ? 'flow sequence' : 'flow mapping';
      return { offset: open.offset, detail: `this ${what} "${open.source}" is not closed with "${closer}" (a ${what} must end with "${closer}", and lines it continues on must be indented more than its key)` };
    }
  }
  return { offset: error.pos[0], detail };
}

/** Parses and validates farm.yaml text. `file` is only used in messages and to resolve paths. */
export function parseFarmConfig(text: string, file: string | null, registry: KindRegistry, baseDir = process.cwd()): FarmConfig {
  const shownFile = file ? displayPath(file) : '(built-in farm)';
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const [syntaxError] = document.errors;
  if (syntaxError) {
    const { offset, detail } = describeSyntaxError(text, syntaxError);
    const position = lineCounter.linePos(offset);
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
  suites?: string[];
  firmware?: Record<string, string>;
  place?: PlaceAttributes;
}
interface RawSuite {
  name: string;
  path: string;
  firmware?: SuiteName;
}
interface RawFarm {
  defaults?: Partial<Omit<FarmDefaults, 'suites'>> & { suites?: string[] };
  history?: Partial<HistoryConfig>;
  suites?: RawSuite[];
  targets: RawTarget[];
}

/** The spec file of a built-in suite, next to the compiled farm. */
export function builtinSuiteFile(suite: SuiteName): string {
  return fileURLToPath(new URL(`../suites/${suite}.spec.js`, import.meta.url));
}

export const BUILTIN_SUITES: readonly SuiteDefinition[] = SUITE_NAMES.map((name) => ({ name, builtin: true, files: [builtinSuiteFile(name)] }));

function specFilesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    // A suite folder may hold the out dir of a run (path: .): its entry files are no specs of the suite.
    if (entry.name === 'node_modules' || entry.name.startsWith('.') || entry.name === RUN_SUITES_DIR) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...specFilesUnder(path));
    else if (entry.isFile() && SPEC_FILE.test(entry.name)) found.push(path);
  }
  return found;
}

function userSuite(raw: RawSuite, index: number, configDir: string, seen: Map<string, number>): SuiteDefinition {
  const path = fieldPath('suites', index);
  if ((SUITE_NAMES as readonly string[]).includes(raw.name)) {
    throw new ConfigError(fieldPath(path, 'name'), `"${raw.name}" is a built-in suite; give yours a name of its own`);
  }
  const earlier = seen.get(raw.name);
  if (earlier !== undefined) throw new ConfigError(fieldPath(path, 'name'), `duplicate suite name "${raw.name}" (also suites[${earlier}])`);
  seen.set(raw.name, index);
  const location = resolve(configDir, raw.path);
  let stat;
  try {
    stat = statSync(location);
  } catch {
    throw new ConfigError(fieldPath(path, 'path'), `${location} does not exist (a spec file or a folder of *.spec.ts / *.spec.js files, relative to this file)`);
  }
  let files: string[];
  if (stat.isDirectory()) {
    files = specFilesUnder(location);
    if (files.length === 0) throw new ConfigError(fieldPath(path, 'path'), `${location} holds no spec files (*.spec.ts, *.spec.js, *.spec.mts, *.spec.mjs)`);
  } else {
    if (!SPEC_FILE.test(location)) throw new ConfigError(fieldPath(path, 'path'), `${location} is not a spec file (its name must end in .spec.ts, .spec.js, .spec.mts or .spec.mjs)`);
    files = [location];
  }
  return { name: raw.name, builtin: false, files, ...(raw.firmware ? { firmware: raw.firmware } : {}) };
}

function checkSuiteNames(names: readonly string[] | undefined, path: string, known: readonly SuiteDefinition[]): void {
  names?.forEach((name, index) => {
    if (!known.some((suite) => suite.name === name)) {
      throw new ConfigError(fieldPath(path, index), `unknown suite "${name}" (known: ${known.map((suite) => suite.name).join(', ')})`);
    }
  });
}

/** Built-in suites and the firmware images given for them: what a kind is told about (TargetContext.firmware). */
function buildConfig(raw: RawFarm, file: string | null, configDir: string, registry: KindRegistry): FarmConfig {
  const seenSuites = new Map<string, number>();
  const suites = [...BUILTIN_SUITES, ...(raw.suites ?? []).map((suite, index) => userSuite(suite, index, configDir, seenSuites))];
  checkSuiteNames(raw.defaults?.suites, 'defaults.suites', suites);
  const defaults: FarmDefaults = { ...DEFAULTS, ...raw.defaults, suites: raw.defaults?.suites ?? suites.map((suite) => suite.name) };
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
    checkSuiteNames(target.suites, fieldPath(path, 'suites'), suites);
    for (const suite of Object.keys(target.firmware ?? {})) {
      if (!suites.some((known) => known.name === suite)) {
        throw new ConfigError(fieldPath(fieldPath(path, 'firmware'), suite), `unknown suite "${suite}" (known: ${suites.map((known) => known.name).join(', ')})`);
      }
    }
    const [imageSuite] = Object.keys(target.firmware ?? {});
    if (imageSuite !== undefined && kind.acceptsFirmwareImages === false) {
      const instead = kind.remoteParam
        ? `a ${kind.kind} target runs ${kind.remoteParam.runs}, not images: move targets.${target.name}.firmware.${imageSuite} to ${kind.remoteParam.path}.${imageSuite}`
        : `kind "${kind.kind}" takes no firmware images`;
      throw new ConfigError(fieldPath(fieldPath(path, 'firmware'), imageSuite), instead);
    }
    const firmware: Record<string, string> = {};
    for (const [suite, firmwarePath] of Object.entries(target.firmware ?? {})) firmware[suite] = resolve(configDir, firmwarePath);
    // What this target can run: a built-in suite its kind runs; a user suite it has an image
    // for, or whose reference firmware its kind runs.
    const why = (suite: SuiteDefinition): string | undefined => {
      if (suite.builtin) return (kind.suites as readonly string[]).includes(suite.name) ? undefined : `kind "${kind.kind}" cannot run suite "${suite.name}" (it runs: ${kind.suites.join(', ')})`;
      if (firmware[suite.name] !== undefined) return undefined;
      if (suite.firmware && kind.suites.includes(suite.firmware)) return undefined;
      return suite.firmware
        ? `kind "${kind.kind}" cannot run the ${suite.firmware} firmware suite "${suite.name}" runs on; give targets.${target.name}.firmware.${suite.name} an image`
        : `no firmware for suite "${suite.name}" on this target: set targets.${target.name}.firmware.${suite.name}, or firmware: <built-in suite> in the suite's entry`;
    };
    target.suites?.forEach((name, suiteIndex) => {
      const reason = why(suites.find((suite) => suite.name === name) as SuiteDefinition);
      if (reason) throw new ConfigError(fieldPath(fieldPath(path, 'suites'), suiteIndex), reason);
    });
    const wanted = target.suites ?? defaults.suites;
    return {
      name: target.name,
      kind: target.kind,
      params,
      suites: suites.filter((suite) => wanted.includes(suite.name) && why(suite) === undefined).map((suite) => suite.name),
      firmware,
      ...(target.place ? { place: target.place } : {}),
    };
  });
  const history: HistoryConfig = {
    ...HISTORY_DEFAULTS,
    ...raw.history,
    file: raw.history?.file === undefined || raw.history.file === 'off' ? raw.history?.file : resolve(configDir, raw.history.file),
  };
  if (history.minRuns > history.baselineRuns) {
    throw new ConfigError('history.minRuns', `must not exceed history.baselineRuns (${history.baselineRuns}), got ${history.minRuns}`);
  }
  return { source: file ? resolve(file) : null, configDir, defaults, suites, targets, history };
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
