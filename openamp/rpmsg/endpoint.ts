import { TimeoutError } from '../../base/errors.js';
import { quoteRemote } from '../../base/remote-text.js';
import { RPMSG_ADDR_ANY, type RpmsgEndpoint, type RpmsgMessage } from './api.js';
import { RpmsgClosedError, RpmsgConfigError } from './errors.js';

export const DEFAULT_SEND_TIMEOUT_MS = 15000;
export const DEFAULT_RECEIVE_TIMEOUT_MS = 15000;

/** What an endpoint needs from the device it belongs to. */
export interface EndpointOwner {
  sendFrom(endpoint: VirtioRpmsgEndpoint, data: Uint8Array, dest: number | undefined, timeoutMs: number): Promise<void>;
  trySendFrom(endpoint: VirtioRpmsgEndpoint, data: Uint8Array, dest: number | undefined): void;
  destroyEndpoint(endpoint: VirtioRpmsgEndpoint): void;
}

interface Reader {
  /** Iterator readers end quietly on destroy; receive() readers fail. */
  readonly iterator: boolean;
  resolve(result: IteratorResult<RpmsgMessage>): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
}

export interface EndpointSetup {
  name: string;
  addr: number;
  dest: number;
  /** The dest the endpoint was created with (ANY when it binds by name); restored on a device reset. */
  requestedDest: number;
  announce: boolean;
  onMessage: ((message: RpmsgMessage, endpoint: RpmsgEndpoint) => void) | undefined;
  onUnbind: ((endpoint: RpmsgEndpoint) => void) | undefined;
}

/** One local RPMsg address: a callback or a queue of received messages. */
export class VirtioRpmsgEndpoint implements RpmsgEndpoint {
  readonly name: string;
  readonly addr: number;
  dest: number;
  readonly requestedDest: number;
  destroyed = false;
  readonly announce: boolean;
  readonly onMessage: ((message: RpmsgMessage, endpoint: RpmsgEndpoint) => void) | undefined;
  readonly onUnbind: ((endpoint: RpmsgEndpoint) => void) | undefined;

  private readonly owner: EndpointOwner;
  private queue: RpmsgMessage[] = [];
  private queueHead = 0;
  private readers: Reader[] = [];

  constructor(owner: EndpointOwner, setup: EndpointSetup) {
    this.owner = owner;
    this.name = setup.name;
    this.addr = setup.addr;
    this.dest = setup.dest;
    this.requestedDest = setup.requestedDest;
    this.announce = setup.announce;
    this.onMessage = setup.onMessage;
    this.onUnbind = setup.onUnbind;
  }

  get bound(): boolean {
    return this.dest !== RPMSG_ADDR_ANY;
  }

  /** Messages waiting in the queue (endpoints without onMessage). */
  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  send(data: Uint8Array, options?: { dest?: number; timeoutMs?: number }): Promise<void> {
    return this.owner.sendFrom(this, data, options?.dest, options?.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS);
  }

  trySend(data: Uint8Array, dest?: number): void {
    this.owner.trySendFrom(this, data, dest);
  }

  receive(timeoutMs = DEFAULT_RECEIVE_TIMEOUT_MS): Promise<RpmsgMessage> {
    if (this.onMessage) {
      return Promise.reject(new RpmsgConfigError(`endpoint ${this.describe()} delivers to its onMessage callback; nothing is queued for receive()`));
    }
    const queued = this.take();
    if (queued) return Promise.resolve(queued);
    if (this.destroyed) return Promise.reject(new RpmsgClosedError(`endpoint ${this.describe()} is destroyed`));
    return new Promise<RpmsgMessage>((resolve, reject) => {
      const reader: Reader = {
        iterator: false,
        resolve: (result) => resolve(result.value as RpmsgMessage),
        reject,
        timer: undefined,
      };
      if (Number.isFinite(timeoutMs)) {
        reader.timer = setTimeout(() => {
          this.removeReader(reader);
          reject(new TimeoutError(`no message for endpoint ${this.describe()} within ${timeoutMs} ms`));
        }, Math.max(0, timeoutMs));
      }
      this.readers.push(reader);
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<RpmsgMessage> {
    return {
      next: () => {
        const queued = this.take();
        if (queued) return Promise.resolve({ done: false, value: queued });
        if (this.destroyed || this.onMessage) return Promise.resolve({ done: true, value: undefined });
        return new Promise<IteratorResult<RpmsgMessage>>((resolve, reject) => {
          this.readers.push({ iterator: true, resolve, reject, timer: undefined });
        });
      },
      return: () => Promise.resolve({ done: true, value: undefined }),
    };
  }

  destroy(): void {
    this.owner.destroyEndpoint(this);
  }

  /** Hands a received message to the callback, a waiting reader or the queue. */
  deliver(message: RpmsgMessage): void {
    if (this.onMessage) {
      this.onMessage(message, this);
      return;
    }
    const reader = this.readers.shift();
    if (reader) {
      if (reader.timer) clearTimeout(reader.timer);
      reader.resolve({ done: false, value: message });
      return;
    }
    this.queue.push(message);
  }

  /** Marks the endpoint destroyed: receive() callers fail, iterators end (after the queue). */
  close(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const readers = this.readers;
    this.readers = [];
    for (const reader of readers) {
      if (reader.timer) clearTimeout(reader.timer);
      if (reader.iterator) reader.resolve({ done: true, value: undefined });
      else reader.reject(new RpmsgClosedError(`endpoint ${this.describe()} was destroyed while waiting for a message`));
    }
  }

  describe(): string {
    return `${quoteRemote(this.name)} @${this.addr}`;
  }

  private take(): RpmsgMessage | undefined {
    if (this.queueHead >= this.queue.length) return undefined;
    const message = this.queue[this.queueHead++]!;
    if (this.queueHead >= this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return message;
  }

  private removeReader(reader: Reader): void {
    const index = this.readers.indexOf(reader);
    if (index >= 0) this.readers.splice(index, 1);
  }
}
