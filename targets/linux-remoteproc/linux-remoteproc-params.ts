import { ConfigError } from '../../base/errors.js';
import type { FirmwareMachine } from '../../firmware/build.js';
import { TOOL_ABIS, type ToolAbi } from '../../firmware/tools.js';
import { parseFlasherParams, type FlasherParams } from '../flasher/flasher-params.js';
import { integerParam, paramsRecord } from '../params.js';
import { parsePowerParams, type PowerParams } from '../power/power-params.js';
import { expandEnvReferences, parseSshParams, type SshParams } from '../ssh/ssh-params.js';
import { parseContainerSshParams, parseLinuxContainerParams, type LinuxContainerParams } from './container-params.js';

/**
 * `params:` of a `kind: linux-remoteproc` target: a board whose application cores run Linux and
 * drive the remote core through remoteproc / rpmsg_char. A preset fills in the board's facts.
 */
export interface LinuxRemoteprocParams {
  readonly preset: string | undefined;
  /** The board's network shell; absent on serial-only boards (console + helperLine). */
  readonly ssh: SshParams | undefined;
  /** Serial-only boards: the second line the rpmsg helper talks on (the console carries the shell). */
  readonly helperLine: HelperLineParams | undefined;
  /**
   * Whose reference firmware (firmware/build/<machine>/) runs when farm.yaml names no image for
   * a suite: the core the board's double emulates (its memory map is QEMU's, not the board's).
   */
  readonly referenceMachine: FirmwareMachine;
  /** The remoteproc instance's `name` in sysfs (the MP157's M4 is "m4"). */
  readonly remoteproc: string;
  readonly firmwareDir: string;
  /** The ABI of the board's userland, for the rpmsg helper. */
  readonly helperAbi: ToolAbi;
  /** Where the helper is cached on the board (by its hash); /var/tmp survives reboots. */
  readonly helperDir: string;
  readonly rpmsgCtrl: string;
  /** What the board must report before any test runs. */
  readonly identity: { readonly machineId?: string; readonly serialNumber?: string };
  /** The board's serial console: always captured; `LinuxBoard.serialShell()` logs in on it. */
  readonly console: ConsoleParams | undefined;
  readonly power: PowerParams | undefined;
  readonly flasher: FlasherParams | undefined;
  /** Remoteproc start / stop deadline, ms. */
  readonly startTimeoutMs: number;
  /** How long the board may take to answer SSH after power on, ms. */
  readonly bootTimeoutMs: number;
  /** Period of the state / channel / kernel-log poll while the remote runs, ms (default 50; 250 on serial-only boards). */
  readonly pollMs: number;
  /** A stall probe unanswered this long (through SSH and the helper) means the remote hangs, ms. */
  readonly stallTimeoutMs: number;
  /** The board is a Linux system in a container image (container-params.ts); ssh then connects where the farm publishes it. */
  readonly container: LinuxContainerParams | undefined;
  /**
   * The kernel can announce a channel of the host's (RPMSG_CREATE_DEV_IOCTL, rpmsg_tty bound to
   * it, the peer learned from the remote's first message): kernels >= 5.18 with that behaviour.
   * false on older kernels: the multi-endpoint suite then skips its host-announced test.
   */
  readonly hostAnnouncedChannels: boolean;
}

export interface HelperLineParams {
  /** The farm's end: the USB-serial adapter wired to the board's second UART. */
  readonly path: string;
  readonly baudRate: number;
  /** The board's end: its device for that UART (/dev/ttySTM2 for the DK2's UART7). */
  readonly boardDevice: string;
}

function helperLineParam(raw: unknown, path: string): HelperLineParams | undefined {
  const record = paramsRecord(raw, path, ['path', 'baudRate', 'boardDevice']);
  if (!record) return undefined;
  if (typeof record.path !== 'string' || !record.path.startsWith('/')) throw new ConfigError(`${path}.path`, `must be the farm's serial device for the line (e.g. /dev/serial/by-id/usb-FTDI_...), got ${JSON.stringify(record.path)}`);
  if (typeof record.boardDevice !== 'string' || !/^\/dev\/[\w./-]+$/.test(record.boardDevice)) {
    throw new ConfigError(`${path}.boardDevice`, `must be the board's device for the line (e.g. /dev/ttySTM2), got ${JSON.stringify(record.boardDevice)}`);
  }
  return { path: record.path, baudRate: integerParam(record, 'baudRate', path, { min: 1200, max: 4_000_000 }, 115_200), boardDevice: record.boardDevice };
}

export interface ConsoleParams {
  /** The UART device (/dev/ttyACM0 is the DK2's ST-LINK virtual COM port; /dev/serial/by-id/... is stabler). */
  readonly path: string;
  readonly baudRate: number;
  readonly user: string;
  /** Environment variable holding the console password (never the password itself). */
  readonly passwordEnv?: string;
  readonly loginTimeoutMs: number;
  /**
   * Serial-only boards: keep the kernel's messages off the console while the farm's shell uses it
   * (`dmesg -n 1`, the level restored at logout), since a kernel line printed in the middle of a
   * command's output would become part of it. The farm reads the kernel log with `dmesg` anyway.
   */
  readonly quietKernel: boolean;
}

function consoleParam(raw: unknown, path: string): ConsoleParams | undefined {
  const record = paramsRecord(raw, path, ['path', 'baudRate', 'user', 'passwordEnv', 'loginTimeoutMs', 'quietKernel']);
  if (!record) return undefined;
  if (typeof record.path !== 'string' || !record.path.startsWith('/')) throw new ConfigError(`${path}.path`, `must be the console's device path (e.g. /dev/ttyACM0), got ${JSON.stringify(record.path)}`);
  const user = record.user ?? 'root';
  if (typeof user !== 'string' || !/^[a-z_][a-z0-9_.-]*$/i.test(user)) throw new ConfigError(`${path}.user`, `must be a user name, got ${JSON.stringify(user)}`);
  const passwordEnv = record.passwordEnv;
  if (passwordEnv !== undefined && (typeof passwordEnv !== 'string' || !/^[A-Z_][A-Z0-9_]*$/.test(passwordEnv))) {
    throw new ConfigError(`${path}.passwordEnv`, `must name an environment variable, got ${JSON.stringify(passwordEnv)}`);
  }
  return {
    path: record.path,
    baudRate: integerParam(record, 'baudRate', path, { min: 1200, max: 4_000_000 }, 115_200),
    user,
    ...(passwordEnv !== undefined ? { passwordEnv } : {}),
    loginTimeoutMs: integerParam(record, 'loginTimeoutMs', path, { min: 500, max: 600_000 }, 15_000),
    quietKernel: booleanParam(record, 'quietKernel', path, true),
  };
}

export interface BoardPreset {
  readonly description: string;
  readonly remoteproc: string;
  readonly helperAbi: ToolAbi;
  readonly firmwareDir: string;
  readonly rpmsgCtrl: string;
  /** The emulated core of this board's double, whose reference firmware is the default image. */
  readonly referenceMachine: FirmwareMachine;
}

export const PRESETS: Readonly<Record<string, BoardPreset>> = {
  'stm32mp157c-dk2': {
    description: 'ST STM32MP157C-DK2: Linux on the Cortex-A7 pair (armhf), the Cortex-M4 as remoteproc "m4"',
    remoteproc: 'm4',
    helperAbi: 'armhf',
    firmwareDir: '/lib/firmware',
    rpmsgCtrl: '/dev/rpmsg_ctrl0',
    referenceMachine: 'cortex-m4',
  },
  'zynqmp-petalinux': {
    description: 'AMD/Xilinx Zynq UltraScale+ MPSoC (ZCU102, ...) with PetaLinux: Linux on the Cortex-A53s (aarch64), RPU core 0 (Cortex-R5F) as remoteproc "r5_0"',
    remoteproc: 'r5_0',
    helperAbi: 'aarch64',
    firmwareDir: '/lib/firmware',
    rpmsgCtrl: '/dev/rpmsg_ctrl0',
    referenceMachine: 'zynqmp-r5',
  },
};

const KEYS = ['preset', 'ssh', 'console', 'helperLine', 'remoteproc', 'firmwareDir', 'helperAbi', 'helperDir', 'rpmsgCtrl', 'identity', 'power', 'flasher', 'startTimeoutMs', 'bootTimeoutMs', 'pollMs', 'stallTimeoutMs', 'hostAnnouncedChannels', 'container'];

function absolutePath(record: Record<string, unknown>, key: string, path: string, fallback: string): string {
  const value = record[key] ?? fallback;
  if (typeof value !== 'string' || !/^\/[\w./-]*$/.test(value)) throw new ConfigError(`${path}.${key}`, `must be an absolute path on the board, got ${JSON.stringify(value)}`);
  return value;
}

function booleanParam(record: Record<string, unknown>, key: string, path: string, fallback: boolean): boolean {
  const value = record[key] ?? fallback;
  if (typeof value !== 'boolean') throw new ConfigError(`${path}.${key}`, `must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

function identityParam(raw: unknown, path: string): LinuxRemoteprocParams['identity'] {
  const record = paramsRecord(raw, path, ['machineId', 'serialNumber']);
  if (!record) return {};
  const out: { machineId?: string; serialNumber?: string } = {};
  for (const key of ['machineId', 'serialNumber'] as const) {
    const value = record[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !/^[A-Za-z0-9]{4,64}$/.test(value)) throw new ConfigError(`${path}.${key}`, `must be letters and digits as the board reports it, got ${JSON.stringify(value)}`);
    out[key] = value;
  }
  return out;
}

export function parseLinuxRemoteprocParams(raw: unknown, path: string): LinuxRemoteprocParams {
  const record = paramsRecord(raw, path, KEYS);
  if (!record) throw new ConfigError(path, 'is required: at least ssh, or console and helperLine (and preset or remoteproc)');
  const presetName = record.preset;
  if (presetName !== undefined && (typeof presetName !== 'string' || !PRESETS[presetName])) {
    throw new ConfigError(`${path}.preset`, `unknown preset ${JSON.stringify(presetName)} (known: ${Object.keys(PRESETS).join(', ')})`);
  }
  const preset = presetName === undefined ? undefined : PRESETS[presetName];
  const remoteproc = record.remoteproc ?? preset?.remoteproc;
  if (typeof remoteproc !== 'string' || !/^[\w.-]{1,64}$/.test(remoteproc)) {
    throw new ConfigError(`${path}.remoteproc`, `must be the remoteproc instance's name (cat /sys/class/remoteproc/remoteprocN/name), got ${JSON.stringify(remoteproc)}`);
  }
  const helperAbi = record.helperAbi ?? preset?.helperAbi ?? 'armhf';
  if (!(TOOL_ABIS as readonly unknown[]).includes(helperAbi)) throw new ConfigError(`${path}.helperAbi`, `must be one of ${TOOL_ABIS.join(', ')}, got ${JSON.stringify(helperAbi)}`);
  const console = consoleParam(expandEnvReferences(record.console, `${path}.console`), `${path}.console`);
  const helperLine = helperLineParam(expandEnvReferences(record.helperLine, `${path}.helperLine`), `${path}.helperLine`);
  if (record.ssh === undefined && record.container === undefined && (!console || !helperLine)) {
    throw new ConfigError(`${path}.ssh`, 'is required unless the board is serial-only: then console (the shell) and helperLine (the rpmsg helper\'s own UART) are');
  }
  if (record.ssh !== undefined && helperLine) throw new ConfigError(`${path}.helperLine`, 'is for serial-only boards: with ssh the helper talks over its SSH channel');
  if (record.container !== undefined && helperLine) throw new ConfigError(`${path}.helperLine`, 'is for serial-only boards: a board in a container is reached over its published SSH port');
  const ssh = record.container !== undefined
    ? parseContainerSshParams(record.ssh, `${path}.ssh`)
    : record.ssh === undefined ? undefined : parseSshParams(expandEnvReferences(record.ssh, `${path}.ssh`), `${path}.ssh`);
  return {
    preset: presetName as string | undefined,
    referenceMachine: preset?.referenceMachine ?? 'cortex-m4',
    ssh,
    container: record.container === undefined || ssh === undefined ? undefined : parseLinuxContainerParams(record.container, `${path}.container`, ssh.user),
    helperLine,
    remoteproc,
    firmwareDir: absolutePath(record, 'firmwareDir', path, preset?.firmwareDir ?? '/lib/firmware'),
    helperAbi: helperAbi as ToolAbi,
    helperDir: absolutePath(record, 'helperDir', path, '/var/tmp/farm'),
    rpmsgCtrl: absolutePath(record, 'rpmsgCtrl', path, preset?.rpmsgCtrl ?? '/dev/rpmsg_ctrl0'),
    identity: identityParam(record.identity, `${path}.identity`),
    console,
    power: record.power === undefined ? undefined : parsePowerParams(record.power, `${path}.power`),
    flasher: record.flasher === undefined ? undefined : parseFlasherParams(record.flasher, `${path}.flasher`),
    startTimeoutMs: integerParam(record, 'startTimeoutMs', path, { min: 500, max: 600_000 }, 20_000),
    bootTimeoutMs: integerParam(record, 'bootTimeoutMs', path, { min: 1000, max: 1_800_000 }, 60_000),
    // Each poll is a command through the shell: on a serial console (115200 baud: ~11 KB/s) one
    // every 50 ms would take half the line, so serial-only boards poll less often.
    pollMs: integerParam(record, 'pollMs', path, { min: 5, max: 10_000 }, helperLine ? 250 : 50),
    stallTimeoutMs: integerParam(record, 'stallTimeoutMs', path, { min: 100, max: 600_000 }, 3000),
    hostAnnouncedChannels: booleanParam(record, 'hostAnnouncedChannels', path, true),
  };
}
