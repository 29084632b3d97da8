/**
 * The rpmsg helper and its client over a real SSH channel (a test sshd): a tty in raw mode
 * (a pty whose far side is `cat`, as an rpmsg-tty whose remote echoes) carries every byte
 * value unchanged; an ioctl the device refuses comes back as HelperRequestError naming the
 * target; EOF on its stdin ends the helper.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfrastructureError } from '../../base/errors.js';
import { ManagedProcess } from '../../base/process/managed-process.js';
import { ensureConsoleDouble, ensureRpmsgHelper } from '../../firmware/tools.js';
import { SshShell } from '../ssh/ssh-shell.js';
import { parseSshParams } from '../ssh/ssh-params.js';
import { startTestSshd, type TestSshd } from '../ssh/testing/sshd-for-tests.js';
import { HELPER_OP, HelperRequestError, RpmsgHelperClient, endpointInfo } from './rpmsg-helper-client.js';

let dir: string;
let sshd: TestSshd;
let shell: SshShell;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'farm-helper-test-'));
  sshd = await startTestSshd({ dir: join(dir, 'sshd') });
  shell = await SshShell.connect('board1', parseSshParams({ host: '127.0.0.1', port: sshd.port, privateKey: sshd.clientKey, hostKey: sshd.hostKey }, 'p'));
});

after(async () => {
  await shell?.close();
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A pty whose far side runs `program` (console-double relays between them). */
async function ptyRunning(program: readonly string[]): Promise<{ path: string; process: ManagedProcess }> {
  let output = '';
  // Only its first line (the pty's path) is read: a chatty program must not grow `output` for ever.
  const keep = (_stream: unknown, text: string) => {
    if (output.length < 4096) output += text;
  };
  const child = ManagedProcess.spawn({ name: `pty ${program[0]}`, file: await ensureConsoleDouble(), args: [...program], onOutput: keep });
  const deadline = Date.now() + 5000;
  for (;;) {
    const match = /^(\/dev\/pts\/\d+)\n/.exec(output);
    if (match) return { path: match[1] as string, process: child };
    if (Date.now() > deadline) throw new Error(`console-double printed no pty: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const echoPty = () => ptyRunning(['cat']);

test('a tty opened by the helper is raw: all 256 byte values round-trip unchanged; close; EOF ends the helper', async () => {
  const helper = await ensureRpmsgHelper('host');
  const pty = await echoPty();
  try {
    const client = await RpmsgHelperClient.start(await shell.openStream(`${helper} /dev/null`), 'board1', 5000);
    let received = Buffer.alloc(0);
    let gone: string | undefined;
    const handle = client.allocateHandle({ onMessage: (data) => (received = Buffer.concat([received, data])), onGone: (reason) => (gone = reason) });
    const opened = await client.request(HELPER_OP.OPEN_TTY, handle, Buffer.from(pty.path), 'open tty', 5000);
    assert.equal(opened.toString(), pty.path);
    // Every byte value, including ^C, ^D, ^S, CR, LF, DEL: a cooked tty would eat or translate them.
    const payload = Buffer.from(Array.from({ length: 256 }, (_, value) => value));
    await client.request(HELPER_OP.SEND, handle, payload, 'send', 5000);
    const deadline = Date.now() + 5000;
    while (received.length < payload.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(received, payload);
    await client.request(HELPER_OP.CLOSE, handle, new Uint8Array(0), 'close', 5000);
    assert.equal(gone, undefined, 'a closed handle reports no GONE');
    await assert.rejects(client.request(HELPER_OP.SEND, handle, payload, 'send after close', 5000), (error: unknown) => error instanceof HelperRequestError && /^board1: send after close: SEND on a closed handle/.test(error.message));
    client.close();
    assert.match(client.ended ?? '', /closed/);
  } finally {
    await pty.process.stop();
  }
});

test('an endpoint ioctl the device refuses is a HelperRequestError naming the target; a missing control device ends the helper at start', async () => {
  const helper = await ensureRpmsgHelper('host');
  const client = await RpmsgHelperClient.start(await shell.openStream(`${helper} /dev/null`), 'board1', 5000);
  // The ready frame names the helper's own process (the test sshd runs on this machine: same pids).
  assert.ok(client.pid !== undefined && client.pid > 1, `helper pid ${client.pid}`);
  assert.ok(readFileSync(`/proc/${client.pid}/cmdline`, 'latin1').startsWith(helper), 'the pid is the helper\'s');
  const handle = client.allocateHandle({ onMessage: () => {}, onGone: () => {} });
  await assert.rejects(
    client.request(HELPER_OP.OPEN_EPT, handle, endpointInfo('rpmsg-openamp-demo-channel', 0xffffffff, 0x400), 'RPMSG_CREATE_EPT_IOCTL', 5000),
    (error: unknown) => error instanceof HelperRequestError && /^board1: RPMSG_CREATE_EPT_IOCTL: RPMSG_CREATE_EPT_IOCTL: Inappropriate ioctl for device \(errno 25\)$/.test(error.message),
  );
  client.close();
  await assert.rejects(
    RpmsgHelperClient.start(await shell.openStream(`${helper} /dev/no-rpmsg-ctrl`), 'board1', 5000),
    (error: unknown) => error instanceof InfrastructureError && /^board1: the rpmsg helper (exited \(exit 1\)|'s SSH channel closed)/.test(error.message),
  );
});

test('endpointInfo is struct rpmsg_endpoint_info: name[32] NUL-padded, src and dst little-endian', () => {
  const info = endpointInfo('rpmsg-tty', 257, 0xffffffff);
  assert.equal(info.length, 40);
  assert.equal(info.subarray(0, 9).toString(), 'rpmsg-tty');
  assert.ok(info.subarray(9, 32).every((byte) => byte === 0));
  assert.equal(info.readUInt32LE(32), 257);
  assert.equal(info.readUInt32LE(36), 0xffffffff);
  assert.equal(endpointInfo('x'.repeat(40), 1, 2).subarray(0, 32).indexOf(0), 31, 'a long name is cut to 31 bytes and NUL-terminated');
});

test('closing a tty while its far side floods answers every time: the reader is never cancelled in the middle of a reply (which left the output lock held)', async () => {
  const helper = await ensureRpmsgHelper('host');
  const pty = await ptyRunning(['yes', 'a line the remote repeats for ever']);
  try {
    const client = await RpmsgHelperClient.start(await shell.openStream(`${helper} /dev/null`), 'board1', 5000);
    for (let round = 0; round < 40; round++) {
      let bytes = 0;
      const handle = client.allocateHandle({ onMessage: (data) => (bytes += data.length), onGone: () => {} });
      await client.request(HELPER_OP.OPEN_TTY, handle, Buffer.from(pty.path), 'open tty', 5000);
      const deadline = Date.now() + 5000;
      while (bytes === 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
      assert.ok(bytes > 0, `round ${round}: the flood reached the reader`);
      await client.request(HELPER_OP.CLOSE, handle, new Uint8Array(0), `close (round ${round})`, 5000);
      client.releaseHandle(handle);
    }
    assert.equal(client.ended, undefined);
    client.close();
  } finally {
    await pty.process.stop();
  }
});
