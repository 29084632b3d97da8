import { chmodSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { InfrastructureError } from '../../base/errors.js';
import { onProcessExit } from '../../base/process/exit-cleanup.js';
import { runFileStem, sweepStaleRunFiles } from '../../base/process/run-files.js';
import { connectEngine } from '../../containers/engine.js';
import { FarmContainer } from '../../containers/farm-container.js';
import { publicKeyBlob, ssh2 } from '../ssh/host-key.js';
import type { SshParams } from '../ssh/ssh-params.js';
import type { LinuxContainerParams } from './container-params.js';

export interface ContainerBoardOptions {
  /** The farm target (container label, messages). */
  readonly target: string;
  readonly params: LinuxContainerParams;
  /** The board's ssh: block (parseContainerSshParams), key paths resolved. */
  readonly ssh: SshParams;
  /** farm.yaml's directory: relative bind sources resolve here. */
  readonly configDir: string;
  /** Until the host key is there (the board's first boot makes it), ms. */
  readonly bootTimeoutMs: number;
  /** The container's output (its console), as it comes. */
  readonly onConsole: (text: string) => void;
  readonly log: (line: string) => void;
}

/** The last lines of what the container printed, for an error. */
function tail(text: string): string {
  const lines = text.trim().split('\n').slice(-5).join(' | ');
  return lines ? `; its output: ${lines.slice(-1500)}` : '';
}

/** One attempt: connects to 127.0.0.1:port and resolves true once "SSH-" arrives, false when the connection ends first or after `ms`. */
function sshBanner(port: number, ms: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let seen = '';
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      done(ok);
    };
    const timer = setTimeout(() => finish(false), ms);
    socket.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString('latin1')).slice(0, 256);
      if (seen.includes('SSH-')) finish(true);
    });
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
  });
}

/** Waits (bounded by `deadline`) until sshd in the container greets on the published port. */
async function waitForSshBanner(container: FarmContainer, port: number, deadline: number, target: string): Promise<void> {
  while (!(await sshBanner(port, 2000))) {
    if (!container.running) throw new InfrastructureError(`${target}: the container exited (${container.exit?.signal ?? `code ${container.exit?.code}`}) before its sshd answered`);
    if (Date.now() > deadline) throw new InfrastructureError(`${target}: the container's sshd did not answer on 127.0.0.1:${port} by the boot deadline`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

/**
 * A Linux system that lives in a container image, reached the way a board is: the farm starts
 * the image with its own command (containers/FarmContainer: labelled, removed on stop, on Ctrl-C
 * and when the farm dies), publishes its sshd on 127.0.0.1 at a port the engine picks, and
 * knows its host key before connecting: pinned in farm.yaml, or read out of the container's
 * filesystem through the engine (never from the network). `ssh` is where the board's SSH shell
 * connects.
 */
export class ContainerBoard {
  private constructor(
    readonly container: FarmContainer,
    readonly ssh: SshParams,
    private readonly keyFile: string | undefined,
    private readonly releaseKeyCleanup: () => void,
  ) {}

  static async start(options: ContainerBoardOptions): Promise<ContainerBoard> {
    const { params, target } = options;
    sweepStaleRunFiles(['/tmp']);
    const binds = params.binds.map((bind) => ({ ...bind, host: resolve(options.configDir, bind.host) }));
    // The engine would create a missing bind source as an empty folder (even /usr/bin/node).
    for (const bind of binds) if (!existsSync(bind.host)) throw new InfrastructureError(`${target}: container.binds: ${bind.host} does not exist on this machine`);
    let keyFile: string | undefined;
    let releaseKeyCleanup = () => {};
    const files: { path: string; content: Uint8Array; mode: number }[] = [];
    if (options.ssh.privateKey === undefined && options.ssh.passwordEnv === undefined) {
      const pair = ssh2().utils.generateKeyPairSync('ed25519', { comment: `openamp-farm ${target}` });
      keyFile = join(tmpdir(), runFileStem('board-key'));
      const file = keyFile;
      // Also when the process ends without a teardown (a worker interrupted mid-setup); after a SIGKILL the next start's sweep.
      releaseKeyCleanup = onProcessExit(() => rmSync(file, { force: true }));
      writeFileSync(keyFile, pair.private, { mode: 0o600 });
      chmodSync(keyFile, 0o600);
      files.push({ path: params.authorizedKeysFile, content: Buffer.from(`${pair.public}\n`), mode: 0o600 });
    }
    let output = '';
    let container: FarmContainer | undefined;
    try {
      container = await FarmContainer.run({
        docker: await connectEngine(),
        image: params.image,
        ...(params.command ? { imageCmd: params.command } : {}),
        name: target,
        target,
        publish: [params.sshPort],
        binds,
        devices: params.devices,
        capAdd: params.capAdd,
        securityOpt: params.securityOpt,
        env: params.env,
        shmSizeBytes: params.shmSizeBytes,
        files,
        onOutput: (_stream, text) => {
          output = (output + text).slice(-4000);
          options.onConsole(text);
        },
      });
      const port = await container.hostPort(params.sshPort);
      options.log(`${target}: container ${container.id.slice(0, 12)} of ${params.image} up, its port ${params.sshPort} on 127.0.0.1:${port}`);
      const deadline = Date.now() + options.bootTimeoutMs;
      const hostKey = options.ssh.hostKey ?? (await ContainerBoard.readHostKey(container, options, deadline, () => output));
      // The engine's proxy accepts connections on the published port before anything listens
      // inside (and drops them): wait for sshd's banner, so the first SSH attempt meets sshd.
      await waitForSshBanner(container, port, deadline, target);
      return new ContainerBoard(container, { ...options.ssh, host: '127.0.0.1', port, hostKey, ...(keyFile ? { privateKey: keyFile } : {}) }, keyFile, releaseKeyCleanup);
    } catch (error) {
      await container?.stop({ graceMs: 2000 }).catch(() => {});
      if (keyFile) rmSync(keyFile, { force: true });
      releaseKeyCleanup();
      const message = error instanceof Error ? error.message : String(error);
      throw error instanceof InfrastructureError && output === '' ? error : new InfrastructureError(`${message}${tail(output)}`, { cause: error });
    }
  }

  /** Polls the host key file until it holds a key (a first boot may still be writing it), the container exits, or the boot deadline. */
  private static async readHostKey(container: FarmContainer, options: ContainerBoardOptions, deadline: number, output: () => string): Promise<string> {
    const file = options.params.hostKeyFile;
    let problem = 'not there yet';
    for (;;) {
      if (!container.running) {
        const exit = container.exit;
        throw new InfrastructureError(`${options.target}: the container exited (${exit?.signal ?? `code ${exit?.code}`}) before its host key ${file} was there`);
      }
      // A first boot may be writing the file right now: a partial archive is "not yet" too.
      const content = await container.readFile(file).catch((error: unknown) => {
        problem = (error as Error).message;
        return undefined;
      });
      if (content) {
        const line = content.toString('utf8').trim().split(/\s+/).slice(0, 2).join(' ');
        try {
          publicKeyBlob(line, `${options.target}: container.hostKeyFile ${file}`);
          options.log(`${options.target}: host key read from the container's ${file}`);
          return line;
        } catch (error) {
          problem = (error as Error).message;
        }
      }
      if (Date.now() > deadline) throw new InfrastructureError(`${options.target}: no SSH host key in the container's ${file} within ${options.bootTimeoutMs} ms (${problem})${tail(output())}`);
      await new Promise((done) => setTimeout(done, 200));
    }
  }

  /** Stops and removes the container (SIGTERM to its command, SIGKILL after `graceMs`), removes the key the farm made. Idempotent. */
  async stop(graceMs = 5000): Promise<void> {
    try {
      await this.container.stop({ graceMs });
    } finally {
      if (this.keyFile) rmSync(this.keyFile, { force: true });
      this.releaseKeyCleanup();
    }
  }
}
