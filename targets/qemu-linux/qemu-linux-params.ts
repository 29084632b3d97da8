import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../../base/errors.js';
import { integerParam, paramsRecord } from '../params.js';
import { expandEnvReferences, parseSshParams, type SshParams } from '../ssh/ssh-params.js';

/**
 * `params:` of a `kind: qemu-linux` target: a Linux system the user gives as QEMU's inputs (their
 * buildroot output: kernel, initrd or root filesystem, OpenSBI), booted by the farm, reached over
 * SSH on a host-forwarded port, with an optional second console for the remote side's shell,
 * and the board's own commands to run as tests, each with the verdict lines it must print.
 * Plain data: paths are resolved against farm.yaml's folder, nothing is read.
 */
export interface QemuLinuxParams {
  readonly qemu: QemuParams;
  /** -kernel, absolute. */
  readonly kernel: string;
  /** -initrd, absolute. */
  readonly initrd: string | undefined;
  /** A root filesystem image attached as virtio-blk (snapshot: the file is never written). */
  readonly rootfs: string | undefined;
  /** -append */
  readonly append: string;
  /** Guest port sshd listens on; QEMU forwards a free 127.0.0.1 port to it. */
  readonly guestSshPort: number;
  /** host and port are the farm's (127.0.0.1, the forwarded port, known once QEMU runs). */
  readonly ssh: SshParams;
  readonly remoteConsole: RemoteConsoleParams | undefined;
  /** Boot deadline: from QEMU's start to an SSH session, ms. */
  readonly bootTimeoutMs: number;
  readonly commands: readonly BoardCommand[];
}

export interface QemuParams {
  readonly binary: string;
  readonly machine: string;
  readonly cpus: number;
  readonly memoryMiB: number;
  /** -bios: 'default' (QEMU's bundled OpenSBI on RISC-V), 'none', or a file (a patched OpenSBI), absolute. */
  readonly bios: string | undefined;
  /** The network device (virtio-net-pci; virtio-net-device on machines without PCI). */
  readonly netDevice: string;
  /** The rootfs disk's device (virtio-blk-device as buildroot's boot line has it, or virtio-blk-pci). */
  readonly blockDevice: string;
  /** Appended as given (a vendor QEMU's own devices). */
  readonly extraArgs: readonly string[];
}

export interface RemoteConsoleParams {
  /** virtconsole: a virtio console (/dev/hvc0 in the guest); serial: a second UART (machines that have one). */
  readonly device: 'virtconsole' | 'serial';
  /** The remote shell's prompt (RT-Thread's msh prints "msh />"). */
  readonly prompt: string;
}

/** One line the command must print: `pattern` found; with `equals`, every match's first group equals it. */
export interface Verdict {
  readonly pattern: string;
  readonly equals: string | undefined;
}

export interface BoardCommand {
  /** The test's title. */
  readonly name: string;
  /** Where it runs: the Linux shell over SSH, or the remote shell on the second console. */
  readonly on: 'ssh' | 'remote-console';
  /** The command line; on the remote console it may be absent: then the step only waits for its verdicts. */
  readonly run: string | undefined;
  readonly timeoutMs: number;
  /** SSH commands: the exit status expected (default 0). */
  readonly exitCode: number | undefined;
  readonly expect: readonly Verdict[];
}

const KEYS = ['qemu', 'kernel', 'initrd', 'rootfs', 'append', 'ssh', 'remoteConsole', 'bootTimeoutMs', 'commands'];
const QEMU_KEYS = ['binary', 'machine', 'cpus', 'memoryMiB', 'bios', 'netDevice', 'blockDevice', 'extraArgs'];
const SSH_KEYS = ['guestPort', 'user', 'privateKey', 'passwordEnv', 'hostKey', 'connectTimeoutMs', 'commandTimeoutMs', 'keepaliveMs'];
const COMMAND_KEYS = ['name', 'on', 'run', 'timeoutMs', 'exitCode', 'expect'];

function stringParam(record: Record<string, unknown>, key: string, path: string, what: string): string | undefined {
  const value = record[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(`${path}.${key}`, `must be ${what}, got ${JSON.stringify(value)}`);
  return value;
}

function fileParam(record: Record<string, unknown>, key: string, path: string, configDir: string | undefined): string | undefined {
  const value = stringParam(record, key, path, 'a file path');
  if (value === undefined) return undefined;
  return isAbsolute(value) || configDir === undefined ? value : resolve(configDir, value);
}

function qemuParams(raw: unknown, path: string, configDir: string | undefined): QemuParams {
  const record = paramsRecord(raw, path, QEMU_KEYS);
  if (!record) throw new ConfigError(path, 'is required: at least machine (e.g. binary: qemu-system-riscv64, machine: virt)');
  const machine = stringParam(record, 'machine', path, 'a QEMU machine name (-M), e.g. virt');
  if (machine === undefined) throw new ConfigError(`${path}.machine`, 'is required (the -M of your boot script, e.g. virt)');
  const bios = stringParam(record, 'bios', path, "'default', 'none' or a firmware file");
  const extra = record.extraArgs ?? [];
  if (!Array.isArray(extra) || !extra.every((arg) => typeof arg === 'string')) throw new ConfigError(`${path}.extraArgs`, `must be a list of QEMU arguments, got ${JSON.stringify(extra)}`);
  const netDevice = stringParam(record, 'netDevice', path, 'a QEMU network device model') ?? 'virtio-net-pci';
  if (!/^[\w-]+$/.test(netDevice)) throw new ConfigError(`${path}.netDevice`, `must be a device model name (virtio-net-pci, virtio-net-device), got ${JSON.stringify(netDevice)}`);
  const blockDevice = stringParam(record, 'blockDevice', path, 'a QEMU block device model') ?? 'virtio-blk-device';
  if (!/^[\w-]+$/.test(blockDevice)) throw new ConfigError(`${path}.blockDevice`, `must be a device model name (virtio-blk-device, virtio-blk-pci), got ${JSON.stringify(blockDevice)}`);
  return {
    binary: stringParam(record, 'binary', path, 'a QEMU executable') ?? 'qemu-system-riscv64',
    machine,
    cpus: integerParam(record, 'cpus', path, { min: 1, max: 64 }, 2),
    memoryMiB: integerParam(record, 'memoryMiB', path, { min: 16, max: 65536 }, 512),
    bios: bios === undefined || bios === 'default' || bios === 'none' || isAbsolute(bios) || configDir === undefined ? bios : resolve(configDir, bios),
    netDevice,
    blockDevice,
    extraArgs: extra as string[],
  };
}

function sshParams(raw: unknown, path: string, configDir: string | undefined): { ssh: SshParams; guestPort: number } {
  const record = paramsRecord(expandEnvReferences(raw, path), path, SSH_KEYS);
  if (!record) throw new ConfigError(path, 'is required: user, privateKey or passwordEnv, and hostKey (the guest\'s public host key)');
  if (record.hostKey === undefined) {
    throw new ConfigError(`${path}.hostKey`, "is required: the guest's public host key \"<type> <base64>\" (the forwarded port changes at every boot, so a known_hosts entry cannot name it; the farm never accepts an unknown key)");
  }
  const { guestPort: _guestPort, ...rest } = record;
  const ssh = parseSshParams({ ...rest, host: '127.0.0.1' }, path, configDir);
  return { ssh, guestPort: integerParam(record, 'guestPort', path, { min: 1, max: 65535 }, 22) };
}

function remoteConsoleParams(raw: unknown, path: string): RemoteConsoleParams | undefined {
  const record = paramsRecord(raw, path, ['device', 'prompt']);
  if (!record) return undefined;
  const device = record.device ?? 'virtconsole';
  if (device !== 'virtconsole' && device !== 'serial') throw new ConfigError(`${path}.device`, `must be virtconsole or serial, got ${JSON.stringify(device)}`);
  const prompt = stringParam(record, 'prompt', path, "the remote shell's prompt (msh />)");
  if (prompt === undefined) throw new ConfigError(`${path}.prompt`, "is required: the remote shell's prompt (RT-Thread's msh prints \"msh />\")");
  return { device, prompt };
}

function verdicts(raw: unknown, path: string): Verdict[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new ConfigError(path, `must be a list of { pattern, equals }, got ${JSON.stringify(raw)}`);
  return raw.map((item, index) => {
    const at = `${path}[${index}]`;
    const record = paramsRecord(typeof item === 'string' ? { pattern: item } : item, at, ['pattern', 'equals']);
    const pattern = record && stringParam(record, 'pattern', at, 'a regular expression');
    if (!record || pattern === undefined) throw new ConfigError(`${at}.pattern`, 'is required (a regular expression matched against each line of the output)');
    let compiled: RegExp;
    try {
      compiled = new RegExp(pattern);
    } catch (error) {
      throw new ConfigError(`${at}.pattern`, `is not a valid regular expression: ${(error as Error).message}`);
    }
    const equals = record.equals === undefined ? undefined : typeof record.equals === 'number' ? String(record.equals) : record.equals;
    if (equals !== undefined && typeof equals !== 'string') throw new ConfigError(`${at}.equals`, `must be the value the first group must have, got ${JSON.stringify(record.equals)}`);
    if (equals !== undefined && new RegExp(`${compiled.source}|`).exec('')!.length < 2) {
      throw new ConfigError(`${at}.equals`, `needs a group in the pattern to compare, e.g. "Error count = (\\d+)"`);
    }
    return { pattern, equals };
  });
}

function commands(raw: unknown, path: string, remoteConsole: RemoteConsoleParams | undefined): BoardCommand[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new ConfigError(path, `must be a list of commands ({ name, run, expect, ... }), got ${JSON.stringify(raw)}`);
  const seen = new Set<string>();
  return raw.map((item, index) => {
    const at = `${path}[${index}]`;
    const record = paramsRecord(item, at, COMMAND_KEYS);
    if (!record) throw new ConfigError(at, 'must be a mapping');
    const name = stringParam(record, 'name', at, 'the test title');
    if (name === undefined) throw new ConfigError(`${at}.name`, 'is required (the title of the test this command is)');
    if (seen.has(name)) throw new ConfigError(`${at}.name`, `duplicate command name ${JSON.stringify(name)}`);
    seen.add(name);
    const on = record.on ?? 'ssh';
    if (on !== 'ssh' && on !== 'remote-console') throw new ConfigError(`${at}.on`, `must be ssh or remote-console, got ${JSON.stringify(on)}`);
    if (on === 'remote-console' && !remoteConsole) throw new ConfigError(`${at}.on`, 'is remote-console, but the target has no remoteConsole');
    const run = stringParam(record, 'run', at, 'a command line');
    if (run !== undefined && /[\r\n]/.test(run)) throw new ConfigError(`${at}.run`, 'must be one line');
    if (run === undefined && on === 'ssh') throw new ConfigError(`${at}.run`, 'is required for an ssh command');
    const expect = verdicts(record.expect, `${at}.expect`);
    if (run === undefined && expect.length === 0) throw new ConfigError(`${at}.expect`, 'is required when the step runs nothing (it waits for these lines)');
    if (on === 'remote-console' && record.exitCode !== undefined) throw new ConfigError(`${at}.exitCode`, 'is for ssh commands: a console command has no exit status; expect its lines');
    return {
      name,
      on,
      run,
      timeoutMs: integerParam(record, 'timeoutMs', at, { min: 100, max: 3_600_000 }, 60_000),
      exitCode: on === 'ssh' ? integerParam(record, 'exitCode', at, { min: 0, max: 255 }, 0) : undefined,
      expect,
    };
  });
}

/** `configDir` resolves relative paths (farm.yaml's folder); without it they stay relative. */
export function parseQemuLinuxParams(raw: unknown, path: string, configDir?: string): QemuLinuxParams {
  const record = paramsRecord(raw, path, KEYS);
  if (!record) throw new ConfigError(path, 'is required: qemu, kernel, initrd or rootfs, ssh');
  // Paths may come from the environment (a build's output folder).
  const files = expandEnvReferences({ kernel: record.kernel, initrd: record.initrd, rootfs: record.rootfs }, path) as Record<string, unknown>;
  const kernel = fileParam(files, 'kernel', path, configDir);
  if (kernel === undefined) throw new ConfigError(`${path}.kernel`, 'is required (the -kernel of your boot script: buildroot\'s output/images/Image)');
  const initrd = fileParam(files, 'initrd', path, configDir);
  const rootfs = fileParam(files, 'rootfs', path, configDir);
  if (initrd === undefined && rootfs === undefined) throw new ConfigError(`${path}.initrd`, 'or rootfs is required (buildroot\'s rootfs.cpio.gz, or rootfs.ext2 as a virtio disk)');
  const remoteConsole = remoteConsoleParams(record.remoteConsole, `${path}.remoteConsole`);
  const { ssh, guestPort } = sshParams(record.ssh, `${path}.ssh`, configDir);
  return {
    qemu: qemuParams(record.qemu, `${path}.qemu`, configDir),
    kernel,
    initrd,
    rootfs,
    append: stringParam(record, 'append', path, 'the kernel command line') ?? 'console=ttyS0',
    guestSshPort: guestPort,
    ssh,
    remoteConsole,
    bootTimeoutMs: integerParam(record, 'bootTimeoutMs', path, { min: 1000, max: 3_600_000 }, 180_000),
    commands: commands(record.commands, `${path}.commands`, remoteConsole),
  };
}
