import type Docker from 'dockerode';
import { InfrastructureError } from '../base/errors.js';
import { lazyRequire } from '../base/lazy-require.js';

const dockerode = lazyRequire<typeof Docker>('dockerode');

/** The container engine is not installed or not running: one line with the fix. */
export class ContainerEngineError extends InfrastructureError {}

/** Where the farm talks to the engine: DOCKER_HOST (unix:// only) or Docker's default socket. */
export function engineSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  if (!host) return '/var/run/docker.sock';
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  throw new ContainerEngineError(`DOCKER_HOST=${host}: the farm only talks to a local engine over a UNIX socket (unix:///path)`);
}

/** The fix for a missing engine, as doctor and the errors say it. */
export const START_ENGINE_HINT =
  'start the engine as root with `dockerd >/var/log/dockerd.log 2>&1 &` (or `systemctl start docker`); Debian package docker.io, `farm doctor --fix` installs it';

/** A dockerode client for the engine (no I/O yet). */
export function engineClient(env: NodeJS.ProcessEnv = process.env): Docker {
  return new (dockerode())({ socketPath: engineSocketPath(env) });
}

/** Connects and pings, within `timeoutMs`; throws ContainerEngineError naming the socket and the fix. */
export async function connectEngine(options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Docker> {
  const socket = engineSocketPath(options.env);
  const docker = new (dockerode())({ socketPath: socket, timeout: options.timeoutMs ?? 5000 });
  try {
    await docker.ping();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' || code === 'ECONNREFUSED' ? 'not running' : code === 'EACCES' ? 'permission denied (run as root or join the docker group)' : (error as Error).message;
    throw new ContainerEngineError(`container engine at ${socket}: ${why}; ${START_ENGINE_HINT}`, { cause: error });
  }
  // Later calls (a build, a long attach) must not time out: the timeout was for the ping.
  return new (dockerode())({ socketPath: socket });
}

/** The engine's version and API version (doctor, reports). */
export async function engineVersion(docker: Docker): Promise<{ version: string; apiVersion: string }> {
  const info = (await docker.version()) as { Version?: string; ApiVersion?: string };
  return { version: info.Version ?? '?', apiVersion: info.ApiVersion ?? '?' };
}
