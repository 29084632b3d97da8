import { InfrastructureError } from '../../base/errors.js';
import { AdaptivePollingDoorbell } from './adaptive-polling-doorbell.js';
import { NOTIFY_ID_UNKNOWN, type Doorbell } from './doorbell.js';

export interface ForwardedKickDoorbellOptions {
  /** For logs and benchmark labels ("uart-kick"). Default "forwarded-kick". */
  kind?: string;
  /**
   * Safety poll: the handler also runs every this many ms without a kick, so a kick lost on
   * the way (or one sent before we listened) delays a message instead of hanging it. Default 20.
   */
  safetyPollMs?: number;
  /**
   * After each notify, also poll on every event-loop turn for this long, ms (as
   * AdaptivePollingDoorbell). Default 0: the kick says when to look.
   */
  burstMs?: number;
}

const DEFAULT_SAFETY_POLL_MS = 20;

/**
 * The host's end of a doorbell the other side rings through a channel someone else reads: a
 * QEMU guest writes a kick byte on its console UART, the serial reader strips it and calls
 * ring(). Notifying the other side sends nothing (it polls the rings in its idle loop). The
 * safety poll and the optional burst are AdaptivePollingDoorbell's timer and burst.
 */
export class ForwardedKickDoorbell implements Doorbell {
  readonly kind: string;
  readonly safetyPollMs: number;
  /** Kicks forwarded, and how many reached a listener (for tests and benchmarks). */
  readonly stats = { kicks: 0, delivered: 0 };
  private readonly polling: AdaptivePollingDoorbell;
  private handler: ((notifyId: number) => void) | undefined;
  private closed = false;

  constructor(options: ForwardedKickDoorbellOptions = {}) {
    const safety = options.safetyPollMs ?? DEFAULT_SAFETY_POLL_MS;
    if (!Number.isFinite(safety) || safety <= 0) throw new InfrastructureError(`a forwarded-kick doorbell needs a safety poll interval > 0 ms, got ${safety}`);
    this.kind = options.kind ?? 'forwarded-kick';
    this.safetyPollMs = safety;
    this.polling = new AdaptivePollingDoorbell({ intervalMs: safety, burstMs: options.burstMs ?? 0 });
  }

  /** Safety polls and burst polls so far. */
  get pollStats(): Readonly<AdaptivePollingDoorbell['stats']> {
    return this.polling.stats;
  }

  /** The other side rang (called by whoever reads its channel). Ignored while nobody listens. */
  ring(notifyId: number = NOTIFY_ID_UNKNOWN): void {
    this.stats.kicks++;
    const handler = this.handler;
    if (!handler || this.closed) return;
    this.stats.delivered++;
    handler(notifyId);
  }

  notify(notifyId: number): void {
    this.polling.notify(notifyId);
  }

  listen(handler: (notifyId: number) => void): () => void {
    if (this.closed) throw new InfrastructureError(`listen on a closed ${this.kind} doorbell`);
    if (this.handler) throw new InfrastructureError(`this ${this.kind} doorbell already has a listener`);
    const stopPolling = this.polling.listen(handler);
    this.handler = handler;
    return () => {
      if (this.handler !== handler) return;
      this.handler = undefined;
      stopPolling();
    };
  }

  close(): void {
    this.closed = true;
    this.handler = undefined;
    this.polling.close();
  }
}
