import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { InfrastructureError } from '../base/errors.js';
import type { ProcessExit } from '../base/process/managed-process.js';
import { sweepStaleContainers } from './container-sweep.js';
import { imageExists, MissingImageError } from './images.js';
import { containerLabels } from './labels.js';
import { findRecipe, recipeTag } from './recipes.js';
import { firstFileOfTar, tarOneFile } from './tar.js';

export interface BindMount {
  readonly host: string;
  readonly container: string;
  readonly readOnly?: boolean;
}

export interface RunContainerOptions {
  readonly docker: Docker;
  /** An image reference (name:tag or id). */
  readonly image: string;
  /** For messages ("qemu-zynqmp-r5"). */
  readonly name: string;
  /** The farm target it serves (a label). */
  readonly target: string;
  /** What to run: [executable, ...args], as in the image's filesystem. Absent: the image's own ENTRYPOINT + CMD. */
  readonly command?: readonly string[];
  /** Without `command`: replaces the image's CMD, its ENTRYPOINT kept (as `docker run IMAGE ARGS...`). */
  readonly imageCmd?: readonly string[];
  readonly binds?: readonly BindMount[];
  /** TCP ports inside the container to publish on 127.0.0.1, each on a port the engine picks (hostPort()). Without: no network. */
  readonly publish?: readonly number[];
  /** Host devices to pass in (/dev/fuse). */
  readonly devices?: readonly string[];
  /** Capabilities to add (SYS_ADMIN for mounts inside). */
  readonly capAdd?: readonly string[];
  /** Security options as `docker run --security-opt` (apparmor=unconfined where AppArmor forbids the mounts). */
  readonly securityOpt?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Size of the container's /dev/shm (the engine's default is 64 MiB). */
  readonly shmSizeBytes?: number;
  /** Files written into the container before it starts (an authorized_keys), owned by root. */
  readonly files?: readonly { readonly path: string; readonly content: Uint8Array; readonly mode: number }[];
  /** Its stdout / stderr as text (through the attach stream: for consoles and logs, not for byte-timed traffic). */
  readonly onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  /** Default: this process's uid:gid, so what it creates in bind mounts is ours to remove; with the image's own command, the image's user. '' is the image's user. */
  readonly user?: string;
}

/**
 * The command runs under a small sh watchdog as the container's first process: it forwards
 * SIGTERM, and when the container's stdin closes it SIGKILLs the command. The farm holds stdin
 * open through its attach connection (StdinOnce), so when the farm process dies in any way,
 * even SIGKILL, the engine closes stdin, the command dies, the container exits and AutoRemove
 * deletes it: the container equivalent of --pdeathsig. The image needs /bin/sh and cat.
 */
const WATCHDOG = [
  'exec 3<&0',
  '"$@" </dev/null &',
  'q=$!',
  "trap 'kill -TERM $q 2>/dev/null' TERM INT",
  '{ cat <&3 >/dev/null; kill -KILL $q 2>/dev/null; } &',
  'exec 3<&-',
  'wait $q; s=$?',
  'while kill -0 $q 2>/dev/null; do wait $q; s=$?; done',
  'exit $s',
].join('\n');

/** The image a `container:` value names: a recipe name (its current tag) or an image reference as given. */
export function resolveImageReference(value: string): { reference: string; recipe: string | undefined } {
  const recipe = findRecipe(value);
  return recipe ? { reference: recipeTag(recipe.name), recipe: recipe.name } : { reference: value, recipe: undefined };
}

/**
 * One container the farm owns: created with the farm's labels, its output attached, removed
 * when it stops (AutoRemove), when the farm stops it, and when the farm dies (the stdin
 * watchdog); a container a dead farm still left is removed by the next run's sweep.
 */
export class FarmContainer {
  readonly exited: Promise<ProcessExit>;
  private exitInfo: ProcessExit | undefined;

  private constructor(
    readonly name: string,
    readonly id: string,
    /** The host pid of the container's first process (the watchdog). */
    readonly pid: number,
    private readonly container: Docker.Container,
    private readonly attach: NodeJS.ReadWriteStream,
    exited: Promise<ProcessExit>,
  ) {
    this.exited = exited.then((exit) => (this.exitInfo ??= exit));
  }

  static async run(options: RunContainerOptions): Promise<FarmContainer> {
    const { docker } = options;
    await sweepStaleContainers(docker);
    const { reference, recipe } = resolveImageReference(options.image);
    if (!(await imageExists(docker, reference))) {
      throw new MissingImageError(
        recipe
          ? `${options.name}: image ${reference} (recipe ${recipe}) is not built: run \`farm images build ${recipe}\``
          : `${options.name}: image ${reference} is not on this engine: build or load it (docker build / docker load), or name a recipe (farm images list)`,
      );
    }
    const containerName = `farm-${options.target.replace(/[^a-zA-Z0-9_.-]/g, '_')}-${process.pid}-${randomBytes(4).toString('hex')}`;
    const command = options.command ?? (await imageCommand(docker, reference, options.name, options.imageCmd));
    const user = options.user ?? (options.command ? `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}` : '');
    const publish = options.publish ?? [];
    const container = await docker.createContainer({
      name: containerName,
      Image: reference,
      // The image's own command runs under the watchdog too (it needs /bin/sh and cat).
      Entrypoint: ['/bin/sh', '-c', WATCHDOG, 'farm-watchdog'],
      Cmd: [...command],
      User: user,
      Labels: containerLabels(options.target),
      ...(options.env ? { Env: Object.entries(options.env).map(([key, value]) => `${key}=${value}`) } : {}),
      ...(publish.length > 0 ? { ExposedPorts: Object.fromEntries(publish.map((port) => [`${port}/tcp`, {}])) } : {}),
      Tty: false,
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        AutoRemove: true,
        // Published ports need the engine's bridge; on 127.0.0.1 only, a port the engine picks.
        NetworkMode: publish.length > 0 ? 'bridge' : 'none',
        ...(publish.length > 0 ? { PortBindings: Object.fromEntries(publish.map((port) => [`${port}/tcp`, [{ HostIp: '127.0.0.1', HostPort: '' }]])) } : {}),
        Binds: (options.binds ?? []).map((bind) => `${bind.host}:${bind.container}${bind.readOnly ? ':ro' : ''}`),
        ...(options.devices ? { Devices: options.devices.map((device) => ({ PathOnHost: device, PathInContainer: device, CgroupPermissions: 'rwm' })) } : {}),
        ...(options.capAdd ? { CapAdd: [...options.capAdd] } : {}),
        ...(options.securityOpt ? { SecurityOpt: [...options.securityOpt] } : {}),
        ...(options.shmSizeBytes ? { ShmSize: options.shmSizeBytes } : {}),
      },
    });
    let attach: NodeJS.ReadWriteStream | undefined;
    try {
      attach = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      docker.modem.demuxStream(attach, stdout, stderr);
      for (const [stream, readable] of [['stdout', stdout], ['stderr', stderr]] as const) {
        readable.setEncoding('utf8');
        readable.on('data', (text: string) => options.onOutput?.(stream, text));
      }
      attach.on('error', () => {}); // the connection ends with the container
      for (const file of options.files ?? []) {
        await container.putArchive(tarOneFile(file.path.replace(/^\/+/, ''), file.content, file.mode), { path: '/' });
      }
      // Asked before start: with AutoRemove the container may be gone by the time we would ask.
      const waited = container.wait({ condition: 'removed' }) as Promise<{ StatusCode?: number }>;
      const exited = waited.then(
        (result) => exitOf(result.StatusCode),
        () => ({ code: undefined, signal: 'container lost' }) satisfies ProcessExit,
      );
      await container.start();
      const inspect = await container.inspect().catch(() => undefined);
      return new FarmContainer(options.name, container.id, inspect?.State.Pid ?? 0, container, attach, exited);
    } catch (error) {
      attach?.end();
      await container.remove({ force: true }).catch(() => {});
      throw error instanceof InfrastructureError ? error : new InfrastructureError(`${options.name}: could not start a container of ${reference}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** The host port (on 127.0.0.1) the engine published container TCP port `port` on. */
  async hostPort(port: number): Promise<number> {
    const info = await this.container.inspect().catch(async (error: unknown) => {
      // AutoRemove: a container that already exited may be gone. Its removal ends the engine's
      // wait (`exited`) at about the same time: name the exit when it comes within a moment.
      const exit = await this.exitWithin(2000);
      const how = exit ? `exited (${exit.signal ?? `code ${exit.code}`})` : 'exited';
      throw new InfrastructureError(`${this.name}: the container ${how} before its port ${port} could be reached (${(error as Error).message.split('\n')[0]})`, { cause: error });
    });
    if (!info.State.Running) throw new InfrastructureError(`${this.name}: the container exited (code ${info.State.ExitCode}) before its port ${port} could be reached`);
    const binding = info.NetworkSettings.Ports?.[`${port}/tcp`]?.[0];
    const hostPort = Number(binding?.HostPort);
    if (!binding || !Number.isInteger(hostPort) || hostPort <= 0) throw new InfrastructureError(`${this.name}: the engine published no host port for port ${port} of the container`);
    return hostPort;
  }

  /** A file of the container (up to `maxBytes`), undefined while it does not exist. */
  async readFile(path: string, maxBytes = 64 * 1024): Promise<Buffer | undefined> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await this.container.getArchive({ path })) as NodeJS.ReadableStream;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw new InfrastructureError(`${this.name}: cannot read ${path} from the container: ${(error as Error).message}`, { cause: error });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      // The archive of one small file: a header, the data, padding and two end blocks.
      if (size > maxBytes + 16 * 1024) throw new InfrastructureError(`${this.name}: ${path} in the container is larger than ${maxBytes} bytes`);
      chunks.push(chunk);
    }
    return firstFileOfTar(Buffer.concat(chunks), maxBytes).content;
  }

  /** How the container ended, once it has, waiting at most `ms` for it; undefined while it runs. */
  private async exitWithin(ms: number): Promise<ProcessExit | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exit(): ProcessExit | undefined {
    return this.exitInfo;
  }

  /** Sends `signal` to the container's first process (the watchdog forwards TERM and INT). */
  signal(signal: NodeJS.Signals): void {
    if (this.exitInfo) return;
    this.container.kill({ signal }).catch(() => {});
  }

  /** SIGTERM, SIGKILL after `graceMs` (default 1000), then removal; resolves once the container is gone. Idempotent. */
  async stop(options: { graceMs?: number } = {}): Promise<ProcessExit> {
    if (!this.exitInfo) {
      this.signal('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.signal('SIGKILL');
          resolve();
        }, options.graceMs ?? 1000);
      });
      await Promise.race([this.exited, killed]);
      clearTimeout(timer);
      // The engine answers `wait removed` once the container is gone; if that never comes
      // (an engine restarted under us), remove it ourselves after a while.
      const gone = await Promise.race([this.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000).unref())]);
      if (!gone) await this.container.remove({ force: true }).catch(() => {});
    }
    this.attach.end();
    return this.exitInfo ?? { code: undefined, signal: 'SIGKILL' };
  }
}

/** The image's own ENTRYPOINT + CMD, or + `cmd` in place of its CMD (a user's image, e.g. a vendor's Linux system). */
async function imageCommand(docker: Docker, reference: string, name: string, cmd: readonly string[] | undefined): Promise<string[]> {
  const config = (await docker.getImage(reference).inspect()).Config as { Entrypoint?: string[] | string | null; Cmd?: string[] | string | null };
  const part = (value: string[] | string | null | undefined) => (value == null ? [] : typeof value === 'string' ? ['/bin/sh', '-c', value] : value);
  const command = [...part(config.Entrypoint), ...(cmd ?? part(config.Cmd))];
  if (command.length === 0) throw new InfrastructureError(`${name}: image ${reference} has neither ENTRYPOINT nor CMD: nothing to run (give the image a command)`);
  return command;
}

/** A container's exit status as a process exit: 128 + n is signal n (sh's convention). */
function exitOf(status: number | undefined): ProcessExit {
  if (status !== undefined && status > 128 && status < 128 + 65) {
    const name = Object.entries(constants.signals).find(([, number]) => number === status - 128)?.[0];
    if (name) return { code: undefined, signal: name };
  }
  return { code: status, signal: undefined };
}
