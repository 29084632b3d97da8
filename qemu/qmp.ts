import * as net from 'node:net';
import { InfrastructureError } from '../base/errors.js';

/** QEMU refused a command, the QMP socket failed, or QEMU went away mid-command. */
export class QmpError extends InfrastructureError {
  constructor(
    message: string,
    /** QMP's error class ("GenericError", "CommandNotFound"), or "Disconnected" / "Timeout" / "Protocol" / "Aborted". */
    readonly qmpClass: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface QmpEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
  readonly timestamp: { seconds: number; microseconds: number };
}

export interface QmpConnectOptions {
  /** Keep retrying the connect (QEMU creates the socket shortly after it starts). Default 5000. */
  timeoutMs?: number;
  /** Each command's deadline. Default 10000. */
  commandTimeoutMs?: number;
  /**
   * Gives up connecting (e.g. QEMU died while starting): no more retries, a connection in
   * progress is closed, and `connect` rejects with an "Aborted" QmpError.
   */
  signal?: AbortSignal;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** Largest line we accept from QEMU; a reply larger than this means a confused peer. */
const MAX_LINE = 16 * 1024 * 1024;

/**
 * A client for QEMU's machine protocol on a UNIX socket: one command at a time in flight per
 * call, replies matched by id, asynchronous events delivered to listeners.
 */
export class QmpClient {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Set<(event: QmpEvent) => void>();
  private closedError: QmpError | undefined;
  private readonly closeWaiters = new Set<(error: QmpError) => void>();

  private constructor(
    private readonly socket: net.Socket,
    readonly path: string,
    private readonly commandTimeoutMs: number,
    /** QEMU's version from the greeting, e.g. "7.2.22". */
    readonly version: string,
  ) {}

  static async connect(path: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const { signal } = options;
    const deadline = Date.now() + (options.timeoutMs ?? 5000);
    let lastError: unknown;
    for (;;) {
      if (signal?.aborted) throw connectAborted(path, signal);
      try {
        return await QmpClient.connectOnce(path, options.commandTimeoutMs ?? 10_000, Math.max(100, deadline - Date.now()), signal);
      } catch (error) {
        lastError = error;
        const code = (error as NodeJS.ErrnoException).code;
        if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() >= deadline) break;
        await new Promise<void>((resolve) => {
          const retry = setTimeout(done, 10);
          signal?.addEventListener('abort', done, { once: true });
          function done(): void {
            clearTimeout(retry);
            signal?.removeEventListener('abort', done);
            resolve();
          }
        });
      }
    }
    if (lastError instanceof QmpError) throw lastError;
    throw new QmpError(`cannot connect to QMP at ${path}: ${(lastError as Error)?.message ?? lastError}`, 'Disconnected', { cause: lastError });
  }

  private static connectOnce(path: string, commandTimeoutMs: number, greetingTimeoutMs: number, signal: AbortSignal | undefined): Promise<QmpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(path);
      let text = '';
      let client: QmpClient | undefined;
      const timer = setTimeout(() => fail(new QmpError(`no QMP greeting from ${path} within ${greetingTimeoutMs} ms`, 'Timeout')), greetingTimeoutMs);
      const onAbort = (): void => fail(connectAborted(path, signal as AbortSignal));
      signal?.addEventListener('abort', onAbort, { once: true });
      const fail = (error: Error): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        client?.close();
        socket.destroy();
        reject(error);
      };
      socket.setEncoding('utf8');
      socket.once('error', fail);
      const onData = (chunk: string): void => {
        text += chunk;
        const nl = text.indexOf('\n');
        if (nl < 0) return;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', fail);
        let greeting: { QMP?: { version?: { qemu?: { major: number; minor: number; micro: number } } } };
        try {
          greeting = JSON.parse(text.slice(0, nl));
        } catch (error) {
          fail(new QmpError(`QMP greeting from ${path} is not JSON: ${text.slice(0, 80)}`, 'Protocol', { cause: error }));
          return;
        }
        const v = greeting.QMP?.version?.qemu;
        if (!v) {
          fail(new QmpError(`QMP greeting from ${path} has no version: ${text.slice(0, 80)}`, 'Protocol'));
          return;
        }
        const connected = new QmpClient(socket, path, commandTimeoutMs, `${v.major}.${v.minor}.${v.micro}`);
        client = connected;
        connected.attach(text.slice(nl + 1));
        connected.execute('qmp_capabilities').then(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve(connected);
        }, fail);
      };
      socket.on('data', onData);
    });
  }

  private attach(rest: string): void {
    this.socket.on('data', (chunk: string) => this.onData(chunk));
    this.socket.on('error', (error) => this.shutdown(new QmpError(`QMP socket ${this.path} failed: ${error.message}`, 'Disconnected', { cause: error })));
    this.socket.on('close', () => this.shutdown(new QmpError(`QMP connection ${this.path} closed (QEMU exited?)`, 'Disconnected')));
    if (rest) this.onData(rest);
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Runs one command; resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = `farm-${this.nextId++}`;
    const message = JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id });
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpError(`QMP command ${command} got no reply within ${timeoutMs} ms`, 'Timeout'));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(message + '\n');
    });
  }

  /** Listens to every asynchronous event; returns an unsubscribe function. */
  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Next event named `name` (and matching `filter`); a QmpError after `timeoutMs`, or the
   * Disconnected one as soon as the connection closes (the event can no longer come).
   */
  waitForEvent(name: string, options: { timeoutMs?: number; filter?: (event: QmpEvent) => boolean } = {}): Promise<QmpEvent> {
    if (this.closedError) return Promise.reject(this.closedError);
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        stopListening();
        this.closeWaiters.delete(onClose);
      };
      const onClose = (error: QmpError): void => {
        finish();
        reject(error);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new QmpError(`no QMP event ${name} within ${timeoutMs} ms`, 'Timeout'));
      }, timeoutMs);
      const stopListening = this.onEvent((event) => {
        if (event.event !== name || (options.filter && !options.filter(event))) return;
        finish();
        resolve(event);
      });
      this.closeWaiters.add(onClose);
    });
  }

  /** Resolves once the connection is closed (QEMU quit, or `close`). */
  whenClosed(): Promise<void> {
    if (this.closedError) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.add(() => resolve()));
  }

  close(): void {
    this.shutdown(new QmpError(`QMP connection ${this.path} was closed by the farm`, 'Disconnected'));
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    if (this.buffer.length > MAX_LINE) {
      this.shutdown(new QmpError(`QMP peer at ${this.path} sent more than ${MAX_LINE} bytes without a newline`, 'Protocol'));
      this.socket.destroy();
      return;
    }
    for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onLine(line);
    }
  }

  private onLine(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // QEMU only sends JSON; a torn line cannot be matched to anything
    }
    if (typeof message.event === 'string') {
      const event: QmpEvent = {
        event: message.event,
        data: (message.data as Record<string, unknown> | undefined) ?? {},
        timestamp: (message.timestamp as QmpEvent['timestamp'] | undefined) ?? { seconds: 0, microseconds: 0 },
      };
      for (const listener of [...this.listeners]) listener(event);
      return;
    }
    const id = typeof message.id === 'string' ? message.id : undefined;
    const pending = id ? this.pending.get(id) : undefined;
    if (!pending || !id) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if ('error' in message) {
      const error = message.error as { class?: string; desc?: string };
      pending.reject(new QmpError(`QMP command ${pending.command} failed: ${error.desc ?? 'no description'}`, error.class ?? 'GenericError'));
    } else {
      pending.resolve(message.return);
    }
  }

  private shutdown(error: QmpError): void {
    if (this.closedError) return;
    this.closedError = error;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
    const waiters = [...this.closeWaiters];
    this.closeWaiters.clear();
    for (const waiter of waiters) waiter(error);
  }
}

function connectAborted(path: string, signal: AbortSignal): QmpError {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? reason.message : String(reason);
  return new QmpError(`connecting to QMP at ${path} was aborted: ${why}`, 'Aborted', { cause: reason });
}
