import * as fs from 'node:fs';
import * as net from 'node:net';
import type * as serialportModule from 'serialport';
import { lazyRequire } from '../lazy-require.js';
import { InfrastructureError, TimeoutError } from '../errors.js';

const serialport = lazyRequire<typeof serialportModule>('serialport');

export interface SerialConsoleOptions {
  /** Device path: /dev/ttyUSB0, /dev/ttyACM0, or a pseudo-terminal such as QEMU's /dev/pts/N. */
  readonly path: string;
  readonly baudRate?: number;
  /** Stream name for logs ("uart0"). */
  readonly name?: string;
  /** Every chunk as it arrives. */
  readonly onText?: (text: string) => void;
  /** Most text kept for `waitFor`; older text is dropped (the `take` log is separate). Default 1 MiB. */
  readonly historyLimit?: number;
  /**
   * An in-band doorbell on this UART: each chunk holding `byte` calls `onKick` once (one look at
   * the rings serves every kick that arrived together), and the byte is removed from the text
   * (history, `take`, `onText`). For firmware that kicks with a byte its log never contains.
   */
  readonly kick?: { readonly byte: number; readonly onKick: () => void };
}

/**
 * The byte stream under a console: a serialport SerialPort (USB adapters, ptys), or a UNIX
 * socket to an emulator's socket chardev (SocketLink).
 */
interface ConsoleLink {
  readonly isOpen: boolean;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'close', listener: (error?: Error | null) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  write(data: Buffer, callback: (error?: Error | null) => void): unknown;
  close(callback: () => void): void;
}

/** A connected UNIX socket as a ConsoleLink. */
class SocketLink implements ConsoleLink {
  constructor(private readonly socket: net.Socket) {}

  get isOpen(): boolean {
    return !this.socket.destroyed;
  }

  on(event: 'data' | 'close' | 'error', listener: (arg: never) => void): this {
    if (event === 'close') this.socket.on('close', (hadError: boolean) => (listener as (error?: Error | null) => void)(hadError ? new Error('the socket closed on an error') : undefined));
    else if (event === 'data') this.socket.on('data', listener as (chunk: Buffer) => void);
    else this.socket.on('error', listener as (error: Error) => void);
    return this;
  }

  write(data: Buffer, callback: (error?: Error | null) => void): void {
    this.socket.write(data, callback);
  }

  close(callback: () => void): void {
    if (this.socket.destroyed) {
      callback();
      return;
    }
    this.socket.once('close', () => callback());
    this.socket.destroy();
  }
}

/** What `expect` found: ConsoleMatch of targets/protocols.ts. */
export interface SerialMatch {
  readonly match: string;
  readonly groups: readonly string[];
  readonly before: string;
}

/** How often a waiting console checks that its device node still exists, ms. */
const PRESENCE_CHECK_MS = 250;

/** The port closed (the device vanished, or `close`) while something needed it. */
export class SerialPortClosedError extends InfrastructureError {}

/**
 * A UART console: physical boards' USB serial adapters and QEMU's pty-backed UARTs are read by
 * the same code. Keeps everything received since the last `take()` (attached to each test) and
 * a rolling history that `waitFor` and `expect` search.
 *
 * The ConsoleProtocol driver for serial lines (targets/protocols.ts): `expect` consumes
 * (pexpect-style, for shells and REPLs driven over the line), `waitFor` only looks (for boot
 * banners checked against a mark). It implements the protocol structurally, without importing
 * it: base/ sits below targets/ and imports nothing above it (the test checks the fit).
 */
export class SerialConsole {
  readonly name: string;
  private history = '';
  private unread = '';
  /** Absolute position (see `position`) up to which `expect` has consumed the text. */
  private expectedUpTo = 0;
  private readonly dataListeners = new Set<(text: string) => void>();
  private readonly waiters = new Set<() => void>();
  private closed = false;
  private lastError: string | undefined;
  private presenceTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly port: ConsoleLink,
    readonly path: string,
    name: string,
    private readonly historyLimit: number,
    private readonly onText: ((text: string) => void) | undefined,
    private readonly kick: SerialConsoleOptions['kick'],
  ) {
    this.name = name;
    port.on('data', (chunk: Buffer) => this.receive(chunk.toString('latin1')));
    // A vanished device (USB adapter unplugged, QEMU gone) closes the port with an error.
    port.on('close', (error?: Error | null) => this.markClosed(error?.message));
    // Without a listener a failed read or write would be an uncaught exception.
    port.on('error', (error: Error) => {
      this.lastError = error.message;
    });
  }

  static async open(options: SerialConsoleOptions): Promise<SerialConsole> {
    const port = new (serialport().SerialPort)({ path: options.path, baudRate: options.baudRate ?? 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) =>
      port.open((error) => (error ? reject(new InfrastructureError(`cannot open serial port ${options.path}: ${error.message}`, { cause: error })) : resolve())),
    );
    return new SerialConsole(port, options.path, options.name ?? options.path, options.historyLimit ?? 1 << 20, options.onText, options.kick);
  }

  /**
   * A console on a UNIX stream socket whose server is the far side: QEMU's
   * `-chardev socket,server=on` (read on the event loop, no serialport thread-pool hop).
   */
  static async connect(options: SerialConsoleOptions): Promise<SerialConsole> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const connecting = net.createConnection(options.path);
      connecting.once('connect', () => {
        connecting.off('error', reject);
        resolve(connecting);
      });
      connecting.once('error', (error) => reject(new InfrastructureError(`cannot connect to the console socket ${options.path}: ${error.message}`, { cause: error })));
    });
    socket.setNoDelay?.(true);
    return new SerialConsole(new SocketLink(socket), options.path, options.name ?? options.path, options.historyLimit ?? 1 << 20, options.onText, options.kick);
  }

  /** Text received since the previous call. */
  take(): string {
    const text = this.unread;
    this.unread = '';
    return text;
  }

  /**
   * ConsoleProtocol: the text since the last take (as `take`, sharing its mark), each line
   * tagged "[name] " so captures of several consoles can be told apart in one attachment.
   */
  takeCapture(): string {
    return tagLines(this.name, this.take());
  }

  /** ConsoleProtocol: every chunk as it arrives (after kick bytes are stripped). */
  onData(listener: (text: string) => void): () => void {
    const subscription = (text: string): void => listener(text);
    this.dataListeners.add(subscription);
    return () => {
      this.dataListeners.delete(subscription);
    };
  }

  /**
   * ConsoleProtocol: waits for `pattern` in the text `expect` has not consumed yet and consumes
   * up to the end of the match. Text that fell out of the rolling history before it was
   * expected is gone (the history limit bounds what a flooding line costs).
   */
  async expect(pattern: string | RegExp, options: { timeoutMs: number }): Promise<SerialMatch> {
    const search = (): SerialMatch | undefined => {
      const start = Math.max(0, this.expectedUpTo - this.dropped);
      const text = this.history.slice(start);
      let index: number;
      let match: string;
      let groups: string[] = [];
      if (typeof pattern === 'string') {
        index = text.indexOf(pattern);
        if (index < 0) return undefined;
        match = pattern;
      } else {
        // A fresh non-global, non-sticky copy: the caller's lastIndex neither matters nor changes.
        const found = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')).exec(text);
        if (!found) return undefined;
        index = found.index;
        match = found[0];
        groups = found.slice(1).map((group) => group ?? '');
      }
      this.expectedUpTo = this.dropped + start + index + match.length;
      return { match, groups, before: text.slice(0, index) };
    };
    const found = search();
    if (found) return found;
    // Quoted: a prompt pattern often ends in a space.
    const shown = typeof pattern === 'string' ? JSON.stringify(pattern) : String(pattern);
    if (this.closed) throw new SerialPortClosedError(`${this.name}: serial port ${this.path} ${this.closedText()} before ${shown} was seen`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.removeWaiter(check);
        const pending = this.history.slice(Math.max(0, this.expectedUpTo - this.dropped));
        reject(new TimeoutError(`${this.name}: no ${shown} on ${this.path} within ${options.timeoutMs} ms; unread output: ${JSON.stringify(pending.slice(-200))}`));
      }, options.timeoutMs);
      const check = (): void => {
        const hit = search();
        if (hit) {
          clearTimeout(timer);
          this.removeWaiter(check);
          resolve(hit);
        } else if (this.closed) {
          clearTimeout(timer);
          this.removeWaiter(check);
          reject(new SerialPortClosedError(`${this.name}: serial port ${this.path} ${this.closedText()} while waiting for ${shown}`));
        }
      };
      this.addWaiter(check);
    });
  }

  /** Everything still in the rolling history. */
  text(): string {
    return this.history;
  }

  /** Resolves with the history once it matches `pattern` (checked against text from `since`). */
  async waitFor(pattern: RegExp | string, options: { timeoutMs?: number; since?: number } = {}): Promise<string> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const matches = (): boolean => {
      const text = this.history.slice(Math.max(0, (options.since ?? 0) - this.dropped));
      return typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
    };
    if (matches()) return this.history;
    if (this.closed) throw new SerialPortClosedError(`${this.name}: serial port ${this.path} ${this.closedText()} before ${String(pattern)} was seen`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.removeWaiter(check);
        reject(new TimeoutError(`${this.name}: no ${String(pattern)} on ${this.path} within ${timeoutMs} ms; last output: ${JSON.stringify(this.history.slice(-200))}`));
      }, timeoutMs);
      const check = (): void => {
        if (matches()) {
          clearTimeout(timer);
          this.removeWaiter(check);
          resolve(this.history);
        } else if (this.closed) {
          clearTimeout(timer);
          this.removeWaiter(check);
          reject(new SerialPortClosedError(`${this.name}: serial port ${this.path} ${this.closedText()} while waiting for ${String(pattern)}`));
        }
      };
      this.addWaiter(check);
    });
  }

  /** Total characters received so far (a `since` mark for `waitFor`). */
  get position(): number {
    return this.dropped + this.history.length;
  }

  write(data: string | Uint8Array): Promise<void> {
    // serialport queues writes to a closed port until it opens again: that would never settle.
    if (this.closed) return Promise.reject(new SerialPortClosedError(`${this.name}: cannot write to ${this.path}: ${this.closedText()}`));
    return new Promise((resolve, reject) => {
      this.port.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data), (error) =>
        error ? reject(new InfrastructureError(`write to ${this.path} failed: ${error.message}`, { cause: error })) : resolve(),
      );
    });
  }

  async close(): Promise<void> {
    if (this.closed || !this.port.isOpen) {
      this.closed = true;
      return;
    }
    await new Promise<void>((resolve) => this.port.close(() => resolve()));
    this.closed = true;
  }

  private dropped = 0;

  private addWaiter(check: () => void): void {
    this.waiters.add(check);
    // serialport misses a pty hangup now and then (the master closing right after a read); a
    // USB adapter unplugged takes its device node along. Either way the node is gone.
    this.presenceTimer ??= setInterval(() => {
      if (fs.existsSync(this.path)) return;
      this.lastError ??= 'the device vanished';
      if (this.port.isOpen) this.port.close(() => {});
      this.markClosed(undefined);
    }, PRESENCE_CHECK_MS);
    this.presenceTimer.unref();
  }

  private removeWaiter(check: () => void): void {
    this.waiters.delete(check);
    if (this.waiters.size === 0 && this.presenceTimer) {
      clearInterval(this.presenceTimer);
      this.presenceTimer = undefined;
    }
  }

  private markClosed(reason: string | undefined): void {
    this.closed = true;
    if (reason) this.lastError ??= reason;
    for (const wake of [...this.waiters]) wake();
  }

  private closedText(): string {
    return this.lastError ? `closed (${this.lastError})` : 'closed';
  }

  private receive(received: string): void {
    let text = received;
    let kicked = false;
    if (this.kick) {
      const kickChar = String.fromCharCode(this.kick.byte);
      if (text.includes(kickChar)) {
        kicked = true;
        text = text.split(kickChar).join('');
      }
    }
    if (kicked) this.kick?.onKick();
    if (text.length === 0) return;
    this.unread += text;
    this.history += text;
    if (this.history.length > this.historyLimit) {
      const cut = this.history.length - this.historyLimit;
      this.history = this.history.slice(cut);
      this.dropped += cut;
    }
    this.onText?.(text);
    for (const listener of [...this.dataListeners]) listener(text);
    for (const wake of [...this.waiters]) wake();
  }
}

/** Prefixes every line of `text` with "[name] " (a trailing partial line too); '' stays ''. */
function tagLines(name: string, text: string): string {
  if (text === '') return '';
  const lines = text.split('\n');
  const last = lines.pop() ?? '';
  const tagged = lines.map((line) => `[${name}] ${line}\n`).join('');
  return last === '' ? tagged : `${tagged}[${name}] ${last}`;
}
