import * as fs from 'node:fs';
import { SerialPort } from 'serialport';
import { InfrastructureError, TimeoutError } from '../../openamp/errors.js';

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
}

/** How often a waiting console checks that its device node still exists, ms. */
const PRESENCE_CHECK_MS = 250;

/** The port closed (the device vanished, or `close`) while something needed it. */
export class SerialPortClosedError extends InfrastructureError {}

/**
 * A UART console: physical boards' USB serial adapters and QEMU's pty-backed UARTs are read by
 * the same code. Keeps everything received since the last `take()` (attached to each test) and
 * a rolling history that `waitFor` searches.
 */
export class SerialConsole {
  readonly name: string;
  private history = '';
  private unread = '';
  private readonly waiters = new Set<() => void>();
  private closed = false;
  private lastError: string | undefined;
  private presenceTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly port: SerialPort,
    readonly path: string,
    name: string,
    private readonly historyLimit: number,
    private readonly onText: ((text: string) => void) | undefined,
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
    const port = new SerialPort({ path: options.path, baudRate: options.baudRate ?? 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) =>
      port.open((error) => (error ? reject(new InfrastructureError(`cannot open serial port ${options.path}: ${error.message}`, { cause: error })) : resolve())),
    );
    return new SerialConsole(port, options.path, options.name ?? options.path, options.historyLimit ?? 1 << 20, options.onText);
  }

  /** Text received since the previous call. */
  take(): string {
    const text = this.unread;
    this.unread = '';
    return text;
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

  private receive(text: string): void {
    this.unread += text;
    this.history += text;
    if (this.history.length > this.historyLimit) {
      const cut = this.history.length - this.historyLimit;
      this.history = this.history.slice(cut);
      this.dropped += cut;
    }
    this.onText?.(text);
    for (const wake of [...this.waiters]) wake();
  }
}
