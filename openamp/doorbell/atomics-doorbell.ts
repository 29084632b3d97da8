import { InfrastructureError } from '../../base/errors.js';
import type { Doorbell } from './doorbell.js';

/** Which end of an Atomics doorbell pair this is. The host rings the remote and vice versa. */
export type AtomicsDoorbellSide = 'host' | 'remote';

export interface AtomicsDoorbellOptions {
  /**
   * How long `waitSync` keeps re-reading the counter before it sleeps in Atomics.wait, in
   * microseconds. Spinning answers a ring in well under a microsecond where sleeping costs a
   * futex wake-up (tens of µs); 0 disables it. Default 20.
   */
  spinMicros?: number;
}

export interface AtomicsDoorbellPair {
  /** Post this to the worker and attach the other end there with `AtomicsDoorbell.attach`. */
  buffer: SharedArrayBuffer;
  host: AtomicsDoorbell;
  remote: AtomicsDoorbell;
}

// One direction per 64-byte line so the two counters don't share a cache line. Each direction
// has a ring counter and the last notify id next to it.
const WORDS_PER_DIRECTION = 16;
const TO_REMOTE = 0;
const TO_HOST = WORDS_PER_DIRECTION;
const COUNTER = 0;
const NOTIFY_ID = 1;
/** Size of the SharedArrayBuffer an Atomics doorbell pair lives in. */
export const ATOMICS_DOORBELL_BYTES = 2 * WORDS_PER_DIRECTION * Int32Array.BYTES_PER_ELEMENT;

// Atomics.waitAsync is in Node 20 but in TypeScript's lib only from ES2024, which this project
// does not target.
type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
type WaitAsync = (typedArray: Int32Array, index: number, value: number, timeoutMs?: number) => WaitAsyncResult;
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync?.bind(Atomics);

const DEFAULT_SPIN_MICROS = 20;
// Reading the clock costs more than a load; check it only every so many spins.
const SPINS_PER_CLOCK_READ = 64;

/**
 * Doorbell between two threads of one process: one Int32 counter per direction in a
 * SharedArrayBuffer. A ring is Atomics.add + Atomics.notify; the listener sleeps in
 * Atomics.waitAsync, a worker loop in Atomics.wait after a short spin. Rings that arrive while
 * nobody listens are not lost: the next wait sees the counter moved. Several rings may be
 * delivered as one (a doorbell says "look", not "how many times").
 */
export class AtomicsDoorbell implements Doorbell {
  readonly kind = 'atomics';
  private readonly words: Int32Array;
  private readonly incoming: number;
  private readonly outgoing: number;
  private readonly spinMicros: number;
  /** Counter value of the last ring this end consumed. */
  private seen: number;
  private stopListening: (() => void) | undefined;
  private closed = false;

  private constructor(buffer: SharedArrayBuffer, side: AtomicsDoorbellSide, options: AtomicsDoorbellOptions) {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < ATOMICS_DOORBELL_BYTES) {
      throw new InfrastructureError(`an Atomics doorbell needs a SharedArrayBuffer of at least ${ATOMICS_DOORBELL_BYTES} bytes`);
    }
    const spin = options.spinMicros ?? DEFAULT_SPIN_MICROS;
    if (!(spin >= 0) || !Number.isFinite(spin)) throw new InfrastructureError(`spinMicros must be a finite number >= 0, got ${spin}`);
    this.words = new Int32Array(buffer, 0, ATOMICS_DOORBELL_BYTES / Int32Array.BYTES_PER_ELEMENT);
    this.incoming = side === 'host' ? TO_HOST : TO_REMOTE;
    this.outgoing = side === 'host' ? TO_REMOTE : TO_HOST;
    this.spinMicros = spin;
    // Counters start at 0 in a fresh buffer, so starting from 0 (not from the current value)
    // keeps a ring that came before this end attached.
    this.seen = 0;
  }

  /** Both ends over a fresh buffer; send `buffer` to the thread that will use `remote`'s role. */
  static createPair(options: AtomicsDoorbellOptions = {}): AtomicsDoorbellPair {
    const buffer = new SharedArrayBuffer(ATOMICS_DOORBELL_BYTES);
    return { buffer, host: new AtomicsDoorbell(buffer, 'host', options), remote: new AtomicsDoorbell(buffer, 'remote', options) };
  }

  /** One end over a buffer from `createPair` (typically received by a worker via postMessage). */
  static attach(buffer: SharedArrayBuffer, side: AtomicsDoorbellSide, options: AtomicsDoorbellOptions = {}): AtomicsDoorbell {
    return new AtomicsDoorbell(buffer, side, options);
  }

  /** Rings the other end; a no-op once this end is closed. */
  notify(notifyId: number): void {
    if (this.closed) return;
    Atomics.store(this.words, this.outgoing + NOTIFY_ID, notifyId | 0);
    Atomics.add(this.words, this.outgoing + COUNTER, 1);
    Atomics.notify(this.words, this.outgoing + COUNTER);
  }

  listen(handler: (notifyId: number) => void): () => void {
    if (this.closed) throw new InfrastructureError('listen on a closed Atomics doorbell');
    if (this.stopListening) throw new InfrastructureError('this Atomics doorbell already has a listener');
    if (!waitAsync) throw new InfrastructureError('Atomics.waitAsync is missing: the Atomics doorbell needs Node 20 or later');
    const waitFor = waitAsync;
    const index = this.incoming + COUNTER;
    let active = true;

    const step = (): void => {
      if (!active) return;
      if (this.consume()) {
        try {
          handler(this.lastNotifyId());
        } catch (error) {
          // Surface it like a throwing event listener would, but keep the doorbell alive.
          queueMicrotask(() => {
            throw error;
          });
        }
        if (!active) return;
      }
      const wait = waitFor(this.words, index, this.seen);
      if (wait.async) {
        void wait.value.then(step);
      } else {
        // Rang again already: go round through the event loop so a busy peer cannot starve it.
        setImmediate(step);
      }
    };

    const stop = (): void => {
      if (!active) return;
      active = false;
      if (this.stopListening === stop) this.stopListening = undefined;
      // Release our pending waitAsync; nobody else waits on our incoming counter.
      Atomics.notify(this.words, index);
    };
    this.stopListening = stop;
    step();
    return stop;
  }

  /**
   * Blocks until the other end rings (true) or `timeoutMs` passes (false). Spins for up to
   * `spinMicros` first. Not for the main thread of a process that must stay responsive.
   */
  waitSync(timeoutMs: number): boolean {
    if (this.consume()) return true;
    const index = this.incoming + COUNTER;
    const start = performance.now();
    const timeout = Math.max(0, timeoutMs);
    const spinMs = Math.min(this.spinMicros / 1000, timeout);
    if (spinMs > 0) {
      for (let spins = 1; ; spins++) {
        if (Atomics.load(this.words, index) !== this.seen) return this.consume();
        if (spins % SPINS_PER_CLOCK_READ === 0 && performance.now() - start >= spinMs) break;
      }
    }
    // Bounded by the deadline: every round either consumes a ring or sleeps the time left.
    for (;;) {
      const left = timeout - (performance.now() - start);
      if (left <= 0) return this.consume();
      Atomics.wait(this.words, index, this.seen, left);
      if (this.consume()) return true;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopListening?.();
  }

  private consume(): boolean {
    const now = Atomics.load(this.words, this.incoming + COUNTER);
    if (now === this.seen) return false;
    this.seen = now;
    return true;
  }

  private lastNotifyId(): number {
    return Atomics.load(this.words, this.incoming + NOTIFY_ID) >>> 0;
  }
}
