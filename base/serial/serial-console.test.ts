/**
 * SerialConsole on a real pseudo-terminal (raw, or left cooked to check serialport makes it
 * raw), and on a UNIX socket (QEMU's socket chardev, with
 * the firmware's in-band kick byte). A small python3 helper opens the pty pair (raw, no
 * echo), prints the device path, writes to the master side what it is told on stdin and reports
 * what arrives from our side; its exit makes the device vanish.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InfrastructureError, TimeoutError } from '../errors.js';
import { findExecutable } from '../process/managed-process.js';
import type { ConsoleProtocol } from '../../targets/protocols.js';
import { SerialConsole, SerialPortClosedError } from './serial-console.js';

const HELPER = `
import os, pty, sys, termios, threading, tty
master, slave = pty.openpty()
# 'cooked' leaves the kernel's default line discipline (ICRNL, ONLCR, ECHO, ICANON, ISIG, IEXTEN):
# what SerialConsole.open must undo itself. Otherwise raw, as QEMU sets its pty (cfmakeraw).
if sys.argv[1:] != ['cooked']:
    tty.setraw(slave)
print(os.ttyname(slave), flush=True)
def modes():
    iflag, oflag, _, lflag = termios.tcgetattr(slave)[:4]
    names = [n for n, f, m in [('ICRNL', termios.ICRNL, iflag), ('INLCR', termios.INLCR, iflag), ('IGNCR', termios.IGNCR, iflag), ('ISTRIP', termios.ISTRIP, iflag), ('IXON', termios.IXON, iflag),
                                ('OPOST', termios.OPOST, oflag), ('ECHO', termios.ECHO, lflag), ('ICANON', termios.ICANON, lflag), ('ISIG', termios.ISIG, lflag), ('IEXTEN', termios.IEXTEN, lflag)] if m & f]
    print('modes ' + ','.join(names), flush=True)
def pump():
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            return
        if not data:
            return
        print('got ' + data.hex(), flush=True)
threading.Thread(target=pump, daemon=True).start()
for line in sys.stdin:
    line = line.rstrip('\\n')
    if line == 'exit':
        break
    if line == 'modes':
        modes()
        continue
    os.write(master, bytes.fromhex(line))
os.close(master)
`;

interface PtyPeer {
  readonly path: string;
  /** Makes the far side send `text`. */
  send(text: string): void;
  /** Resolves with the bytes our side wrote once `count` have arrived. */
  received(count: number): Promise<Buffer>;
  /** The slave side's line-discipline flags that are set, among ICRNL INLCR IGNCR ISTRIP IXON OPOST ECHO ICANON ISIG IEXTEN. */
  modes(): Promise<string[]>;
  /** Closes the master side: the device vanishes. */
  vanish(): Promise<void>;
}

const python = findExecutable('python3');
const skip = python ? false : 'python3 is not installed (the test opens its pty pair with python3 -c "import pty")';

async function ptyPeer(discipline: 'raw' | 'cooked' = 'raw'): Promise<PtyPeer> {
  const child: ChildProcessWithoutNullStreams = spawn(python!, ['-c', HELPER, discipline], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let got = Buffer.alloc(0);
  const listeners = new Set<() => void>();
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    out += text;
    for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      if (line.startsWith('got ')) got = Buffer.concat([got, Buffer.from(line.slice(4), 'hex')]);
      else lines.push(line);
      for (const listener of [...listeners]) listener();
    }
  });
  const lines: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const until = (condition: () => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`pty helper: no ${what} within 5 s`));
      }, 5000);
      const check = (): void => {
        if (!condition()) return;
        clearTimeout(timer);
        listeners.delete(check);
        resolve();
      };
      listeners.add(check);
      check();
    });
  await until(() => lines.length > 0, 'device path');
  return {
    path: lines[0]!,
    send: (text) => child.stdin.write(Buffer.from(text, 'latin1').toString('hex') + '\n'),
    received: async (count) => {
      await until(() => got.length >= count, `${count} bytes`);
      return got;
    },
    modes: async () => {
      const seen = lines.length;
      child.stdin.write('modes\n');
      await until(() => lines.length > seen, 'modes');
      return lines[seen]!.slice('modes '.length).split(',').filter(Boolean);
    },
    vanish: async () => {
      child.stdin.end('exit\n');
      await exited;
    },
  };
}

test('SerialConsole reads lines from a pty: waitFor (string, regex, since), take, position, onText; writes reach the far side', { skip, timeout: 20_000 }, async () => {
  const peer = await ptyPeer();
  const chunks: string[] = [];
  const console = await SerialConsole.open({ path: peer.path, name: 'uart0', onText: (text) => chunks.push(text) });
  try {
    assert.equal(console.path, peer.path);
    peer.send('boot: waiting for ');
    peer.send('DRIVER_OK\r\n');
    const history = await console.waitFor('waiting for DRIVER_OK\r\n', { timeoutMs: 5000 });
    assert.equal(history, 'boot: waiting for DRIVER_OK\r\n');
    assert.equal(chunks.join(''), history, 'onText saw every byte once');
    assert.equal(console.take(), history);
    assert.equal(console.take(), '', 'take empties what was unread');

    const mark = console.position;
    assert.equal(mark, history.length);
    peer.send('rpmsg: announced 0x400\r\n');
    await console.waitFor(/announced (0x[0-9a-f]+)\r\n/, { since: mark });
    // "boot:" is before the mark: not found from there.
    await assert.rejects(console.waitFor('boot:', { since: mark, timeoutMs: 100 }), (error: unknown) => {
      assert.ok(error instanceof TimeoutError, String(error));
      assert.match((error as Error).message, /uart0: no boot: on \/dev\/pts\/\d+ within 100 ms; last output: ".*announced 0x400/);
      return true;
    });
    assert.equal(console.text(), 'boot: waiting for DRIVER_OK\r\nrpmsg: announced 0x400\r\n');

    await console.write('ping\n');
    await console.write(new Uint8Array([0x00, 0xff, 0x7f]));
    assert.deepEqual([...(await peer.received(8))], [...Buffer.from('ping\n', 'latin1'), 0x00, 0xff, 0x7f]);
  } finally {
    await console.close();
    await peer.vanish();
  }
});

test('SerialConsole keeps a rolling history of historyLimit characters; positions stay absolute', { skip, timeout: 20_000 }, async () => {
  const peer = await ptyPeer();
  const console = await SerialConsole.open({ path: peer.path, historyLimit: 16 });
  try {
    peer.send('0123456789');
    await console.waitFor('9');
    peer.send('abcdefghij');
    await console.waitFor('j');
    assert.equal(console.text(), '456789abcdefghij');
    assert.equal(console.position, 20);
    assert.equal(console.take(), '0123456789abcdefghij', 'the take log is not cut by the history limit');
    await console.waitFor('f', { since: 15 });
    await assert.rejects(console.waitFor('e', { since: 15, timeoutMs: 50 }), TimeoutError);
  } finally {
    await console.close();
    await peer.vanish();
  }
});

test('SerialConsole: a vanishing device fails waits and writes with a typed error, and never crashes the process', { skip, timeout: 20_000 }, async () => {
  const peer = await ptyPeer();
  const console = await SerialConsole.open({ path: peer.path, name: 'uart0' });
  try {
    peer.send('alive\r\n');
    await console.waitFor('alive');
    const waiting = console.waitFor('never printed', { timeoutMs: 10_000 });
    const started = Date.now();
    const rejected = assert.rejects(waiting, (error: unknown) => {
      assert.ok(error instanceof SerialPortClosedError && error instanceof InfrastructureError, String(error));
      assert.match((error as Error).message, /uart0: serial port \/dev\/pts\/\d+ closed.* while waiting for never printed/);
      return true;
    });
    await peer.vanish();
    await rejected;
    assert.ok(Date.now() - started < 5000, 'rejected when the device went, not at the deadline');
    // Later calls fail at once instead of waiting out their deadline or hanging.
    await assert.rejects(console.waitFor('anything', { timeoutMs: 10_000 }), SerialPortClosedError);
    await assert.rejects(console.write('late'), SerialPortClosedError);
    assert.equal(console.text(), 'alive\r\n', 'what arrived before stays readable');
  } finally {
    await console.close();
  }
});

test('SerialConsole.open on a missing device is an InfrastructureError naming the path', async () => {
  await assert.rejects(SerialConsole.open({ path: '/dev/farm-no-such-tty' }), (error: unknown) => {
    assert.ok(error instanceof InfrastructureError, String(error));
    assert.match((error as Error).message, /cannot open serial port \/dev\/farm-no-such-tty/);
    return true;
  });
});

test('SerialConsole.open makes a pty raw whatever its line discipline was: from the kernel\'s cooked defaults, every byte 0x00-0xff (the kick byte 0x05, CR, LF, ^C, ^D, ^S, ^V, DEL among them) arrives unmodified and in order, none is echoed back, our writes are not translated, and 0x05 with a kick option rings onKick and is stripped', { skip, timeout: 20_000 }, async () => {
  const peer = await ptyPeer('cooked');
  assert.deepEqual(await peer.modes(), ['ICRNL', 'IXON', 'OPOST', 'ECHO', 'ICANON', 'ISIG', 'IEXTEN'], 'the helper left the kernel defaults');
  const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  let console = await SerialConsole.open({ path: peer.path, name: 'uart0' });
  try {
    assert.deepEqual(await peer.modes(), [], 'serialport cleared every translation, echo, canonical mode and signals');
    peer.send(every.toString('latin1'));
    await console.waitFor(every.subarray(200).toString('latin1'), { timeoutMs: 5000 });
    assert.deepEqual(Buffer.from(console.take(), 'latin1'), every, 'all 256 bytes, unmodified, in order');
    await console.write(new Uint8Array([0x05, 0x0a, 0x0d, 0x41]));
    // With ECHO on, the 256 bytes sent above would have come back to the master before these 4.
    assert.deepEqual([...(await peer.received(4))], [0x05, 0x0a, 0x0d, 0x41], 'no echo, no ONLCR / ICRNL on our writes');
    await console.close();

    let kicks = 0;
    console = await SerialConsole.open({ path: peer.path, name: 'uart0', kick: { byte: 0x05, onKick: () => kicks++ } });
    peer.send('fw: up\x05\r\n');
    await console.waitFor('fw: up\r\n');
    for (let i = 0; i < 200 && kicks === 0; i++) await sleep(5);
    assert.equal(kicks, 1, 'the kick byte rang once');
    assert.equal(console.take(), 'fw: up\r\n', 'and was stripped from the text');
  } finally {
    await console.close();
    await peer.vanish();
  }
});

/** A UNIX socket server standing for QEMU's `-chardev socket,server=on`; resolves with our connection. */
async function socketPeer(): Promise<{ path: string; connected: Promise<net.Socket>; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'serial-console-socket-'));
  const path = join(dir, 'uart');
  let resolveConnected: (socket: net.Socket) => void = () => {};
  const connected = new Promise<net.Socket>((resolve) => (resolveConnected = resolve));
  const server = net.createServer((socket) => resolveConnected(socket));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    connected,
    close: async () => {
      (await Promise.race([connected, Promise.resolve(undefined)]))?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('SerialConsole on a socket with an in-band kick byte: each chunk holding it calls onKick; the byte never reaches history, take or onText; writes reach the far side; the far side closing fails waits', { timeout: 20_000 }, async () => {
  const peer = await socketPeer();
  const chunks: string[] = [];
  let kicks = 0;
  const console = await SerialConsole.connect({ path: peer.path, name: 'uart0', onText: (text) => chunks.push(text), kick: { byte: 0x05, onKick: () => kicks++ } });
  try {
    const far = await peer.connected;
    far.write(Buffer.from('fw: DRIVER_OK\x05\r\nrpmsg: \x05\x05NS CREATE\r\n', 'latin1'));
    await console.waitFor('NS CREATE\r\n');
    assert.ok(kicks >= 1 && kicks <= 3, `kicks: ${kicks}`);
    assert.equal(console.text(), 'fw: DRIVER_OK\r\nrpmsg: NS CREATE\r\n');
    assert.equal(chunks.join(''), console.text(), 'onText saw the text without kick bytes');
    assert.equal(console.take(), 'fw: DRIVER_OK\r\nrpmsg: NS CREATE\r\n');

    // A chunk of kicks alone: a doorbell event, no text.
    const before = kicks;
    const position = console.position;
    far.write(Buffer.from([0x05]));
    for (let i = 0; i < 200 && kicks === before; i++) await sleep(5);
    assert.equal(kicks, before + 1);
    assert.equal(console.position, position, 'no text arrived');
    assert.equal(console.take(), '');
    assert.equal(chunks.join('').includes('\x05'), false);

    const got: Buffer[] = [];
    far.on('data', (chunk: Buffer) => got.push(chunk));
    await console.write('ping\n');
    for (let i = 0; i < 200 && Buffer.concat(got).length < 5; i++) await sleep(5);
    assert.equal(Buffer.concat(got).toString('latin1'), 'ping\n');

    far.destroy();
    await assert.rejects(console.waitFor('never', { timeoutMs: 5000 }), SerialPortClosedError);
  } finally {
    await console.close();
    await peer.close();
  }
});

test('SerialConsole.connect to a missing socket is an InfrastructureError naming the path', async () => {
  await assert.rejects(SerialConsole.connect({ path: '/tmp/farm-no-such-console-socket' }), (error: unknown) => {
    assert.ok(error instanceof InfrastructureError, String(error));
    assert.match((error as Error).message, /farm-no-such-console-socket/);
    return true;
  });
});

test('SerialConsole as ConsoleProtocol: expect consumes up to each match (string, RegExp groups, before), times out naming console and pattern, fails at once when closed; onData subscribes and unsubscribes; takeCapture tags each line with the console name', { timeout: 20_000 }, async () => {
  const peer = await socketPeer();
  const seen: string[] = [];
  const console: ConsoleProtocol = await SerialConsole.connect({ path: peer.path, name: 'uart0' });
  try {
    const unsubscribe = console.onData((text) => seen.push(text));
    const far = await peer.connected;
    far.write('login: root\r\n# ');
    const prompt = await console.expect('# ', { timeoutMs: 5000 });
    assert.deepEqual(prompt, { match: '# ', groups: [], before: 'login: root\r\n' });
    // The same prompt again is not found: the first one was consumed.
    await assert.rejects(console.expect('# ', { timeoutMs: 100 }), (error: unknown) => {
      assert.ok(error instanceof TimeoutError, String(error));
      assert.match((error as Error).message, /uart0: no "# " on .* within 100 ms/);
      return true;
    });
    far.write('echo $?\r\n0\r\n# ');
    const exit = await console.expect(/^(\d+)\r\n/m, { timeoutMs: 5000 });
    assert.equal(exit.match, '0\r\n');
    assert.deepEqual(exit.groups, ['0']);
    assert.equal(exit.before, 'echo $?\r\n');
    const global = /# /g;
    global.lastIndex = 99;
    assert.equal((await console.expect(global, { timeoutMs: 5000 })).before, '', 'a global RegExp is searched from the unread text, its lastIndex ignored');
    assert.equal(global.lastIndex, 99, 'and left alone');
    unsubscribe();
    far.write('after\r\n');
    await console.expect('after', { timeoutMs: 5000 });
    assert.equal(seen.join(''), 'login: root\r\n# echo $?\r\n0\r\n# ', 'onData saw every chunk until unsubscribed');
    assert.equal(console.takeCapture(), '[uart0] login: root\r\n[uart0] # echo $?\r\n[uart0] 0\r\n[uart0] # after\r\n');
    assert.equal(console.takeCapture(), '');
    far.destroy();
    await assert.rejects(console.expect('never', { timeoutMs: 5000 }), SerialPortClosedError);
  } finally {
    await console.close();
    await console.close();
    await peer.close();
  }
});
