import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type ssh2Module from 'ssh2';
import { lazyRequire } from '../../base/lazy-require.js';
import { InfrastructureError } from '../../base/errors.js';

export const ssh2 = lazyRequire<typeof ssh2Module>('ssh2');

/** OpenSSH's fingerprint of a public key blob: "SHA256:<base64 without padding>". */
export function fingerprint(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The wire blob of a public key given as "ssh-ed25519 AAAA..." (an authorized_keys / known_hosts key); throws on anything else. */
export function publicKeyBlob(line: string, what: string): Buffer {
  const parsed = ssh2().utils.parseKey(line.trim());
  if (parsed instanceof Error || Array.isArray(parsed)) {
    throw new InfrastructureError(`${what}: not an SSH public key ("<type> <base64>"): ${parsed instanceof Error ? parsed.message : 'several keys'}`);
  }
  return parsed.getPublicSSH();
}

/** The known_hosts host pattern for host:port: "host" on port 22, "[host]:port" otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function hostMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    // Hashed entry: |1|base64(salt)|base64(HMAC-SHA1(salt, name))
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  return field.split(',').some((pattern) => !pattern.startsWith('!') && pattern === name);
}

/**
 * The keys a known_hosts file lists for host:port (exact names and hashed entries; wildcard
 * patterns and @cert-authority lines are not used: a farm pins the one key of each board).
 * A @revoked key is returned separately so that it is refused even if listed again.
 */
export function knownHostKeys(file: string, host: string, port: number): { keys: Buffer[]; revoked: Buffer[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InfrastructureError(`known_hosts file ${file}: ${(error as Error).message}`);
  }
  const name = knownHostsName(host, port);
  const keys: Buffer[] = [];
  const revoked: Buffer[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith('@') ? fields.shift() : undefined;
    const [hosts, type, base64] = fields;
    if (!hosts || !type || !base64 || !hostMatches(hosts, name)) continue;
    if (marker === '@cert-authority') continue;
    let blob: Buffer;
    try {
      blob = publicKeyBlob(`${type} ${base64}`, file);
    } catch {
      continue; // an unsupported key type on some other line must not block this board
    }
    (marker === '@revoked' ? revoked : keys).push(blob);
  }
  return { keys, revoked };
}
