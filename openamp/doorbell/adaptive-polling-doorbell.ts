import { performance } from 'node:perf_hooks';
import { InfrastructureError } from '../../base/errors.js';
import { NOTIFY_ID_UNKNOWN, type Doorbell } from './doorbell.js';
import { sleepOnePollTick } from './polling-doorbell.js';

export interface AdaptivePollingDoorbellOptions {
  /** Time between two handler calls while idle, in ms. Default 1. */
  intervalMs?: number;
  /**
   * After each notify, call the handler from every event-loop turn (setImmediate) for this
   * long, in ms: the answer to what we just sent is usually this close. 0 = plain polling.
   * Default 0.2.
   */
  burstMs?: number;
}

const DEFAULT_INTERVAL_MS = 1;
const DEFAULT_BURST_MS = 0.2;

/**
 * Polling for a remote with no interrupt to ring us (a QEMU guest reached only through its RAM
 * file), shaped by traffic: idle, the handler runs on a timer every `intervalMs` and leaves
 * the core alone; each notify (we sent a message, or returned buffers after receiving) starts
 * or extends a burst of `burstMs` during which the handler runs on every event-loop turn, so
 * a reply is seen microseconds after it lands instead of at the next timer tick. A busy
 * exchange keeps the burst going; it ends `burstMs` after the last notify.
 *
 * Bursts are kept short: spinning holds the CPU the remote's emulator needs to answer. A
 * target with a core to itself answers in ~30-50 us; with two QEMU targets and their workers
 * on two shared cores a 2 ms burst made echoes 3.5x slower than timer polling and 0.2 ms
 * mostly ~15% slower (BENCHMARKS.md).
 */
export class AdaptivePollingDoorbell implements Doorbell {
  readonly kind = 'adaptive-poll';
  readonly intervalMs: number;
  readonly burstMs: number;
  /** Handler calls from the idle timer and from bursts (for tests and benchmarks). */
  readonly stats = { timerPolls: 0, burstPolls: 0, bursts: 0 };
  private handler: ((notifyId: number) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private burstUntil = 0;
  private bursting = false;
  private closed = false;

  constructor(options: AdaptivePollingDoorbellOptions = {}) {
    const interval = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    const burst = options.burstMs ?? DEFAULT_BURST_MS;
    if (!Number.isFinite(interval) || interval <= 0) throw new InfrastructureError(`an adaptive polling doorbell needs an interval > 0 ms, got ${interval}`);
    if (!Number.isFinite(burst) || burst < 0) throw new InfrastructureError(`an adaptive polling doorbell needs a burst >= 0 ms, got ${burst}`);
    this.intervalMs = interval;
    this.burstMs = burst;
  }

  /** Nothing is sent (the other side polls too): starts or extends a burst of polling. */
  notify(_notifyId: number): void {
    if (this.closed || this.burstMs === 0) return;
    this.burstUntil = performance.now() + this.burstMs;
    if (this.handler && !this.bursting) {
      this.bursting = true;
      this.stats.bursts++;
      this.immediate = setImmediate(this.spin);
    }
  }

  listen(handler: (notifyId: number) => void): () => void {
    if (this.closed) throw new InfrastructureError('listen on a closed adaptive polling doorbell');
    if (this.handler) throw new InfrastructureError('this adaptive polling doorbell already has a listener');
    this.handler = handler;
    const timer = setInterval(() => {
      // A burst is already looking on every turn.
      if (this.bursting) return;
      this.stats.timerPolls++;
      handler(NOTIFY_ID_UNKNOWN);
    }, this.intervalMs);
    this.timer = timer;
    if (performance.now() < this.burstUntil) this.notify(NOTIFY_ID_UNKNOWN);
    return () => {
      if (this.handler !== handler) return;
      this.stopListening();
    };
  }

  /**
   * For a remote-role loop in a worker: during a burst returns true at once (look again),
   * otherwise sleeps one interval and returns true, or `timeoutMs` and false when shorter.
   */
  waitSync(timeoutMs: number): boolean {
    if (performance.now() < this.burstUntil) return true;
    return sleepOnePollTick(this.intervalMs, timeoutMs);
  }

  close(): void {
    this.closed = true;
    this.stopListening();
  }

  private readonly spin = (): void => {
    this.immediate = undefined;
    const handler = this.handler;
    if (!handler || this.closed) {
      this.bursting = false;
      return;
    }
    this.stats.burstPolls++;
    handler(NOTIFY_ID_UNKNOWN);
    // The handler may have notified (extending the burst) or stopped listening.
    if (this.handler === handler && performance.now() < this.burstUntil) this.immediate = setImmediate(this.spin);
    else this.bursting = false;
  };

  private stopListening(): void {
    this.handler = undefined;
    if (this.timer) clearInterval(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.bursting = false;
  }
}
