import { ConfigError } from '../../base/errors.js';
import { integerParam, paramsRecord } from '../params.js';
import { expandEnvReferences, parseSshParams, type SshParams } from '../ssh/ssh-params.js';

/**
 * `params.container` of a `linux-remoteproc` target: the board is a Linux system that lives in
 * a container image (a vendor's demo image such as openamp/demo-lite, or the project's
 * board-double recipe). The farm starts the image with its own command, reaches its sshd
 * through a port published on 127.0.0.1, and from there drives remoteproc exactly as on a board.
 */
export interface LinuxContainerParams {
  /** A recipe name (farm images list) or an image on the local engine. */
  readonly image: string;
  /** Replaces the image's CMD (its ENTRYPOINT kept), as `docker run IMAGE COMMAND...`; default: the image's own. */
  readonly command: readonly string[] | undefined;
  /** The port sshd listens on inside the container; the engine publishes it on 127.0.0.1 on a port it picks. */
  readonly sshPort: number;
  /** The public host key file inside the container, read at each start unless ssh.hostKey pins the key. */
  readonly hostKeyFile: string;
  /**
   * Where the farm writes the public half of a key pair it makes for each start (before the
   * container starts), when ssh gives neither privateKey nor passwordEnv.
   */
  readonly authorizedKeysFile: string;
  /** Bind mounts; a relative host path is relative to farm.yaml's directory. */
  readonly binds: readonly { readonly host: string; readonly container: string; readonly readOnly: boolean }[];
  /** Host devices passed in (/dev/fuse). */
  readonly devices: readonly string[];
  /** Capabilities added (SYS_ADMIN: mounts inside). */
  readonly capAdd: readonly string[];
  /** As `docker run --security-opt` (apparmor=unconfined on a host whose AppArmor profile forbids mounts). */
  readonly securityOpt: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** The container's /dev/shm size, bytes (the engine's default is 64 MiB). */
  readonly shmSizeBytes: number;
}

const KEYS = ['image', 'command', 'sshPort', 'hostKeyFile', 'authorizedKeysFile', 'binds', 'devices', 'capAdd', 'securityOpt', 'env', 'shmSize'];
/** What a container board's ssh: may hold: the farm decides where it connects (127.0.0.1, the published port). */
const SSH_FIXED_BY_FARM = ['host', 'port', 'knownHosts'];

function mapping(raw: unknown, path: string): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(path, `must be a mapping, got ${JSON.stringify(raw)}`);
  return raw as Record<string, unknown>;
}

function stringList(value: unknown, path: string, pattern: RegExp, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ConfigError(path, `must be a list of ${what}, got ${JSON.stringify(value)}`);
  return value.map((item, index) => {
    if (typeof item !== 'string' || !pattern.test(item)) throw new ConfigError(`${path}[${index}]`, `must be ${what}, got ${JSON.stringify(item)}`);
    return item;
  });
}

function absoluteInContainer(record: Record<string, unknown>, key: string, path: string, fallback: string): string {
  const value = record[key] ?? fallback;
  if (typeof value !== 'string' || !/^\/[\w./@+-]*$/.test(value) || value.split('/').includes('..')) {
    throw new ConfigError(`${path}.${key}`, `must be an absolute path inside the container, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function parseLinuxContainerParams(raw: unknown, path: string, sshUser: string): LinuxContainerParams {
  const record = typeof raw === 'string' ? { image: raw } : paramsRecord(expandEnvReferences(raw, path), path, KEYS);
  if (!record) throw new ConfigError(path, 'must name the image: container: <recipe or image>, or container: { image: ... }');
  const image = record.image;
  if (typeof image !== 'string' || !/^[a-z0-9][\w./:@-]*$/i.test(image)) throw new ConfigError(`${path}.image`, `must be a recipe name (farm images list) or a local image (name:tag), got ${JSON.stringify(image)}`);
  const binds = stringList(record.binds, `${path}.binds`, /^[^:]+:\/[^:]*(:ro|:rw)?$/, 'a bind "HOST:CONTAINER[:ro]" (CONTAINER absolute)').map((bind) => {
    const [host, container, mode] = bind.split(':') as [string, string, string | undefined];
    return { host, container, readOnly: mode === 'ro' };
  });
  const env: Record<string, string> = {};
  if (record.env !== undefined) {
    for (const [key, value] of Object.entries(mapping(record.env, `${path}.env`))) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) || typeof value !== 'string') throw new ConfigError(`${path}.env.${key}`, `must be NAME: string, got ${JSON.stringify(value)}`);
      env[key] = value;
    }
  }
  let command: string[] | undefined;
  if (record.command !== undefined) {
    command = stringList(record.command, `${path}.command`, /^.+$/s, 'a non-empty string');
    if (command.length === 0) throw new ConfigError(`${path}.command`, 'must be [executable, args...] (leave it out for the image\'s own command)');
  }
  const home = sshUser === 'root' ? '/root' : `/home/${sshUser}`;
  return {
    image,
    command,
    sshPort: integerParam(record, 'sshPort', path, { min: 1, max: 65535 }, 22),
    hostKeyFile: absoluteInContainer(record, 'hostKeyFile', path, '/etc/ssh/ssh_host_ed25519_key.pub'),
    authorizedKeysFile: absoluteInContainer(record, 'authorizedKeysFile', path, `${home}/.ssh/authorized_keys`),
    binds,
    devices: stringList(record.devices, `${path}.devices`, /^\/dev\/[\w./-]+$/, 'a device path (/dev/...)'),
    capAdd: stringList(record.capAdd, `${path}.capAdd`, /^[A-Z_]+$/, 'a capability name (SYS_ADMIN)'),
    securityOpt: stringList(record.securityOpt, `${path}.securityOpt`, /^[a-z-]+([=:][\w.:/=-]+)?$/, 'a security option (apparmor=unconfined)'),
    env,
    shmSizeBytes: integerParam(record, 'shmSize', path, { min: 1 << 20, max: 16 * 1024 ** 3 }, 256 * 1024 * 1024),
  };
}

/**
 * The ssh: block of a container board. The farm connects to 127.0.0.1 at the published port
 * (known once the container runs), so host, port and knownHosts are refused; the host key is
 * pinned (hostKey) or read from the container (container.hostKeyFile); without privateKey and
 * passwordEnv the farm authorizes a key of its own (container.authorizedKeysFile). The rest is
 * checked as any board's ssh: block, with those fields filled in for the check only.
 */
export function parseContainerSshParams(raw: unknown, path: string): SshParams {
  const given = mapping(expandEnvReferences(raw, path), path);
  for (const key of SSH_FIXED_BY_FARM) {
    if (given[key] !== undefined) {
      throw new ConfigError(`${path}.${key}`, 'is set by the farm for a container board (127.0.0.1, the port the engine publishes); pin the host key with hostKey or let the farm read it from the container (container.hostKeyFile)');
    }
  }
  const needsKey = given.privateKey === undefined && given.passwordEnv === undefined;
  const needsHostKey = given.hostKey === undefined;
  const checked = parseSshParams(
    { ...given, host: '127.0.0.1', ...(needsKey ? { privateKey: '/dev/null' } : {}), ...(needsHostKey ? { knownHosts: '/dev/null' } : {}) },
    path,
  );
  const { privateKey, knownHosts: _unused, ...rest } = checked;
  return { ...rest, ...(needsKey ? {} : privateKey !== undefined ? { privateKey } : {}) };
}
