import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { InfrastructureError, RemoteCrashedError } from '../../base/errors.js';
import { NOTIFY_ID_UNKNOWN } from './doorbell.js';
import { UnixSocketDoorbell, UnixSocketDoorbellListener } from './unix-socket-doorbell.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorbell-test-'));
let counter = 0;
const freshPath = (): string => path.join(dir, `event.${counter++}`);
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

const PEER = fileURLToPath(new URL('./unix-socket-echo-peer.js', import.meta.url));

function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (condition()) resolve();
      else if (Date.now() > deadline) reject(new Error(`condition not met within ${timeoutMs} ms`));
      else setTimeout(check, 2);
    };
    check();
  });
}

test('UNIX socket doorbell: server and client in one process kick each other, one handler call per chunk', async () => {
  const socketPath = freshPath();
  const listener = await UnixSocketDoorbellListener.bind(socketPath);
  assert.ok(fs.statSync(socketPath).isSocket());
  const [server, client] = await Promise.all([listener.accept(2000), UnixSocketDoorbell.connect({ path: socketPath })]);
  try {
    const serverHeard: number[] = [];
    let clientHeard = 0;
    server.listen((id) => serverHeard.push(id));
    client.listen(() => clientHeard++);
    client.notify(5);
    await waitFor(() => serverHeard.length === 1);
    assert.deepEqual(serverHeard, [NOTIFY_ID_UNKNOWN]);
    server.notify(1);
    await waitFor(() => clientHeard === 1);
    // Only one peer: the socket stops accepting once the first one is in.
    await assert.rejects(UnixSocketDoorbell.connect({ path: socketPath, connectTimeoutMs: 50 }), InfrastructureError);
    assert.equal(server.connected, true);
    assert.equal(server.kind, 'unix-socket');
    assert.equal(server.isServer, true);
    assert.equal(client.isServer, false);
  } finally {
    client.close();
    server.close();
  }
  assert.equal(fs.existsSync(socketPath), false, 'server close removes the socket file');
});

test('UNIX socket doorbell: kicks sent while nobody listens are delivered to the next listener', async () => {
  const socketPath = freshPath();
  const listener = await UnixSocketDoorbellListener.bind(socketPath);
  const [server, client] = await Promise.all([listener.accept(2000), UnixSocketDoorbell.connect({ path: socketPath })]);
  try {
    client.notify(0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    let heard = 0;
    const stop = server.listen(() => heard++);
    await waitFor(() => heard === 1);
    stop();
    assert.throws(() => {
      server.listen(() => {});
      server.listen(() => {});
    }, InfrastructureError);
  } finally {
    client.close();
    server.close();
  }
});

test('UNIX socket doorbell: connect retries until the server binds, then gives up at its deadline', async () => {
  const socketPath = freshPath();
  const connecting = UnixSocketDoorbell.connect({ path: socketPath, connectTimeoutMs: 3000 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const server = await UnixSocketDoorbell.serve({ path: socketPath, acceptTimeoutMs: 3000 });
  const client = await connecting;
  client.close();
  server.close();

  const start = Date.now();
  await assert.rejects(UnixSocketDoorbell.connect({ path: freshPath(), connectTimeoutMs: 100 }), (error: unknown) => {
    return error instanceof InfrastructureError && /within 100 ms/.test(error.message);
  });
  assert.ok(Date.now() - start < 2000);
});

test('UNIX socket doorbell: accept gives up at its deadline and removes the socket file', async () => {
  const socketPath = freshPath();
  const listener = await UnixSocketDoorbellListener.bind(socketPath);
  await assert.rejects(listener.accept(50), InfrastructureError);
  assert.equal(fs.existsSync(socketPath), false);
});

test('UNIX socket doorbell: bind replaces a stale socket file from an earlier run', async () => {
  const socketPath = freshPath();
  fs.writeFileSync(socketPath, 'stale');
  const listener = await UnixSocketDoorbellListener.bind(socketPath);
  assert.ok(fs.statSync(socketPath).isSocket());
  listener.close();
  assert.equal(fs.existsSync(socketPath), false);
});

interface Peer {
  child: ChildProcess;
  nextLine(): Promise<string>;
  exit: Promise<number | null>;
}

function startPeer(role: 'serve' | 'connect', socketPath: string, rounds: number): Peer {
  const child = spawn(process.execPath, [PEER, role, socketPath, String(rounds), '10000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exit,
    async nextLine() {
      const line = await lines.next();
      if (line.done) throw new Error('peer exited early');
      return line.value as string;
    },
  };
}

async function pingPong(doorbell: UnixSocketDoorbell, rounds: number): Promise<void> {
  let answers = 0;
  let waiting: (() => void) | undefined;
  const stop = doorbell.listen(() => {
    answers++;
    waiting?.();
  });
  try {
    for (let i = 1; i <= rounds; i++) {
      let timer: NodeJS.Timeout | undefined;
      const answered = new Promise<void>((resolve, reject) => {
        waiting = resolve;
        timer = setTimeout(() => reject(new Error(`no answer to kick ${i}`)), 5000);
      });
      doorbell.notify(i);
      try {
        await answered;
      } finally {
        clearTimeout(timer);
      }
    }
    assert.equal(answers, rounds);
  } finally {
    stop();
  }
}

test('UNIX socket doorbell: ping-pong with another process that connects (we are process 0)', async () => {
  const socketPath = freshPath();
  const listener = await UnixSocketDoorbellListener.bind(socketPath);
  const peer = startPeer('connect', socketPath, 100);
  try {
    const doorbell = await listener.accept(5000);
    try {
      assert.equal(await peer.nextLine(), 'ready');
      await pingPong(doorbell, 100);
      assert.equal(await peer.nextLine(), 'done 100');
      assert.equal(await peer.exit, 0);
      // The peer hung up: kicking it now is a crashed-remote error, not a silent loss.
      await waitFor(() => !doorbell.connected);
      assert.throws(() => doorbell.notify(0), RemoteCrashedError);
    } finally {
      doorbell.close();
    }
  } finally {
    listener.close();
    if (peer.child.exitCode === null) peer.child.kill('SIGKILL');
  }
  assert.equal(fs.existsSync(socketPath), false);
});

test('UNIX socket doorbell: ping-pong with another process that serves (we are process 1)', async () => {
  const socketPath = freshPath();
  const peer = startPeer('serve', socketPath, 100);
  try {
    // No wait for "ready": connect's retry covers the peer's start-up.
    const doorbell = await UnixSocketDoorbell.connect({ path: socketPath, connectTimeoutMs: 10_000 });
    try {
      await pingPong(doorbell, 100);
      assert.equal(await peer.nextLine(), 'ready');
      assert.equal(await peer.nextLine(), 'done 100');
      assert.equal(await peer.exit, 0);
    } finally {
      doorbell.close();
    }
  } finally {
    if (peer.child.exitCode === null) peer.child.kill('SIGKILL');
  }
  assert.equal(fs.existsSync(socketPath), false, 'the serving process removed its socket file');
});
