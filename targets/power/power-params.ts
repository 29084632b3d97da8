import { ConfigError } from '../../base/errors.js';
import { integerParam, paramsRecord } from '../params.js';

/**
 * The `power:` block of a board target in farm.yaml: plain data, no I/O.
 *
 *   power: { type: command, on: [pdu-ctl, outlet, '3', 'on'], off: [...], state: [...] }
 *   power: { type: uhubctl, location: '1-1.4', port: 2 }
 *
 * `command` covers a relay script, a network PDU's CLI (snmpset, a vendor tool) or anything
 * else with one command line per action; `state` is optional (its stdout must say on or off).
 */
export type PowerParams = CommandPowerParams | UhubctlPowerParams;

export interface CommandPowerParams {
  readonly type: 'command';
  readonly on: readonly string[];
  readonly off: readonly string[];
  /** Optional: when absent, cycle = off, delay, on. */
  readonly cycle?: readonly string[];
  /** Optional: its stdout is searched for the word on or off. */
  readonly state?: readonly string[];
  /** Pause between off and on in a cycle, ms. */
  readonly delayMs: number;
  readonly timeoutMs: number;
}

export interface UhubctlPowerParams {
  readonly type: 'uhubctl';
  /** The hub's location as uhubctl prints it (`-l`), e.g. "1-1.4". */
  readonly location: string;
  readonly port: number;
  /** The uhubctl binary (default: uhubctl on PATH). */
  readonly binary: string;
  readonly delayMs: number;
  readonly timeoutMs: number;
}

const COMMAND_KEYS = ['type', 'on', 'off', 'cycle', 'state', 'delayMs', 'timeoutMs'];
const UHUBCTL_KEYS = ['type', 'location', 'port', 'binary', 'delayMs', 'timeoutMs'];

/** A command line as a non-empty list of strings (never a shell string: arguments stay intact). */
export function argvParam(value: unknown, path: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((arg) => typeof arg === 'string') || value[0] === '') {
    throw new ConfigError(path, `must be a non-empty list of strings (the executable, then its arguments), got ${JSON.stringify(value)}`);
  }
  return value as string[];
}

function optionalArgv(value: unknown, path: string): string[] | undefined {
  return value === undefined ? undefined : argvParam(value, path);
}

export function parsePowerParams(raw: unknown, path: string): PowerParams {
  const type = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>).type : undefined;
  if (type === 'command') {
    const record = paramsRecord(raw, path, COMMAND_KEYS) as Record<string, unknown>;
    const cycle = optionalArgv(record.cycle, `${path}.cycle`);
    const state = optionalArgv(record.state, `${path}.state`);
    return {
      type,
      on: argvParam(record.on, `${path}.on`),
      off: argvParam(record.off, `${path}.off`),
      ...(cycle ? { cycle } : {}),
      ...(state ? { state } : {}),
      delayMs: integerParam(record, 'delayMs', path, { min: 0, max: 600_000 }, 2000),
      timeoutMs: integerParam(record, 'timeoutMs', path, { min: 100, max: 600_000 }, 30_000),
    };
  }
  if (type === 'uhubctl') {
    const record = paramsRecord(raw, path, UHUBCTL_KEYS) as Record<string, unknown>;
    if (typeof record.location !== 'string' || !/^\d+(-\d+(\.\d+)*)?$/.test(record.location)) {
      throw new ConfigError(`${path}.location`, `must be a hub location as uhubctl prints it (e.g. "1-1.4"), got ${JSON.stringify(record.location)}`);
    }
    if (record.port === undefined) throw new ConfigError(`${path}.port`, 'is required (the hub port the board is plugged into)');
    const binary = record.binary ?? 'uhubctl';
    if (typeof binary !== 'string' || binary === '') throw new ConfigError(`${path}.binary`, `must be a path or a name on PATH, got ${JSON.stringify(binary)}`);
    return {
      type,
      location: record.location,
      port: integerParam(record, 'port', path, { min: 1, max: 255 }, 1),
      binary,
      delayMs: integerParam(record, 'delayMs', path, { min: 0, max: 600_000 }, 2000),
      timeoutMs: integerParam(record, 'timeoutMs', path, { min: 100, max: 600_000 }, 30_000),
    };
  }
  throw new ConfigError(`${path}.type`, `must be command or uhubctl, got ${JSON.stringify(type)}`);
}
