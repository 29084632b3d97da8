import { ConfigError } from '../../farm/config-error.js';

/** `params:` of a QEMU target in farm.yaml; every field is optional. */
export interface QemuParams {
  /** How often the host looks at the rings while idle, in ms (the doorbell is shared-memory polling). */
  readonly pollIntervalMs: number;
  /**
   * After the host sends (or returns buffers), how long it looks at the rings on every
   * event-loop turn, in ms; 0 = timer polling only (AdaptivePollingDoorbell).
   */
  readonly pollBurstMs: number;
  /** How long a silent remote may take before it counts as hung, in ms. */
  readonly stallTimeoutMs: number;
}

export const QEMU_PARAM_DEFAULTS: QemuParams = { pollIntervalMs: 1, pollBurstMs: 0.2, stallTimeoutMs: 1000 };

export function parseQemuParams(raw: unknown, path: string): QemuParams {
  if (raw === undefined || raw === null) return { ...QEMU_PARAM_DEFAULTS };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(path, `must be a mapping, got ${JSON.stringify(raw)}`);
  const record = raw as Record<string, unknown>;
  const known = Object.keys(QEMU_PARAM_DEFAULTS);
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) throw new ConfigError(`${path}.${key}`, `unknown parameter (known: ${known.join(', ')})`);
  }
  const int = (key: 'pollIntervalMs' | 'stallTimeoutMs', min: number, max: number): number => {
    const value = record[key];
    if (value === undefined) return QEMU_PARAM_DEFAULTS[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${path}.${key}`, `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  const burst = record.pollBurstMs ?? QEMU_PARAM_DEFAULTS.pollBurstMs;
  if (typeof burst !== 'number' || !Number.isFinite(burst) || burst < 0 || burst > 100) {
    throw new ConfigError(`${path}.pollBurstMs`, `must be a number of ms from 0 to 100, got ${JSON.stringify(burst)}`);
  }
  return { pollIntervalMs: int('pollIntervalMs', 1, 100), pollBurstMs: burst, stallTimeoutMs: int('stallTimeoutMs', 100, 60_000) };
}
