/**
 * The farm's connection to a MicroPython board: its USB serial port (opened by its stable
 * /dev/serial/by-id path with serialport), the raw REPL on it, one exec at a time, files put on
 * the board's filesystem only when their hash differs (as `mpremote cp`), and reopening after
 * the board reset itself (the port vanishes and comes back under the same path).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { InfrastructureError } from '../../base/errors.js';
import { SerialConsole, SerialPortClosedError } from '../../base/serial/serial-console.js';
import { RawRepl, type ExecResult } from './raw-repl.js';

export interface BoardConnectionOptions {
  /** Stable path of the board's USB serial port (/dev/serial/by-id/usb-...). */
  readonly port: string;
  readonly baudRate: number;
  /** Names the board in errors and logs. */
  readonly name: string;
  readonly rawPaste: boolean;
  /** Every chunk from the board (the live console of `farm up`). */
  readonly onText?: (text: string) => void;
  readonly log: (line: string) => void;
}

/** The board's port did not come back (after a reset) or never appeared. */
export class BoardPortMissingError extends InfrastructureError {}

const FILE_CHUNK = 4096;

export class BoardConnection {
  private console: SerialConsole | undefined;
  private repl: RawRepl | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: BoardConnectionOptions) {}

  get connected(): boolean {
    return this.console !== undefined;
  }

  /** Opens the port (waiting for it to exist until the deadline) and enters the raw REPL. */
  async open(options: { timeoutMs: number }): Promise<void> {
    const deadline = Date.now() + options.timeoutMs;
    await this.dropConsole();
    let lastError = 'it does not exist';
    for (;;) {
      if (this.closed) throw new InfrastructureError(`${this.options.name}: connection closed`);
      if (fs.existsSync(this.options.port)) {
        try {
          const console = await SerialConsole.open({ path: this.options.port, baudRate: this.options.baudRate, name: 'repl', ...(this.options.onText ? { onText: this.options.onText } : {}) });
          this.console = console;
          this.repl = new RawRepl(console, { name: this.options.name, rawPaste: this.options.rawPaste, log: this.options.log });
          await this.repl.enter({ timeoutMs: Math.max(1000, deadline - Date.now()) });
          return;
        } catch (error) {
          // The port may be half there (a reset under way): keep trying until the deadline.
          lastError = error instanceof Error ? error.message : String(error);
          await this.dropConsole();
        }
      }
      if (Date.now() >= deadline) {
        throw new BoardPortMissingError(`${this.options.name}: cannot reach the board's serial port ${this.options.port} within ${options.timeoutMs} ms (${lastError})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Runs `code` in the raw REPL; execs are serialized. */
  exec(code: string, options: { timeoutMs: number }): Promise<ExecResult> {
    const run = this.queue.then(async () => {
      const repl = this.repl;
      if (!repl) throw new SerialPortClosedError(`${this.options.name}: the board's serial port is not open`);
      return repl.exec(code, options);
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** Console text since the last take. */
  takeCapture(): string {
    return this.console?.takeCapture() ?? '';
  }

  /**
   * Puts `data` at `remotePath` on the board unless a file with the same SHA-256 is there
   * (mpremote cp's check). Returns whether it wrote.
   */
  async putFile(data: Uint8Array, remotePath: string, options: { timeoutMs: number }): Promise<boolean> {
    const want = createHash('sha256').update(data).digest('hex');
    const have = (await this.exec(hashScript(remotePath), options)).stdout.trim();
    if (have === want) return false;
    const dir = remotePath.slice(0, remotePath.lastIndexOf('/'));
    await this.exec(
      `import os\ntry:\n    os.mkdir(${pyString(dir)})\nexcept OSError:\n    pass\n_farm_f = open(${pyString(remotePath + '.part')}, 'wb')`,
      options,
    );
    for (let offset = 0; offset < data.length; offset += FILE_CHUNK) {
      const chunk = Buffer.from(data.subarray(offset, offset + FILE_CHUNK)).toString('hex');
      await this.exec(`_farm_f.write(bytes.fromhex('${chunk}'))`, options);
    }
    // Written whole, then renamed: a reset half-way leaves no truncated file under the name.
    await this.exec(`_farm_f.close()\ndel _farm_f\nimport os\nos.rename(${pyString(remotePath + '.part')}, ${pyString(remotePath)})`, options);
    const check = (await this.exec(hashScript(remotePath), options)).stdout.trim();
    if (check !== want) throw new InfrastructureError(`${this.options.name}: ${remotePath} on the board has SHA-256 ${check} after the copy, expected ${want}`);
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.dropConsole();
  }

  /** Forgets the port (it vanished with a reset, or we reopen it). */
  async dropConsole(): Promise<void> {
    const console = this.console;
    this.console = undefined;
    this.repl = undefined;
    await console?.close().catch(() => {});
  }
}

/** A Python string literal for `text` (paths and names we send). */
export function pyString(text: string): string {
  return JSON.stringify(text);
}

function hashScript(path: string): string {
  return [
    'import hashlib, binascii',
    'try:',
    `    _farm_f = open(${pyString(path)}, 'rb')`,
    '    _farm_h = hashlib.sha256()',
    '    while True:',
    '        _farm_b = _farm_f.read(512)',
    '        if not _farm_b:',
    '            break',
    '        _farm_h.update(_farm_b)',
    '    _farm_f.close()',
    '    print(binascii.hexlify(_farm_h.digest()).decode())',
    'except OSError:',
    "    print('-')",
  ].join('\n');
}
