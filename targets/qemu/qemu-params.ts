import { ConfigError } from '../../farm/config-error.js';
import { integerParam, paramsRecord } from '../params.js';

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
  const record = paramsRecord(raw, path, Object.keys(QEMU_PARAM_DEFAULTS));
  if (!record) return { ...QEMU_PARAM_DEFAULTS };
  const burst = record.pollBurstMs ?? QEMU_PARAM_DEFAULTS.pollBurstMs;
  if (typeof burst !== 'number' || !Number.isFinite(burst) || burst < 0 || burst > 100) {
    throw new ConfigError(`${path}.pollBurstMs`, `must be a number of ms from 0 to 100, got ${JSON.stringify(burst)}`);
  }
  return {
    pollIntervalMs: integerParam(record, 'pollIntervalMs', path, { min: 1, max: 100 }, QEMU_PARAM_DEFAULTS.pollIntervalMs),
    pollBurstMs: burst,
    stallTimeoutMs: integerParam(record, 'stallTimeoutMs', path, { min: 100, max: 60_000 }, QEMU_PARAM_DEFAULTS.stallTimeoutMs),
  };
}
