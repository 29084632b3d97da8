/**
 * A real OpenSSH server for tests (Debian openssh-server): its own host key, an authorized key,
 * optionally a root password, listening on 127.0.0.1 on a free port, in a private mount
 * namespace (`unshare -m`) so that the password lives in a bind-mounted /etc/shadow only this
 * sshd sees. `prelude` runs as root inside the namespace before sshd starts (the board double
 * mounts its kernel paths there), so everything the sessions run sees the namespace.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync, chmodSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { InfrastructureError } from '../../../base/errors.js';
import { ManagedProcess } from '../../../base/process/managed-process.js';

export interface TestSshdOptions {
  /** A directory of its own (keys, config, logs go here). */
  readonly dir: string;
  /** Root's password inside the namespace; password auth is off without it. */
  readonly rootPassword?: string;
  /** Shell script run (by sh, as root, in the namespace) before sshd; `$STATE` is `dir`. */
  readonly prelude?: string;
  /** Extra environment for the prelude (and inherited by sshd, not by sessions). */
  readonly env?: Readonly<Record<string, string>>;
  /** Every line sshd logs (-e: to stderr). */
  readonly onLog?: (line: string) => void;
  readonly startTimeoutMs?: number;
  /** Where to listen (default 127.0.0.1; a board double inside a container listens on 0.0.0.0 behind a published port). */
  readonly listenAddress?: string;
  /** A fixed port (default: a free one, retried when taken). */
  readonly port?: number;
  /** Use this existing private host key (its .pub beside it) instead of generating one. */
  readonly hostKeyFile?: string;
  /** More authorized_keys files (e.g. /root/.ssh/authorized_keys, where a farm writes its key into a container). */
  readonly extraAuthorizedKeysFiles?: readonly string[];
}

export interface TestSshd {
  readonly port: number;
  /** "ssh-ed25519 AAAA..." of the server. */
  readonly hostKey: string;
  /** The client's private key file (its public half is authorized for root). */
  readonly clientKey: string;
  readonly process: ManagedProcess;
  /** Its mount namespace: every process in it is killed on stop. */
  readonly namespace: string;
  /** Stops the server and kills every process in its namespace. */
  stop(): Promise<void>;
}

/** The mount namespace of `pid` ("mnt:[4026532...]"), undefined once it is gone. */
export function mountNamespaceOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/**
 * SIGKILLs every process in mount namespace `namespace` (sessions, commands and helpers the
 * server started outlive it otherwise); when the last one is gone, the namespace and its mounts
 * go too. Returns how many it signalled.
 */
export function killMountNamespace(namespace: string): number {
  if (namespace === mountNamespaceOf(process.pid)) throw new InfrastructureError(`refusing to kill our own mount namespace ${namespace}`);
  let killed = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (mountNamespaceOf(pid) !== namespace) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}

export function keygen(file: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'farm-test', '-f', file], { stdio: 'ignore' });
  return readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startTestSshd(options: TestSshdOptions): Promise<TestSshd> {
  const { dir } = options;
  mkdirSync(dir, { recursive: true });
  const hostKeyFile = options.hostKeyFile ?? join(dir, 'ssh_host_ed25519_key');
  const hostKey = options.hostKeyFile ? readFileSync(`${hostKeyFile}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ') : keygen(hostKeyFile);
  const listenAddress = options.listenAddress ?? '127.0.0.1';
  const clientKey = join(dir, 'client_key');
  writeFileSync(join(dir, 'authorized_keys'), `${keygen(clientKey)}\n`);
  chmodSync(join(dir, 'authorized_keys'), 0o600);
  let shadow = readFileSync('/etc/shadow', 'utf8');
  if (options.rootPassword !== undefined) {
    const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: options.rootPassword }).toString().trim();
    shadow = shadow.replace(/^root:[^:]*:/m, `root:${hash}:`);
  }
  writeFileSync(join(dir, 'shadow'), shadow, { mode: 0o600 });
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = options.port ?? (await freePort());
    writeFileSync(
      join(dir, 'sshd_config'),
      [
        `Port ${port}`,
        `ListenAddress ${listenAddress}`,
        `HostKey ${hostKeyFile}`,
        `AuthorizedKeysFile ${[join(dir, 'authorized_keys'), ...(options.extraAuthorizedKeysFiles ?? [])].join(' ')}`,
        'PermitRootLogin yes',
        `PasswordAuthentication ${options.rootPassword !== undefined ? 'yes' : 'no'}`,
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'PidFile none',
        'LogLevel VERBOSE',
        'MaxSessions 50',
        'MaxStartups 50',
        'Subsystem sftp internal-sftp',
        'PrintMotd no',
        '',
      ].join('\n'),
    );
    const script = [
      'set -e',
      'mount --make-rprivate /',
      `mount --bind "$STATE/shadow" /etc/shadow`,
      'mkdir -p /run/sshd',
      options.prelude ?? '',
      `exec /usr/sbin/sshd -D -e -f "$STATE/sshd_config"`,
    ].join('\n');
    let log = '';
    let ready: () => void = () => {};
    const listening = new Promise<void>((resolve) => (ready = resolve));
    const sshd = ManagedProcess.spawn({
      name: 'test sshd',
      file: 'unshare',
      args: ['-m', '--propagation', 'private', '--', 'sh', '-c', script],
      env: { ...options.env, STATE: dir },
      debianPackage: 'util-linux',
      onOutput: (_stream, text) => {
        log += text;
        for (const line of text.split('\n')) if (line.trim()) options.onLog?.(line);
        if (log.includes(`Server listening on ${listenAddress} port ${port}`)) ready();
      },
    });
    const timeoutMs = options.startTimeoutMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      listening.then(() => 'up' as const),
      sshd.exited.then(() => 'exited' as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    const namespace = outcome === 'up' ? mountNamespaceOf(sshd.pid) : undefined;
    if (outcome === 'up' && namespace && namespace !== mountNamespaceOf(process.pid)) {
      const stop = async () => {
        killMountNamespace(namespace);
        await sshd.stop({ graceMs: 2000 });
      };
      return { port, hostKey, clientKey, process: sshd, namespace, stop };
    }
    await sshd.stop();
    lastError = `${outcome === 'timeout' ? `not listening within ${timeoutMs} ms` : 'exited'}: ${log.trim().slice(-1500)}`;
    if (options.port !== undefined || !/Address already in use|Cannot bind/.test(log)) break;
  }
  throw new InfrastructureError(`test sshd did not start: ${lastError}`);
}
