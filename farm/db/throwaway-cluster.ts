/**
 * A throwaway PostgreSQL cluster (the farm's tests and the scale benchmark): initdb into a temp dir, the server listening on
 * 127.0.0.1 on a free port and on a UNIX socket in that dir, never the system's cluster. As
 * root, the server runs as the `postgres` user (PostgreSQL refuses root). `stop()` / `start()`
 * take the same cluster down and up (the "database gone for a few seconds" fault); `remove()`
 * stops it and deletes everything. Clusters of test processes that died (their pid in the dir
 * name) are stopped and removed by the next one created.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFileStem } from '../../base/process/run-files.js';
import { postgresBinDir } from './postgres-install.js';
import { processExists } from '../../base/process/process-alive.js';

export interface PgCluster {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  remove(): Promise<void>;
}

// Bounds of the server's start and fast shutdown: a test never waits for postgres forever.
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}


/** Stops and removes clusters left by test processes that are gone. */
function sweepStaleClusters(): void {
  for (const name of readdirSync(tmpdir())) {
    const match = /^farm-pgtest-(\d+)-[0-9a-f]{8}$/.exec(name);
    if (!match || processExists(Number(match[1]))) continue;
    const dir = join(tmpdir(), name);
    try {
      const postmaster = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (postmaster > 0) process.kill(postmaster, 'SIGQUIT');
    } catch {
      // no server running there
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function createPgCluster(): Promise<PgCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (/usr/lib/postgresql/*/bin/postgres): run `farm doctor --fix` as root, or apt-get install postgresql');
  sweepStaleClusters();
  const dir = join(tmpdir(), runFileStem('pgtest'));
  const data = join(dir, 'data');
  mkdirSync(dir, { mode: 0o700 });
  let ids: { uid: number; gid: number } | undefined;
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    ids = { uid, gid };
    chownSync(dir, uid, gid);
  }
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'farm', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C'], {
    stdio: 'ignore',
    cwd: dir,
    ...(ids ?? {}),
  });
  let port = await freePort();
  let server: ChildProcess | undefined;
  let started = false;

  /** One attempt to run postgres on `port`: the server once it accepts connections, or its log. */
  const launch = async (): Promise<{ child: ChildProcess } | { log: string }> => {
    const child = spawn(
      join(bin, 'postgres'),
      ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
      { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir, ...(ids ?? {}) },
    );
    let log = '';
    child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const ready = await new Promise<boolean>((resolve) => {
      const deadline = Date.now() + START_TIMEOUT_MS;
      const timer = setInterval(() => {
        if (/ready to accept connections/.test(log)) {
          clearInterval(timer);
          resolve(true);
        } else if (Date.now() > deadline) {
          clearInterval(timer);
          log += `\n(not ready after ${START_TIMEOUT_MS / 1000} s: killed)`;
          child.kill('SIGKILL');
          resolve(false);
        }
      }, 50);
      child.once('exit', () => {
        clearInterval(timer);
        resolve(false);
      });
    });
    if (!ready) return { log };
    child.stderr?.removeAllListeners('data');
    child.stderr?.resume();
    return { child };
  };

  const start = async (): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      const result = await launch();
      if ('child' in result) {
        server = result.child;
        started = true;
        return;
      }
      const portTaken = /Address already in use|could not create any TCP\/IP sockets/.test(result.log);
      if (portTaken && !started && attempt < 3) {
        // Another process took the port between freePort() and the bind: take another.
        port = await freePort();
        continue;
      }
      if (portTaken && started && attempt < 20) {
        // A restart keeps its port: its clients know only that URL. Whoever holds it for the
        // moment (a connection in TIME_WAIT, a test's passing socket) lets it go soon.
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      throw new Error(`postgres did not start on port ${port}:\n${result.log}`);
    }
  };

  const stop = async (): Promise<void> => {
    const running = server;
    server = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGINT'); // fast shutdown: aborts sessions, so clients see the database go
    const timer = setTimeout(() => running.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  await start();
  const cluster: PgCluster = {
    get url() {
      return `postgres://farm@127.0.0.1:${port}/postgres`;
    },
    get port() {
      return port;
    },
    dir,
    stop,
    start,
    remove: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}
