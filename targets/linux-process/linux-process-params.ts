import { ConfigError } from '../../base/errors.js';
import { integerParam, paramsRecord } from '../params.js';
import { SUITE_NAMES, type SuiteName } from '../target.js';

/**
 * `params:` of a `kind: linux-process` target in farm.yaml. Every field is optional.
 *
 * The remote of each suite is a command line (`commands.<suite>`: executable, then arguments);
 * suites without one run the project's reference firmware built for linux-process. Arguments
 * may name the run's shared-memory file and event socket through placeholders, which is how
 * parallel runs get names of their own:
 *   {shm}      the POSIX shm name (shm_open's argument), e.g. farm-linux-process-123-ab12cd34.shm
 *   {shmPath}  the same file as a path under /dev/shm
 *   {socket}   the path of the event socket
 * A remote that cannot be told its names (open-amp's own demos use openamp.shm and
 * /tmp/openamp.event.0) needs `shmPath` and `socketPath` set to those names explicitly; two
 * runs of such a target then must not overlap.
 */
export interface LinuxProcessParams {
  /** Remote command line per suite; relative executables with a '/' are relative to farm.yaml. */
  readonly commands: Readonly<Partial<Record<SuiteName, readonly string[]>>>;
  /** Fixed shm file (/dev/shm/<name>); unique per start when omitted. */
  readonly shmPath: string | undefined;
  /** Fixed event socket path; unique per start when omitted. */
  readonly socketPath: string | undefined;
  /** How long the remote may take to create its shm and serve its socket, in ms. */
  readonly startTimeoutMs: number;
  /** How long a stall probe waits before a silent remote counts as hung, in ms. */
  readonly stallTimeoutMs: number;
  /** SIGTERM -> SIGKILL grace when stopping the remote, in ms. */
  readonly stopGraceMs: number;
  /** How long the host spins on its rings after each send before it waits for the kick, in µs (0: never). */
  readonly hostSpinMicros: number;
}

export const LINUX_PROCESS_PARAM_DEFAULTS: LinuxProcessParams = {
  commands: {},
  shmPath: undefined,
  socketPath: undefined,
  startTimeoutMs: 10_000,
  stallTimeoutMs: 1000,
  stopGraceMs: 1000,
  hostSpinMicros: 50,
};

export const PLACEHOLDERS = { shm: '{shm}', shmPath: '{shmPath}', socket: '{socket}' } as const;

/** sun_path is 108 bytes including the NUL. */
const MAX_SOCKET_PATH = 107;
const SHM_DIR = '/dev/shm/';
const KEYS = Object.keys(LINUX_PROCESS_PARAM_DEFAULTS);

function shmPathParam(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !value.startsWith(SHM_DIR) || value.length === SHM_DIR.length || value.slice(SHM_DIR.length).includes('/')) {
    throw new ConfigError(path, `must be a file directly under /dev/shm (a POSIX shm name), e.g. /dev/shm/openamp.shm; got ${JSON.stringify(value)}`);
  }
  return value;
}

function socketPathParam(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !value.startsWith('/') || value.length > MAX_SOCKET_PATH) {
    throw new ConfigError(path, `must be an absolute path of at most ${MAX_SOCKET_PATH} bytes, e.g. /tmp/openamp.event.0; got ${JSON.stringify(value)}`);
  }
  return value;
}

function commandsParam(value: unknown, path: string, fixed: { shm: boolean; socket: boolean }): Partial<Record<SuiteName, string[]>> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(path, `must map suites to command lines, got ${JSON.stringify(value)}`);
  const commands: Partial<Record<SuiteName, string[]>> = {};
  for (const [suite, command] of Object.entries(value as Record<string, unknown>)) {
    const at = `${path}.${suite}`;
    if (!(SUITE_NAMES as readonly string[]).includes(suite)) throw new ConfigError(at, `unknown suite (known: ${SUITE_NAMES.join(', ')})`);
    if (!Array.isArray(command) || command.length === 0 || !command.every((arg) => typeof arg === 'string') || command[0] === '') {
      throw new ConfigError(at, `must be a non-empty list of strings (the executable, then its arguments), got ${JSON.stringify(command)}`);
    }
    const args = command.slice(1) as string[];
    const names = (placeholders: readonly string[]): boolean => args.some((arg) => placeholders.some((p) => arg.includes(p)));
    if (!fixed.shm && !names([PLACEHOLDERS.shm, PLACEHOLDERS.shmPath])) {
      throw new ConfigError(
        at,
        `passes no {shm} / {shmPath} to the remote, so it would use its built-in shm name: add the placeholder to its arguments, ` +
          `or set params.shmPath to the name it uses (open-amp's demos: /dev/shm/openamp.shm)`,
      );
    }
    if (!fixed.socket && !names([PLACEHOLDERS.socket])) {
      throw new ConfigError(
        at,
        `passes no {socket} to the remote, so it would use its built-in socket: add the placeholder to its arguments, ` +
          `or set params.socketPath to the path it uses (open-amp's demos: /tmp/openamp.event.0)`,
      );
    }
    commands[suite as SuiteName] = command as string[];
  }
  return commands;
}

export function parseLinuxProcessParams(raw: unknown, path: string): LinuxProcessParams {
  const record = paramsRecord(raw, path, KEYS);
  if (!record) return { ...LINUX_PROCESS_PARAM_DEFAULTS };
  const shmPath = shmPathParam(record.shmPath, `${path}.shmPath`);
  const socketPath = socketPathParam(record.socketPath, `${path}.socketPath`);
  const defaults = LINUX_PROCESS_PARAM_DEFAULTS;
  return {
    commands: commandsParam(record.commands, `${path}.commands`, { shm: shmPath !== undefined, socket: socketPath !== undefined }),
    shmPath,
    socketPath,
    startTimeoutMs: integerParam(record, 'startTimeoutMs', path, { min: 100, max: 120_000 }, defaults.startTimeoutMs),
    stallTimeoutMs: integerParam(record, 'stallTimeoutMs', path, { min: 100, max: 60_000 }, defaults.stallTimeoutMs),
    stopGraceMs: integerParam(record, 'stopGraceMs', path, { min: 0, max: 60_000 }, defaults.stopGraceMs),
    hostSpinMicros: integerParam(record, 'hostSpinMicros', path, { min: 0, max: 10_000 }, defaults.hostSpinMicros),
  };
}

/** The command with the run's names substituted. */
export function substitutePlaceholders(command: readonly string[], names: { shmPath: string; socketPath: string }): string[] {
  const shm = names.shmPath.slice(SHM_DIR.length);
  return command.map((arg) => arg.split(PLACEHOLDERS.shmPath).join(names.shmPath).split(PLACEHOLDERS.shm).join(shm).split(PLACEHOLDERS.socket).join(names.socketPath));
}
