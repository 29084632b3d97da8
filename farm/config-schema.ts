/**
 * A small declarative schema for farm.yaml and the checker that applies it. The schema is the
 * single description of the file's shape; `validate` reports the first mismatch as a
 * ConfigError naming the field, which the loader turns into file:line:col.
 */
import { ConfigError } from '../base/errors.js';

export type Schema =
  | { readonly type: 'string'; readonly pattern?: RegExp; readonly patternHint?: string; readonly oneOf?: readonly string[] }
  | { readonly type: 'integer'; readonly minimum?: number }
  | { readonly type: 'number'; readonly exclusiveMinimum?: number }
  | { readonly type: 'boolean' }
  | { readonly type: 'array'; readonly items: Schema; readonly minItems?: number }
  | {
      readonly type: 'object';
      readonly properties: Readonly<Record<string, { readonly schema: Schema; readonly required?: boolean }>>;
      /** Schema of keys not listed in `properties`; absent = unknown keys are errors. */
      readonly additional?: Schema;
      /** Allowed keys when `additional` is used (e.g. suite names). */
      readonly keys?: readonly string[];
    }
  /** Anything (kind-specific parameters, checked by the kind). */
  | { readonly type: 'any' };

export function fieldPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function quoteList(values: readonly string[]): string {
  return values.join(', ');
}

/** Throws ConfigError at the first place `value` does not match `schema`. */
export function validate(value: unknown, schema: Schema, path: string): void {
  switch (schema.type) {
    case 'any':
      return;
    case 'string':
      if (typeof value !== 'string') throw new ConfigError(path, `must be a string, got ${describe(value)}`);
      if (schema.oneOf && !schema.oneOf.includes(value)) {
        throw new ConfigError(path, `unknown value "${value}" (known: ${quoteList(schema.oneOf)})`);
      }
      if (schema.pattern && !schema.pattern.test(value)) {
        throw new ConfigError(path, `"${value}" is not valid: ${schema.patternHint ?? `must match ${schema.pattern}`}`);
      }
      return;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        throw new ConfigError(path, `must be an integer, got ${describe(value)}`);
      }
      if (schema.minimum !== undefined && value < schema.minimum) {
        throw new ConfigError(path, `must be at least ${schema.minimum}, got ${value}`);
      }
      return;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new ConfigError(path, `must be a number, got ${describe(value)}`);
      }
      if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) {
        throw new ConfigError(path, `must be greater than ${schema.exclusiveMinimum}, got ${value}`);
      }
      return;
    case 'boolean':
      if (typeof value !== 'boolean') throw new ConfigError(path, `must be true or false, got ${describe(value)}`);
      return;
    case 'array':
      if (!Array.isArray(value)) throw new ConfigError(path, `must be a list, got ${describe(value)}`);
      if (schema.minItems !== undefined && value.length < schema.minItems) {
        throw new ConfigError(path, `must have at least ${schema.minItems} item(s)`);
      }
      value.forEach((item, index) => validate(item, schema.items, fieldPath(path, index)));
      return;
    case 'object': {
      if (!value || typeof value !== 'object' || Array.isArray(value)) {
        throw new ConfigError(path, `must be a mapping, got ${describe(value)}`);
      }
      const record = value as Record<string, unknown>;
      for (const [key, property] of Object.entries(schema.properties)) {
        if (property.required && record[key] === undefined) {
          throw new ConfigError(path || '(top level)', `missing required field "${key}"`);
        }
      }
      for (const [key, item] of Object.entries(record)) {
        const property = schema.properties[key];
        if (property) {
          validate(item, property.schema, fieldPath(path, key));
        } else if (schema.additional && (!schema.keys || schema.keys.includes(key))) {
          validate(item, schema.additional, fieldPath(path, key));
        } else {
          const known = schema.keys ?? Object.keys(schema.properties);
          throw new ConfigError(fieldPath(path, key), `unknown field (known: ${quoteList(known)})`);
        }
      }
      return;
    }
  }
}
