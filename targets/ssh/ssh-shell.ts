import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import { InfrastructureError, TimeoutError } from '../../base/errors.js';
import type { CommandResult, ShellProtocol } from '../protocols.js';
import { fingerprint, knownHostKeys, knownHostsName, publicKeyBlob, ssh2 } from './host-key.js';
import type { SshParams } from './ssh-params.js';

/** Most output one command may produce before it is cut off (the place is untrusted). */
const MAX_OUTPUT = 16 * 1024 * 1024;
const RS = '\x1e';

/** The board presented a host key other than the pinned one. */
export class HostKeyMismatchError extends InfrastructureError {}
/** The board refused our key or password. */
export class SshAuthenticationError extends InfrastructureError {}

/** POSIX sh single-quoting. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

interface PendingCommand {
  readonly token: string;
  readonly command: string;
  resolve(result: CommandResult): void;
  reject(error: Error): void;
}

/**
 * One persistent `sh` on the board over an SSH exec channel (no pty: stdout and stderr stay
 * apart), running one command at a time. Each command runs as `sh -c '<command>' </dev/null`
 * (a syntax error cannot end the shell, and no command reads the channel's own input), followed
 * by a sentinel with a per-command random token on stdout carrying $? and one on stderr; the
 * output is everything before them. A command that times out leaves the shell in an unknown
 * state: the channel is closed and the next command opens a new one on the same connection.
 */
class ShellChannel {
  private stdout = '';
  private stderr = '';
  private pending: PendingCommand | undefined;
  private closedReason: string | undefined;

  constructor(
    private readonly channel: ClientChannel,
    private readonly target: string,
    private readonly session: string,
  ) {
    channel.setEncoding('latin1');
    channel.stderr.setEncoding('latin1');
    channel.on('data', (chunk: string) => this.receive('stdout', chunk));
    channel.stderr.on('data', (chunk: string) => this.receive('stderr', chunk));
    channel.on('close', () => this.fail(`${this.target}: the board's shell channel closed`));
  }

  /** The token of the command running now. */
  get runningToken(): string | undefined {
    return this.pending?.token;
  }

  get usable(): boolean {
    return this.closedReason === undefined;
  }

  run(command: string): Promise<CommandResult> {
    if (this.closedReason) return Promise.reject(new InfrastructureError(this.closedReason));
    const token = `FARM${randomBytes(6).toString('hex')}`;
    return new Promise<CommandResult>((resolve, reject) => {
      this.pending = { token, command, resolve, reject };
      this.stdout = '';
      this.stderr = '';
      // FARM_CMD / FARM_SESSION mark the command's processes (environ is inherited by all its
      // children): a timed-out command is killed by its token, leftovers of a lost session by theirs.
      this.channel.write(`FARM_SESSION=${this.session} FARM_CMD=${token} sh -c ${shellQuote(command)} </dev/null; printf '\\n${RS}%s %d${RS}\\n' ${token} $?; printf '${RS}%s${RS}\\n' ${token} >&2\n`);
    });
  }

  private receive(stream: 'stdout' | 'stderr', chunk: string): void {
    if (!this.pending) return; // output after a timed-out command: the channel is being closed
    if (stream === 'stdout') this.stdout += chunk;
    else this.stderr += chunk;
    if (this.stdout.length + this.stderr.length > MAX_OUTPUT) {
      this.fail(`${this.target}: command \`${this.pending.command}\` produced more than ${MAX_OUTPUT} bytes of output`);
      return;
    }
    const { token } = this.pending;
    const exit = new RegExp(`\\n${RS}${token} (\\d+)${RS}\\n$`).exec(this.stdout);
    const errorEnd = this.stderr.endsWith(`${RS}${token}${RS}\n`);
    if (!exit || !errorEnd) return;
    const pending = this.pending;
    this.pending = undefined;
    pending.resolve({
      stdout: Buffer.from(this.stdout.slice(0, exit.index), 'latin1').toString('utf8'),
      stderr: Buffer.from(this.stderr.slice(0, -(token.length + 3)), 'latin1').toString('utf8'),
      exitCode: Number(exit[1]),
    });
  }

  fail(reason: string): void {
    if (!this.closedReason) this.closedReason = reason;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(new InfrastructureError(reason));
    this.channel.close();
  }
}

export interface SshConnectOptions {
  /** Progress lines ("connected", "host key verified"); never a secret. */
  readonly log?: (line: string) => void;
  /** Environment to read `passwordEnv` from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * An SSH connection to one board (ssh2): host key verified against farm.yaml's pin or a
 * known_hosts file before any authentication; a persistent shell (ShellProtocol), SFTP upload,
 * and streams (`openStream`) for long-running helpers.
 */
export class SshShell implements ShellProtocol {
  private shell: ShellChannel | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private lostReason: string | undefined;
  private readonly closeListeners = new Set<(reason: string) => void>();
  private closing = false;
  /** Marks every process this connection starts on the board (see ShellChannel). */
  readonly session = `S${randomBytes(6).toString('hex')}`;

  private constructor(
    private readonly client: Client,
    readonly target: string,
    private readonly params: SshParams,
  ) {
    client.on('close', () => this.lost(`${target}: SSH connection to ${params.host}:${params.port} closed`));
    client.on('error', (error) => this.lost(`${target}: SSH connection to ${params.host}:${params.port} failed: ${error.message}`));
  }

  get address(): string {
    return `${this.params.user}@${this.params.host}:${this.params.port}`;
  }

  /** Connects, verifies the host key, authenticates. Errors name the target and never carry a secret. */
  static async connect(target: string, params: SshParams, options: SshConnectOptions = {}): Promise<SshShell> {
    const where = `${params.user}@${params.host}:${params.port}`;
    const expected = expectedHostKeys(target, params);
    let mismatch: string | undefined;
    const hostVerifier = (key: Buffer): boolean => {
      if (expected.revoked.some((blob) => blob.equals(key))) {
        mismatch = `${target}: ${params.host}:${params.port} presented host key ${fingerprint(key)}, which ${params.knownHosts} marks @revoked`;
        return false;
      }
      if (expected.keys.some((blob) => blob.equals(key))) return true;
      mismatch =
        `${target}: host key mismatch for ${params.host}:${params.port}: the board presented ${fingerprint(key)}, ` +
        `${expected.source} has ${expected.keys.map(fingerprint).join(', ') || 'no key for it'}. ` +
        `If the board was reinstalled, put its new key (/etc/ssh/ssh_host_*_key.pub) there; otherwise something else answers at this address`;
      return false;
    };
    const password = params.passwordEnv ? (options.env ?? process.env)[params.passwordEnv] : undefined;
    if (params.passwordEnv && password === undefined && !params.privateKey) {
      throw new InfrastructureError(`${target}: ssh.passwordEnv names ${params.passwordEnv}, which is not set in the environment`);
    }
    let privateKey: Buffer | undefined;
    if (params.privateKey) {
      try {
        privateKey = readFileSync(params.privateKey);
      } catch (error) {
        throw new InfrastructureError(`${target}: cannot read SSH private key ${params.privateKey}: ${(error as Error).message}`);
      }
    }
    const client = new (ssh2().Client)();
    // An attempt given up (its deadline passed, client.end()) may still emit errors, e.g.
    // "Connection lost before handshake" from a port that accepted and then closed: with the
    // attempt's own listener gone, an unheard 'error' would end the process.
    client.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.end();
        reject(new InfrastructureError(`${target}: no SSH session with ${where} within ${params.connectTimeoutMs} ms (board silent or not booted?)`));
      }, params.connectTimeoutMs + 500);
      client.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
      client.once('error', (error: Error & { level?: string }) => {
        clearTimeout(timer);
        client.end();
        if (mismatch) reject(new HostKeyMismatchError(mismatch));
        else if (error.level === 'client-authentication') {
          const tried = [privateKey ? `key ${params.privateKey}` : '', password !== undefined ? `the password from $${params.passwordEnv}` : ''].filter(Boolean).join(' and ');
          reject(new SshAuthenticationError(`${target}: SSH authentication as ${where} failed (tried ${tried})`));
        } else if (error.level === 'client-timeout') reject(new InfrastructureError(`${target}: no SSH session with ${where} within ${params.connectTimeoutMs} ms (board silent or not booted?)`));
        else reject(new InfrastructureError(`${target}: SSH connection to ${where} failed: ${error.message}`));
      });
      client.connect({
        host: params.host,
        port: params.port,
        username: params.user,
        ...(privateKey ? { privateKey } : {}),
        ...(password !== undefined ? { password, tryKeyboard: true } : {}),
        hostVerifier,
        readyTimeout: params.connectTimeoutMs,
        keepaliveInterval: params.keepaliveMs,
        keepaliveCountMax: 3,
      });
      if (password !== undefined) client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => finish(prompts.map(() => password)));
    });
    options.log?.(`${target}: SSH session with ${where} (host key ${expected.source})`);
    return new SshShell(client, target, params);
  }

  /** Called once when the connection is lost (not on close()). Returns an unsubscribe. */
  onLost(listener: (reason: string) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  get lostBecause(): string | undefined {
    return this.lostReason;
  }

  private lost(reason: string): void {
    if (this.lostReason) return;
    this.lostReason = reason;
    this.shell?.fail(reason);
    if (!this.closing) for (const listener of this.closeListeners) listener(reason);
  }

  private assertConnected(): void {
    if (this.lostReason) throw new InfrastructureError(this.lostReason);
  }

  private async shellChannel(): Promise<ShellChannel> {
    this.assertConnected();
    if (this.shell?.usable) return this.shell;
    const channel = await this.exec('exec /bin/sh');
    this.shell = new ShellChannel(channel, this.target, this.session);
    return this.shell;
  }

  private exec(command: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (error, channel) => {
        if (error) reject(new InfrastructureError(`${this.target}: cannot open an SSH channel for \`${command}\`: ${error.message}`));
        else resolve(channel);
      });
    });
  }

  /**
   * A channel running `command` with its stdin/stdout/stderr (long-running helpers); its
   * processes carry this session's mark, so `sweepStaleProcesses` of a later session ends them.
   */
  async openStream(command: string): Promise<ClientChannel> {
    this.assertConnected();
    return this.exec(`FARM_SESSION=${this.session} exec sh -c ${shellQuote(command)}`);
  }

  /**
   * Kills, on the board, the processes left by earlier sessions of the farm (a dropped connection
   * leaves its commands and helpers running): those whose environment has a FARM_SESSION other
   * than this one's. Returns how many it killed.
   */
  async sweepStaleProcesses(): Promise<number> {
    const out = await this.killMarked('FARM_SESSION=', true);
    return out;
  }

  /**
   * SIGKILLs processes whose environ holds `mark` (except this session's, when `othersOnly`), over
   * a channel of its own. Only processes in this shell's mount namespace: on a board that is
   * every process of ours, while boards played by doubles on one machine (each its own mount
   * namespace, one pid namespace) must never end each other's sessions and helpers.
   */
  private async killMarked(mark: string, othersOnly: boolean): Promise<number> {
    const mine = othersOnly ? ` && ! grep -q -a -- 'FARM_SESSION=${this.session}' "$f"` : '';
    const script =
      `n=0; ns=$(readlink /proc/$$/ns/mnt); for f in /proc/[0-9]*/environ; do p=\${f#/proc/}; p=\${p%/environ}; [ "$p" = "$$" ] && continue; ` +
      `[ "$(readlink /proc/$p/ns/mnt 2>/dev/null)" = "$ns" ] || continue; ` +
      `if grep -q -a -- '${mark}' "$f" 2>/dev/null${mine}; then kill -9 "$p" 2>/dev/null && n=$((n+1)); fi; done; echo $n`;
    try {
      const channel = await this.exec(`sh -c ${shellQuote(script)}`);
      return await new Promise<number>((resolve) => {
        let out = '';
        const timer = setTimeout(() => {
          channel.close();
          resolve(0);
        }, 5000);
        channel.on('data', (chunk: Buffer) => (out += chunk.toString()));
        channel.on('close', () => {
          clearTimeout(timer);
          resolve(Number.parseInt(out.trim(), 10) || 0);
        });
      });
    } catch {
      return 0; // best effort: the connection may be going away
    }
  }

  run(command: string, options: { timeoutMs?: number } = {}): Promise<CommandResult> {
    const timeoutMs = options.timeoutMs ?? this.params.commandTimeoutMs;
    const result = this.queue.then(async () => {
      const shell = await this.shellChannel();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const token = shell.runningToken;
          if (token) void this.killMarked(`FARM_CMD=${token}`, false);
          reject(new TimeoutError(`${this.target}: command \`${command}\` did not finish within ${timeoutMs} ms`));
          shell.fail(`${this.target}: command \`${command}\` timed out`);
        }, timeoutMs);
      });
      try {
        return await Promise.race([shell.run(command), timeout]);
      } finally {
        clearTimeout(timer);
      }
    });
    this.queue = result.catch(() => {});
    return result;
  }

  async runCheck(command: string, options: { timeoutMs?: number } = {}): Promise<string> {
    const result = await this.run(command, options);
    if (result.exitCode !== 0) {
      throw new InfrastructureError(`${this.target}: \`${command}\` failed (exit ${result.exitCode})${result.stderr.trim() ? `: ${result.stderr.trim().slice(-2000)}` : ''}`);
    }
    return result.stdout;
  }

  /** Writes `data` to a temporary name next to `remotePath` over SFTP, then renames it: a reader never sees half a file. */
  async put(data: Uint8Array, remotePath: string, options: { mode?: number; timeoutMs?: number } = {}): Promise<void> {
    this.assertConnected();
    const timeoutMs = options.timeoutMs ?? this.params.commandTimeoutMs;
    const temporary = `${remotePath}.farm-upload-${randomBytes(4).toString('hex')}`;
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((error, session) => (error ? reject(new InfrastructureError(`${this.target}: no SFTP session: ${error.message}`)) : resolve(session)));
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new TimeoutError(`${this.target}: upload of ${remotePath} (${data.length} bytes) did not finish within ${timeoutMs} ms`)), timeoutMs);
        sftp.writeFile(temporary, Buffer.from(data), { mode: options.mode ?? 0o644 }, (error) => {
          clearTimeout(timer);
          if (error) reject(new InfrastructureError(`${this.target}: SFTP upload to ${remotePath} failed: ${error.message}`));
          else resolve();
        });
      });
    } finally {
      sftp.end();
    }
    await this.runCheck(`mv -f ${shellQuote(temporary)} ${shellQuote(remotePath)}`, { timeoutMs });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.lostReason) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      this.client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.end();
    });
  }
}

function expectedHostKeys(target: string, params: SshParams): { keys: Buffer[]; revoked: Buffer[]; source: string } {
  if (params.hostKey !== undefined) return { keys: [publicKeyBlob(params.hostKey, `${target}: ssh.hostKey`)], revoked: [], source: 'farm.yaml (ssh.hostKey)' };
  const file = params.knownHosts as string;
  const found = knownHostKeys(file, params.host, params.port);
  if (found.keys.length === 0) {
    throw new HostKeyMismatchError(
      `${target}: ${file} lists no host key for ${knownHostsName(params.host, params.port)}: the farm never accepts an unknown key ` +
        `(add it with: ssh-keyscan -p ${params.port} ${params.host} >> ${file}, after checking it on the board's console)`,
    );
  }
  return { ...found, source: file };
}
