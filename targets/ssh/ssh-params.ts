import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../../base/errors.js';
import { integerParam, paramsRecord } from '../params.js';
import { publicKeyBlob } from './host-key.js';

/**
 * The `ssh:` block of a board target in farm.yaml: plain data, no I/O (file paths are resolved,
 * not read). The board's host key is pinned (`hostKey`, the "<type> <base64>" of its
 * /etc/ssh/ssh_host_*_key.pub) or looked up in a `knownHosts` file; one of the two is required.
 * Secrets stay out of farm.yaml: a password is named by the environment variable holding it.
 */
export interface SshParams {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Private key file, absolute. */
  readonly privateKey?: string;
  /** Environment variable holding the password (password or keyboard-interactive auth). */
  readonly passwordEnv?: string;
  readonly hostKey?: string;
  /** known_hosts file, absolute. */
  readonly knownHosts?: string;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  /** SSH keepalive interval; a board that stops answering is noticed after 3 of these. */
  readonly keepaliveMs: number;
}

const KEYS = ['host', 'port', 'user', 'privateKey', 'passwordEnv', 'hostKey', 'knownHosts', 'connectTimeoutMs', 'commandTimeoutMs', 'keepaliveMs'];

function pathParam(record: Record<string, unknown>, key: string, path: string, configDir: string | undefined): string | undefined {
  const value = record[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new ConfigError(`${path}.${key}`, `must be a file path, got ${JSON.stringify(value)}`);
  const expanded = value.startsWith('~/') ? `${process.env.HOME ?? '/root'}/${value.slice(2)}` : value;
  return isAbsolute(expanded) || configDir === undefined ? expanded : resolve(configDir, expanded);
}

/** The same parameters with relative key / known_hosts paths resolved against `configDir` (farm.yaml's directory). */
export function resolveSshPaths(params: SshParams, configDir: string): SshParams {
  const at = (file: string | undefined) => (file === undefined || isAbsolute(file) ? file : resolve(configDir, file));
  const privateKey = at(params.privateKey);
  const knownHosts = at(params.knownHosts);
  return { ...params, ...(privateKey ? { privateKey } : {}), ...(knownHosts ? { knownHosts } : {}) };
}

/**
 * `${NAME}` in the string values of an `ssh:` block, replaced from `env`: a lab keeps addresses
 * and ports that change (a DHCP lease, a test double's port) out of the checked-in farm.yaml.
 * A value that is only a reference to digits becomes a number (`port: ${BOARD_PORT}`).
 */
export function expandEnvReferences(raw: unknown, path: string, env: NodeJS.ProcessEnv = process.env): unknown {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof value !== 'string' || !value.includes('${')) {
      out[key] = value;
      continue;
    }
    const expanded = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const found = env[name];
      if (found === undefined) throw new ConfigError(`${path}.${key}`, `refers to \${${name}}, which is not set in the environment`);
      return found;
    });
    out[key] = /^\d+$/.test(expanded) && /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(value) ? Number(expanded) : expanded;
  }
  return out;
}

/** `configDir` resolves relative key paths; without it they are kept relative (resolveSshPaths later). */
export function parseSshParams(raw: unknown, path: string, configDir?: string): SshParams {
  const record = paramsRecord(raw, path, KEYS);
  if (!record) throw new ConfigError(path, 'is required (host, user, privateKey or passwordEnv, hostKey or knownHosts)');
  if (typeof record.host !== 'string' || !/^[A-Za-z0-9.:_-]+$/.test(record.host)) throw new ConfigError(`${path}.host`, `must be a host name or address, got ${JSON.stringify(record.host)}`);
  const user = record.user ?? 'root';
  if (typeof user !== 'string' || !/^[a-z_][a-z0-9_.-]*$/i.test(user)) throw new ConfigError(`${path}.user`, `must be a user name, got ${JSON.stringify(user)}`);
  const privateKey = pathParam(record, 'privateKey', path, configDir);
  const knownHosts = pathParam(record, 'knownHosts', path, configDir);
  const passwordEnv = record.passwordEnv;
  if (passwordEnv !== undefined && (typeof passwordEnv !== 'string' || !/^[A-Z_][A-Z0-9_]*$/.test(passwordEnv))) {
    throw new ConfigError(`${path}.passwordEnv`, `must name an environment variable (e.g. BOARD1_PASSWORD), got ${JSON.stringify(passwordEnv)}`);
  }
  if (!privateKey && passwordEnv === undefined) throw new ConfigError(path, 'needs privateKey (a key file) or passwordEnv (the variable holding the password)');
  const hostKey = record.hostKey;
  if (hostKey !== undefined) {
    if (typeof hostKey !== 'string') throw new ConfigError(`${path}.hostKey`, `must be "<type> <base64>", got ${JSON.stringify(hostKey)}`);
    try {
      publicKeyBlob(hostKey, `${path}.hostKey`);
    } catch (error) {
      throw new ConfigError(`${path}.hostKey`, `must be the board's public host key "<type> <base64>" (its /etc/ssh/ssh_host_ed25519_key.pub): ${(error as Error).message}`);
    }
  }
  if (hostKey === undefined && !knownHosts) {
    throw new ConfigError(path, 'needs hostKey (the board\'s public host key) or knownHosts (a known_hosts file listing it): the farm never accepts an unknown host key');
  }
  return {
    host: record.host,
    port: integerParam(record, 'port', path, { min: 1, max: 65535 }, 22),
    user,
    ...(privateKey ? { privateKey } : {}),
    ...(passwordEnv !== undefined ? { passwordEnv } : {}),
    ...(hostKey !== undefined ? { hostKey } : {}),
    ...(knownHosts ? { knownHosts } : {}),
    connectTimeoutMs: integerParam(record, 'connectTimeoutMs', path, { min: 500, max: 300_000 }, 10_000),
    commandTimeoutMs: integerParam(record, 'commandTimeoutMs', path, { min: 100, max: 3_600_000 }, 30_000),
    keepaliveMs: integerParam(record, 'keepaliveMs', path, { min: 100, max: 600_000 }, 2000),
  };
}
