import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { UnixSocketDoorbell } from './unix-socket-doorbell.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorbell-gone-test-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

/** A raw peer (process 0) that kicks once and closes at once, as a remote exiting after its last message. */
async function kickAndVanish(socketPath: string, whenConnected: (peer: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer((peer) => whenConnected(peer));
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return server;
}

test('a peer that kicks and closes at once: the listener looks one last time, then peer-gone listeners hear it; later kicks are dropped, not thrown', async () => {
  const socketPath = path.join(dir, 'event.0');
  const server = await kickAndVanish(socketPath, (peer) => peer.end(Buffer.from([0])));
  const bell = await UnixSocketDoorbell.connect({ path: socketPath });
  try {
    const calls: string[] = [];
    bell.listen(() => calls.push('look'));
    const gone = new Promise<Error>((resolve) => bell.onPeerGone((reason) => resolve(reason)));
    const reason = await gone;
    calls.push('gone');
    assert.match(reason.message, /closed the socket/);
    // The kick byte and the final look both precede the news; at least one look happened first.
    assert.ok(calls.indexOf('look') >= 0 && calls.indexOf('look') < calls.indexOf('gone'), calls.join(','));
    assert.equal(calls.at(-2), 'look', 'a last look right before the peer-gone report');
    assert.equal(bell.connected, false);
    bell.notify(1); // the host listens for peer-gone: a kick into the void is dropped
  } finally {
    bell.close();
    server.close();
  }
});

test('without a peer-gone listener, kicking a gone peer still throws RemoteCrashedError', async () => {
  const socketPath = path.join(dir, 'event.1');
  const server = await kickAndVanish(socketPath, (peer) => peer.destroy());
  const bell = await UnixSocketDoorbell.connect({ path: socketPath });
  try {
    bell.listen(() => {});
    const deadline = Date.now() + 5000;
    while (bell.connected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.throws(() => bell.notify(1), (e: unknown) => (e as Error).name === 'RemoteCrashedError[protocol]');
  } finally {
    bell.close();
    server.close();
  }
});
