import { ConfigError } from '../../farm/config-error.js';

/** `params:` of a QEMU target in farm.yaml; every field is optional. */
export interface QemuParams {
  /** How often the host looks at the rings, in ms (the doorbell is shared-memory polling). */
  readonly pollIntervalMs: number;
  /** How long a silent remote may take before it counts as hung, in ms. */
  readonly stallTimeoutMs: number;
}

export const QEMU_PARAM_DEFAULTS: QemuParams = { pollIntervalMs: 1, stallTimeoutMs: 1000 };

export function parseQemuParams(raw: unknown, path: string): QemuParams {
  if (raw === undefined || raw === null) return { ...QEMU_PARAM_DEFAULTS };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(path, `must be a mapping, got ${JSON.stringify(raw)}`);
  const record = raw as Record<string, unknown>;
  const known = Object.keys(QEMU_PARAM_DEFAULTS);
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) throw new ConfigError(`${path}.${key}`, `unknown parameter (known: ${known.join(', ')})`);
  }
  const int = (key: keyof QemuParams, min: number, max: number): number => {
    const value = record[key];
    if (value === undefined) return QEMU_PARAM_DEFAULTS[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${path}.${key}`, `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  return { pollIntervalMs: int('pollIntervalMs', 1, 100), stallTimeoutMs: int('stallTimeoutMs', 100, 60_000) };
}
