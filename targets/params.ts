import { ConfigError } from '../base/errors.js';

/**
 * The `params:` of a target in farm.yaml as a record, for a kind's parser: undefined when the
 * target has none; a ConfigError when it is not a mapping or names a key outside `known`.
 */
export function paramsRecord(raw: unknown, path: string, known: readonly string[]): Record<string, unknown> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(path, `must be a mapping, got ${JSON.stringify(raw)}`);
  const record = raw as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) throw new ConfigError(`${path}.${key}`, `unknown parameter (known: ${known.join(', ')})`);
  }
  return record;
}

/** `record[key]` as an integer from `min` to `max`; `fallback` when absent. */
export function integerParam(record: Record<string, unknown>, key: string, path: string, range: { min: number; max: number }, fallback: number): number {
  const value = record[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max) {
    throw new ConfigError(`${path}.${key}`, `must be an integer from ${range.min} to ${range.max}, got ${JSON.stringify(value)}`);
  }
  return value;
}
