/**
 * The raw REPL driver against the real MicroPython (the board double without its M4: the
 * interpreter behind a pty, opened with serialport like a board's USB CDC port), and the
 * raw-paste flow against a scripted device (the WASM port cannot serve raw-paste).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialConsole } from '../../base/serial/serial-console.js';
import { InfrastructureError, ProtocolError, TimeoutError } from '../../base/errors.js';
import type { ConsoleMatch, ConsoleProtocol } from '../protocols.js';
import { BoardDouble } from './testing/board-double.js';
import { MicroPythonError, RAW_REPL_BANNER, RawRepl, ReplUnresponsiveError, ScriptTimeoutError } from './raw-repl.js';

let dir: string;
let board: BoardDouble;
let console: SerialConsole;
let repl: RawRepl;
const logged: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'farm-mpy-repl-'));
  board = new BoardDouble({ dir, withM4: false });
  await board.start();
  console = await SerialConsole.open({ path: board.serialPath, name: 'repl' });
  repl = new RawRepl(console, { name: 'double', log: (line) => logged.push(line) });
  await repl.enter({ timeoutMs: 5000 });
});

after(async () => {
  await console?.close();
  await board?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('exec returns the stdout of the real interpreter; raw-paste R\\x00 falls back to the plain raw REPL', async () => {
  const result = await repl.exec('import sys\nprint(sys.implementation.name, 6 * 7)', { timeoutMs: 5000 });
  assert.equal(result.stdout, 'micropython 42\n');
  assert.ok(logged.some((line) => line.includes('raw-paste not supported by the device (R\\x00)')), logged.join('\n'));
  // State is kept between execs, as mpremote relies on.
  await repl.exec('x = 5', { timeoutMs: 5000 });
  assert.equal((await repl.exec('print(x * 2)', { timeoutMs: 5000 })).stdout, '10\n');
});

test('a script that raises is a MicroPythonError (protocol class) carrying the traceback; the REPL stays usable', async () => {
  await assert.rejects(repl.exec('def f():\n    raise OSError(110)\nf()', { timeoutMs: 5000 }), (error: unknown) => {
    assert.ok(error instanceof MicroPythonError);
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.exceptionType, 'OSError');
    assert.match(error.traceback, /Traceback \(most recent call last\):/);
    assert.match(error.traceback, /line 2, in f/);
    assert.match(error.message, /MicroPython raised OSError/);
    return true;
  });
  assert.equal((await repl.exec('print("still here")', { timeoutMs: 5000 })).stdout, 'still here\n');
});

test('a script that hangs is broken with Ctrl-C at its deadline (ScriptTimeoutError) and the REPL recovers', async () => {
  const started = Date.now();
  await assert.rejects(repl.exec('import time\nprint("looping")\nwhile True:\n    time.sleep_ms(10)', { timeoutMs: 800 }), (error: unknown) => {
    assert.ok(error instanceof ScriptTimeoutError, String(error));
    assert.ok(error instanceof TimeoutError);
    assert.match(error.message, /broken with Ctrl-C/);
    return true;
  });
  assert.ok(Date.now() - started < 800 + 2500, `took ${Date.now() - started} ms`);
  assert.equal((await repl.exec('print(1 + 1)', { timeoutMs: 5000 })).stdout, '2\n');
});

test('Ctrl-C also ends a long time.sleep_ms (the double turns it into KeyboardInterrupt)', async () => {
  const started = Date.now();
  await assert.rejects(repl.exec('import time\ntime.sleep_ms(600000)\nwhile True:\n    time.sleep_ms(1)', { timeoutMs: 500 }), ScriptTimeoutError);
  assert.ok(Date.now() - started < 3000);
  assert.equal((await repl.exec('print("ok")', { timeoutMs: 5000 })).stdout, 'ok\n');
});

test('garbage on the line between execs is skipped and logged; garbage mid-exec ends in a result or a classified error, never a hang', async () => {
  board.injectSerialOutput(Buffer.from('\x00\xff\x04>OK garbage\r\n\x04\x04>', 'latin1'));
  await new Promise((resolve) => setTimeout(resolve, 100));
  const result = await repl.exec('print("clean")', { timeoutMs: 5000 });
  assert.equal(result.stdout, 'clean\n');
  assert.ok(result.skipped.includes('garbage'), JSON.stringify(result.skipped));
  // Noise while a script runs: either the real output still parses, or the driver says what it
  // could not parse: within the deadline, as a classified error.
  for (let round = 0; round < 5; round++) {
    const started = Date.now();
    const running = repl.exec('import time\ntime.sleep_ms(50)\nprint("after noise")', { timeoutMs: 3000 });
    setTimeout(() => board.injectSerialOutput(Buffer.from('\x1b[2J\x04noise\x04', 'latin1')), 10);
    try {
      const output = await running;
      assert.equal(typeof output.stdout, 'string');
    } catch (error) {
      assert.ok(error instanceof ProtocolError || error instanceof InfrastructureError, String(error));
    }
    assert.ok(Date.now() - started < 3000 + 3000, `round ${round} took ${Date.now() - started} ms`);
    await repl.enter({ timeoutMs: 5000 });
    assert.equal((await repl.exec('print("resynced")', { timeoutMs: 5000 })).stdout, 'resynced\n');
  }
});

test('soft reset (Ctrl-D at the raw prompt) comes back at the raw prompt with a fresh interpreter', async () => {
  await repl.exec('marker = 1', { timeoutMs: 5000 });
  await repl.softReset({ timeoutMs: 5000 });
  await assert.rejects(repl.exec('print(marker)', { timeoutMs: 5000 }), (error: unknown) => error instanceof MicroPythonError && error.exceptionType === 'NameError');
});

test('Ctrl-B leaves for the friendly REPL and enter() comes back', async () => {
  await repl.exit();
  await console.expect('>>> ', { timeoutMs: 5000 });
  await repl.enter({ timeoutMs: 5000 });
  assert.equal((await repl.exec('print("raw again")', { timeoutMs: 5000 })).stdout, 'raw again\n');
});

test('a script Ctrl-C cannot break (the WASM port has no VM hook) is ReplUnresponsiveError at its deadline; a chip reset brings the board back', async () => {
  const started = Date.now();
  await assert.rejects(repl.exec('while True:\n    pass', { timeoutMs: 500 }), (error: unknown) => {
    assert.ok(error instanceof ReplUnresponsiveError, String(error));
    assert.ok(error instanceof InfrastructureError);
    assert.match(error.message, /Ctrl-C did not break it/);
    return true;
  });
  assert.ok(Date.now() - started < 500 + 2000 + 2000, `took ${Date.now() - started} ms`);
  const boots = board.bootCount;
  await console.close();
  await board.reset();
  await board.waitForBoot(boots, 10_000);
  console = await SerialConsole.open({ path: board.serialPath, name: 'repl' });
  repl = new RawRepl(console, { name: 'double' });
  await repl.enter({ timeoutMs: 5000 });
  assert.equal((await repl.exec('print("back")', { timeoutMs: 5000 })).stdout, 'back\n');
});

/** A device speaking raw-paste with a 4-byte window, scripted byte by byte. */
class ScriptedPasteDevice implements ConsoleProtocol {
  readonly name = 'scripted';
  readonly written: string[] = [];
  private pending = '';
  private waiting: (() => void) | undefined;
  private received = '';
  private code = '';

  async write(data: string | Uint8Array): Promise<void> {
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
    this.written.push(text);
    if (text === '\x05A\x01') return this.emit('R\x01\x04\x00');
    this.received += text;
    if (this.received.endsWith('\x04')) {
      this.code += this.received.slice(0, -1);
      this.received = '';
      return this.emit(`\x04${this.code === 'print(1)' ? '1\r\n' : ''}\x04\x04>`);
    }
    // A window of 4 bytes used up: grant another.
    if (this.received.length % 4 === 0) this.emit('\x01');
  }

  private emit(text: string): void {
    this.pending += text;
    this.waiting?.();
  }

  async expect(pattern: string | RegExp, options: { timeoutMs: number }): Promise<ConsoleMatch> {
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      const regex = typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : pattern;
      const found = regex.exec(this.pending);
      if (found) {
        const before = this.pending.slice(0, found.index);
        this.pending = this.pending.slice(found.index + found[0].length);
        return { match: found[0], groups: [], before };
      }
      if (Date.now() >= deadline) throw new TimeoutError(`scripted: no ${String(pattern)}`);
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
        setTimeout(resolve, 20);
      });
    }
  }

  onData(): () => void {
    return () => {};
  }

  takeCapture(): string {
    return '';
  }

  async close(): Promise<void> {}
}

test('raw-paste: the code goes in window-sized chunks, each after a grant, then Ctrl-D; no OK is expected', async () => {
  const device = new ScriptedPasteDevice();
  const pasting = new RawRepl(device, { name: 'scripted' });
  const result = await pasting.exec('print(1)', { timeoutMs: 2000 });
  assert.equal(result.stdout, '1\r\n');
  assert.deepEqual(device.written, ['\x05A\x01', 'prin', 't(1)', '\x04']);
});

test('a device that never answers is ReplUnresponsiveError (infrastructure) at the deadline', async () => {
  const silent: ConsoleProtocol = {
    name: 'silent',
    write: async () => {},
    expect: async (pattern, options) => {
      await new Promise((resolve) => setTimeout(resolve, options.timeoutMs));
      throw new TimeoutError(`silent: no ${String(pattern)}`);
    },
    onData: () => () => {},
    takeCapture: () => '',
    close: async () => {},
  };
  const started = Date.now();
  await assert.rejects(new RawRepl(silent, { name: 'silent' }).enter({ timeoutMs: 600 }), ReplUnresponsiveError);
  assert.ok(Date.now() - started < 3000);
  assert.ok(RAW_REPL_BANNER.endsWith('>'));
});
