import { InfrastructureError } from '../../base/errors.js';
import { NOTIFY_ID_UNKNOWN, type Doorbell } from './doorbell.js';

export interface PollingDoorbellOptions {
  /** Time between two handler calls, in ms. Default 1. */
  intervalMs?: number;
}

const DEFAULT_INTERVAL_MS = 1;

// Atomics.wait on a word nobody changes is a precise, CPU-free sleep.
let sleeper: Int32Array | undefined;

/**
 * waitSync() of a doorbell that polls every `intervalMs`: sleeps one interval (a poll "tick")
 * and returns true, or sleeps `timeoutMs` and returns false when that is shorter.
 */
export function sleepOnePollTick(intervalMs: number, timeoutMs: number): boolean {
  const tick = timeoutMs >= intervalMs;
  const sleepMs = Math.max(0, tick ? intervalMs : timeoutMs);
  sleeper ??= new Int32Array(new SharedArrayBuffer(4));
  if (sleepMs > 0) Atomics.wait(sleeper, 0, 0, sleepMs);
  return tick;
}

/**
 * For targets with no usable interrupt (a QEMU guest we can only reach through its RAM file,
 * a remote that busy-polls): nothing is sent, and the listener looks at the rings on a timer.
 * A timer, unlike a busy loop, leaves the core to the other side between ticks.
 */
export class PollingDoorbell implements Doorbell {
  readonly kind = 'poll';
  readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: PollingDoorbellOptions = {}) {
    const interval = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    if (!Number.isFinite(interval) || interval <= 0) {
      throw new InfrastructureError(`a polling doorbell needs an interval > 0 ms, got ${interval}`);
    }
    this.intervalMs = interval;
  }

  /** Nothing to send: the other side polls too. */
  notify(_notifyId: number): void {}

  /** Calls `handler` every `intervalMs` until stopped or closed. */
  listen(handler: (notifyId: number) => void): () => void {
    if (this.closed) throw new InfrastructureError('listen on a closed polling doorbell');
    if (this.timer) throw new InfrastructureError('this polling doorbell already has a listener');
    const timer = setInterval(() => handler(NOTIFY_ID_UNKNOWN), this.intervalMs);
    this.timer = timer;
    return () => {
      clearInterval(timer);
      if (this.timer === timer) this.timer = undefined;
    };
  }

  /**
   * Sleeps one interval (a poll "tick") and returns true, or sleeps `timeoutMs` and returns
   * false when that is shorter than the interval.
   */
  waitSync(timeoutMs: number): boolean {
    return sleepOnePollTick(this.intervalMs, timeoutMs);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
