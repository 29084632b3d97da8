import { ConfigError } from '../../base/errors.js';
import { integerParam, paramsRecord } from '../params.js';

/**
 * The `flasher:` block of a board target in farm.yaml: plain data, no I/O. Every tool is told
 * the probe's serial number, so the farm never writes to a board other than the one named.
 *
 *   flasher: { tool: stm32cubeprogrammer, probeSerial: 066DFF...,  port: SWD }
 *   flasher: { tool: openocd, probeSerial: 066DFF..., interface: interface/stlink.cfg, target: target/stm32mp15x.cfg }
 *   flasher: { tool: dfu-util, probeSerial: 0041003B..., alt: 0 }
 */
export type FlasherParams = StmProgrammerParams | OpenOcdParams | DfuUtilParams;

interface CommonFlasherParams {
  readonly probeSerial: string;
  /** The tool's binary (default: its usual name on PATH). */
  readonly binary: string;
  readonly timeoutMs: number;
}

export interface StmProgrammerParams extends CommonFlasherParams {
  readonly tool: 'stm32cubeprogrammer';
  /** STM32_Programmer_CLI's connection port: SWD, JTAG, or usb1 (DFU). */
  readonly port: string;
}

export interface OpenOcdParams extends CommonFlasherParams {
  readonly tool: 'openocd';
  /** The interface script, e.g. interface/stlink.cfg. */
  readonly interface: string;
  /** The target script, e.g. target/stm32mp15x.cfg. */
  readonly target: string;
}

export interface DfuUtilParams extends CommonFlasherParams {
  readonly tool: 'dfu-util';
  /** The DFU alternate setting (-a). */
  readonly alt: number;
}

export const FLASHER_TOOLS = ['stm32cubeprogrammer', 'openocd', 'dfu-util'] as const;
const DEFAULT_BINARY = { stm32cubeprogrammer: 'STM32_Programmer_CLI', openocd: 'openocd', 'dfu-util': 'dfu-util' } as const;
const COMMON_KEYS = ['tool', 'probeSerial', 'binary', 'timeoutMs'];

function stringParam(record: Record<string, unknown>, key: string, path: string, pattern: RegExp, what: string, fallback?: string): string {
  const value = record[key] ?? fallback;
  if (value === undefined) throw new ConfigError(`${path}.${key}`, `is required (${what})`);
  if (typeof value !== 'string' || !pattern.test(value)) throw new ConfigError(`${path}.${key}`, `must be ${what}, got ${JSON.stringify(value)}`);
  return value;
}

export function parseFlasherParams(raw: unknown, path: string): FlasherParams {
  const tool = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>).tool : undefined;
  if (!(FLASHER_TOOLS as readonly unknown[]).includes(tool)) throw new ConfigError(`${path}.tool`, `must be one of ${FLASHER_TOOLS.join(', ')}, got ${JSON.stringify(tool)}`);
  const known = tool === 'stm32cubeprogrammer' ? ['port'] : tool === 'openocd' ? ['interface', 'target'] : ['alt'];
  const record = paramsRecord(raw, path, [...COMMON_KEYS, ...known]) as Record<string, unknown>;
  const common = {
    // Letters and digits only: the serial lands in tool arguments (openocd's is inside a Tcl command).
    probeSerial: stringParam(record, 'probeSerial', path, /^[A-Za-z0-9]{1,64}$/, "the probe's serial number (letters and digits, as the tool lists it)"),
    binary: stringParam(record, 'binary', path, /^\S+$/, 'a path or a name on PATH', DEFAULT_BINARY[tool as keyof typeof DEFAULT_BINARY]),
    timeoutMs: integerParam(record, 'timeoutMs', path, { min: 1000, max: 3_600_000 }, 300_000),
  };
  if (tool === 'stm32cubeprogrammer') return { tool, ...common, port: stringParam(record, 'port', path, /^(SWD|JTAG|usb\d+)$/, 'SWD, JTAG or usbN', 'SWD') };
  if (tool === 'openocd') {
    return {
      tool,
      ...common,
      interface: stringParam(record, 'interface', path, /^[\w./-]+\.cfg$/, 'an openocd interface script (e.g. interface/stlink.cfg)', 'interface/stlink.cfg'),
      target: stringParam(record, 'target', path, /^[\w./-]+\.cfg$/, 'an openocd target script (e.g. target/stm32mp15x.cfg)'),
    };
  }
  return { tool: 'dfu-util', ...common, alt: integerParam(record, 'alt', path, { min: 0, max: 255 }, 0) };
}
