import * as fs from 'node:fs';
import * as net from 'node:net';
import { InfrastructureError, RemoteCrashedError } from '../../base/errors.js';
import { NOTIFY_ID_UNKNOWN, type Doorbell } from './doorbell.js';

/** open-amp's Linux generic machine kicks over this socket (its first and only event channel). */
export const DEFAULT_EVENT_SOCKET_PATH = '/tmp/openamp.event.0';

const KICK = Buffer.from([1]);
const DEFAULT_TIMEOUT_MS = 10_000;
const CONNECT_RETRY_MS = 10;

export interface UnixSocketServeOptions {
  path?: string;
  /** How long `accept` waits for process 1 to connect. Default 10 s. */
  acceptTimeoutMs?: number;
}

export interface UnixSocketConnectOptions {
  path?: string;
  /** How long to keep retrying while process 0 has not bound the socket yet. Default 10 s. */
  connectTimeoutMs?: number;
}

/**
 * The bound, listening side (process 0) before the other process has connected. Bind first,
 * start the other process, then `accept`: the other side then never needs to retry.
 */
export class UnixSocketDoorbellListener {
  private accepted = false;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly server: net.Server,
  ) {}

  /** Unlinks whatever is at `path` (a stale socket of an earlier run) and binds a fresh socket. */
  static async bind(path: string = DEFAULT_EVENT_SOCKET_PATH): Promise<UnixSocketDoorbellListener> {
    try {
      fs.rmSync(path, { force: true });
    } catch (error) {
      throw new InfrastructureError(`cannot remove stale doorbell socket ${path}: ${(error as Error).message}`, { cause: error });
    }
    const server = net.createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(new InfrastructureError(`cannot bind doorbell socket ${path}: ${error.message}`, { cause: error }));
      server.once('error', onError);
      server.listen(path, () => {
        server.off('error', onError);
        resolve();
      });
    });
    return new UnixSocketDoorbellListener(path, server);
  }

  /** Waits for the one connection; stops listening after it (later connections are refused). */
  accept(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<UnixSocketDoorbell> {
    if (this.closed || this.accepted) {
      return Promise.reject(new InfrastructureError(`doorbell socket ${this.path} is ${this.closed ? 'closed' : 'already accepted'}`));
    }
    this.accepted = true;
    return new Promise<UnixSocketDoorbell>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.server.off('connection', onConnection);
        this.close();
        reject(new InfrastructureError(`nobody connected to doorbell socket ${this.path} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onConnection = (socket: net.Socket): void => {
        clearTimeout(timer);
        // Node unlinks a UNIX socket path when its server closes; the doorbell unlinks again
        // on close in case it did not.
        this.server.close();
        // One peer only: anything that slipped in before the close took effect is dropped.
        this.server.on('connection', (extra: net.Socket) => extra.destroy());
        this.closed = true;
        resolve(new UnixSocketDoorbell(socket, this.path, true));
      };
      this.server.once('connection', onConnection);
    });
  }

  /** Stops listening and removes the socket file (when nothing was accepted). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    fs.rmSync(this.path, { force: true });
  }
}

/**
 * open-amp's Linux generic machine kick: one AF_UNIX stream socket between two processes.
 * Process 0 is the server (`serve`, or `UnixSocketDoorbellListener`), process 1 the client
 * (`connect`). A kick is one byte; the notify id is not sent. Kicks that arrive while nobody
 * listens stay in the socket and are delivered to the next listener.
 */
export class UnixSocketDoorbell implements Doorbell {
  readonly kind = 'unix-socket';
  private handler: ((data: Buffer) => void) | undefined;
  private peerGone: Error | undefined;
  private closed = false;
  private readonly goneListeners = new Set<(reason: Error) => void>();

  /** @internal Use serve / connect / UnixSocketDoorbellListener. */
  constructor(
    private readonly socket: net.Socket,
    readonly path: string,
    readonly isServer: boolean,
  ) {
    socket.pause();
    socket.on('error', (error) => this.lostPeer(error));
    // 'end': the other side closed its end (a half-open socket would never 'close' on its own).
    socket.on('end', () => this.lostPeer(new Error('the other process closed the socket')));
    socket.on('close', () => this.lostPeer(new Error('the other process closed the socket')));
  }

  /**
   * The connection is gone (EPIPE, ECONNRESET, EOF). Node discards what was still unread, so a
   * kick the peer sent just before may be lost: the listener looks at the rings one last time,
   * then the peer-gone listeners hear it. Once only, and not after our own close().
   */
  private lostPeer(reason: Error): void {
    if (this.peerGone || this.closed) return;
    this.peerGone = reason;
    const handler = this.handler;
    if (handler) {
      try {
        handler(Buffer.alloc(0));
      } catch {
        // The last look failed (e.g. its kick back cannot go out any more): the peer is gone anyway.
      }
    }
    for (const listener of [...this.goneListeners]) {
      try {
        listener(reason);
      } catch {
        // one listener's failure must not hide the news from the others
      }
    }
  }

  onPeerGone(listener: (reason: Error) => void): () => void {
    this.goneListeners.add(listener);
    return () => this.goneListeners.delete(listener);
  }

  /** Process 0: bind `path` and wait for process 1. */
  static async serve(options: UnixSocketServeOptions = {}): Promise<UnixSocketDoorbell> {
    const listener = await UnixSocketDoorbellListener.bind(options.path);
    return listener.accept(options.acceptTimeoutMs);
  }

  /** Process 1: connect, retrying until process 0 has bound the socket or the deadline passes. */
  static async connect(options: UnixSocketConnectOptions = {}): Promise<UnixSocketDoorbell> {
    const path = options.path ?? DEFAULT_EVENT_SOCKET_PATH;
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    let lastError: Error | undefined;
    // Bounded by the deadline; each attempt waits at least CONNECT_RETRY_MS.
    for (;;) {
      try {
        const socket = await connectOnce(path);
        return new UnixSocketDoorbell(socket, path, false);
      } catch (error) {
        lastError = error as Error;
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ECONNREFUSED') break;
      }
      if (Date.now() + CONNECT_RETRY_MS > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS));
    }
    throw new InfrastructureError(
      `cannot connect to doorbell socket ${path} within ${timeoutMs} ms: ${lastError?.message ?? 'no attempt made'}`,
      { cause: lastError },
    );
  }

  /** Whether the other process is still there (its end not closed, no socket error). */
  get connected(): boolean {
    return !this.closed && this.peerGone === undefined;
  }

  /**
   * Sends one kick byte. Throws RemoteCrashedError when the other process has gone (unless an
   * onPeerGone listener was told); a no-op once this end is closed.
   */
  notify(_notifyId: number): void {
    if (this.closed) return;
    // Whoever listens for the peer going away owns that news: a kick into the void is dropped.
    if (this.peerGone && this.goneListeners.size === 0) {
      throw new RemoteCrashedError(`cannot kick over ${this.path}: ${this.peerGone.message}`, { cause: this.peerGone });
    }
    if (!this.peerGone) this.socket.write(KICK);
  }

  /** Calls `handler` once per chunk received (several kicks can arrive as one chunk). */
  listen(handler: (notifyId: number) => void): () => void {
    if (this.closed) throw new InfrastructureError(`listen on closed doorbell socket ${this.path}`);
    if (this.handler) throw new InfrastructureError(`doorbell socket ${this.path} already has a listener`);
    const onData = (): void => handler(NOTIFY_ID_UNKNOWN);
    this.handler = onData;
    this.socket.on('data', onData);
    this.socket.resume();
    return () => {
      if (this.handler !== onData) return;
      this.socket.off('data', onData);
      this.socket.pause();
      this.handler = undefined;
    };
  }

  /** Closes the socket; the server end also removes the socket file. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.handler) this.socket.off('data', this.handler);
    this.handler = undefined;
    this.goneListeners.clear();
    this.socket.destroy();
    if (this.isServer) fs.rmSync(this.path, { force: true });
  }
}

function connectOnce(path: string): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = net.createConnection(path);
    const onError = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}
