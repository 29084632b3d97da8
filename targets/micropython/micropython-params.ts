import { ConfigError } from '../../base/errors.js';
import type { FaultKind } from '../target.js';
import { parseFlasherParams, type FlasherParams } from '../flasher/flasher-params.js';
import { integerParam, paramsRecord } from '../params.js';
import { parsePowerParams, type PowerParams } from '../power/power-params.js';

/** Boards the kind knows: where their M4 image lives and how MicroPython names its filesystem. */
export const MICROPYTHON_PRESETS = {
  /**
   * STM32H747 (Arduino GIGA R1, Portenta H7, STM32H747I-DISCO): MicroPython on the M7, the
   * remote on the M4, whose image is flashed to bank 2 and started by address (the stm32 port
   * cannot load an image to flash); RemoteProc.stop() resets the whole chip.
   */
  stm32h747: { firmwareLoad: 'entry', entry: 0x0810_0000, boardDir: '/flash' },
} as const;
export type MicroPythonPreset = keyof typeof MICROPYTHON_PRESETS;

/** `params:` of a micropython-openamp target. */
export interface MicroPythonParams {
  readonly preset: MicroPythonPreset;
  /** The board's USB serial port, by its stable path (relative paths: from farm.yaml's directory). */
  readonly port: string;
  readonly baudRate: number;
  /** 'entry': the image is flashed beforehand (flasher) and started with RemoteProc(entry); 'file': copied to the board's filesystem and loaded with RemoteProc(path). */
  readonly firmwareLoad: 'file' | 'entry';
  readonly entry: number;
  /** Directory on the board for the agent and images. */
  readonly boardDir: string;
  /** Use raw-paste when the board supports it. */
  readonly rawPaste: boolean;
  readonly execTimeoutMs: number;
  /** How long a board reset may take until its port is back and answers. */
  readonly resetTimeoutMs: number;
  /** Fault words the M4 firmware obeys (the farm's reference firmware: crash, hang); default none. */
  readonly faults: readonly FaultKind[];
  /** How long an unanswered ping may take before the remote counts as stalled (crash/hang detection). */
  readonly stallTimeoutMs: number;
  /** Optional: switches the board's supply (recovers a board that no longer answers). */
  readonly power?: PowerParams;
  /** Optional: writes the M4 image before each start whose image changed (firmwareLoad 'entry'). */
  readonly flasher?: FlasherParams;
}

const KEYS = ['faults', 'stallTimeoutMs', 'preset', 'port', 'baudRate', 'firmwareLoad', 'entry', 'boardDir', 'rawPaste', 'execTimeoutMs', 'resetTimeoutMs', 'power', 'flasher'];

export function parseMicroPythonParams(raw: unknown, path: string): MicroPythonParams {
  const record = paramsRecord(raw, path, KEYS);
  if (!record) throw new ConfigError(path, 'needs at least port: the board\'s serial port (e.g. /dev/serial/by-id/usb-Arduino_Portenta_H7_...-if00)');
  const preset = record.preset ?? 'stm32h747';
  if (typeof preset !== 'string' || !(preset in MICROPYTHON_PRESETS)) {
    throw new ConfigError(`${path}.preset`, `must be one of ${Object.keys(MICROPYTHON_PRESETS).join(', ')}, got ${JSON.stringify(preset)}`);
  }
  const defaults = MICROPYTHON_PRESETS[preset as MicroPythonPreset];
  const port = record.port;
  if (typeof port !== 'string' || port === '') throw new ConfigError(`${path}.port`, `must be the board's serial port path, got ${JSON.stringify(port)}`);
  const firmwareLoad = record.firmwareLoad ?? defaults.firmwareLoad;
  if (firmwareLoad !== 'file' && firmwareLoad !== 'entry') throw new ConfigError(`${path}.firmwareLoad`, `must be file or entry, got ${JSON.stringify(firmwareLoad)}`);
  const boardDir = record.boardDir ?? defaults.boardDir;
  if (typeof boardDir !== 'string' || !/^\/[\w./-]*$/.test(boardDir)) throw new ConfigError(`${path}.boardDir`, `must be an absolute path on the board, got ${JSON.stringify(boardDir)}`);
  const rawPaste = record.rawPaste ?? true;
  if (typeof rawPaste !== 'boolean') throw new ConfigError(`${path}.rawPaste`, `must be true or false, got ${JSON.stringify(rawPaste)}`);
  const faults = record.faults ?? [];
  if (!Array.isArray(faults) || faults.some((fault) => fault !== 'crash' && fault !== 'hang')) {
    throw new ConfigError(`${path}.faults`, `must be a list of crash, hang (the fault words the M4 firmware obeys), got ${JSON.stringify(faults)}`);
  }
  return {
    faults: [...new Set(faults as FaultKind[])],
    stallTimeoutMs: integerParam(record, 'stallTimeoutMs', path, { min: 100, max: 60_000 }, 1000),
    preset: preset as MicroPythonPreset,
    port,
    baudRate: integerParam(record, 'baudRate', path, { min: 1200, max: 12_000_000 }, 115_200),
    firmwareLoad,
    entry: integerParam(record, 'entry', path, { min: 0, max: 0xffff_ffff }, defaults.entry),
    boardDir: boardDir.replace(/\/+$/, '') || '/',
    rawPaste,
    execTimeoutMs: integerParam(record, 'execTimeoutMs', path, { min: 100, max: 600_000 }, 10_000),
    resetTimeoutMs: integerParam(record, 'resetTimeoutMs', path, { min: 500, max: 600_000 }, 15_000),
    ...(record.power === undefined ? {} : { power: parsePowerParams(record.power, `${path}.power`) }),
    ...(record.flasher === undefined ? {} : { flasher: parseFlasherParams(record.flasher, `${path}.flasher`) }),
  };
}
