import type { Doorbell } from '../doorbell/doorbell.js';
import { FirmwareError } from '../../base/errors.js';
import type { RpmsgDevice, RpmsgEndpoint, RpmsgMessage } from '../rpmsg/api.js';
import { VIRTIO_STATUS, type VirtioTransport } from '../virtio/transport.js';
import { controlCommandOf } from './control-words.js';
import type { RemoteProgram, RemoteProgramContext } from './program.js';
import { RemoteControl } from './remote-control.js';

/** The simulated core took an exception (a fault word asked for it): its thread dies with this. */
export class RemoteCoreFault extends FirmwareError {}

export interface RemoteCoreOptions {
  program: RemoteProgram;
  /** The remote's view of its vdev (the virtio device side). */
  transport: VirtioTransport;
  /** The remote's end of the doorbell. */
  doorbell: Doorbell;
  /** Builds the remote-role RPMsg device; called once DRIVER_OK is seen. */
  createDevice(transport: VirtioTransport, doorbell: Doorbell): RpmsgDevice;
  /** Stop requests and state reports; a private one when omitted. */
  control?: RemoteControl;
  /** Trace buffer + console. */
  log?: (line: string) => void;
  /**
   * How long an idle loop keeps polling the rings before it blocks on the doorbell, in µs. A
   * short spin keeps a ping-pong on the fast path; 0 blocks at once. Default 50.
   */
  spinMicros?: number;
  /** Longest single block on the doorbell, in ms (bounds the cost of a lost ring). Default 20. */
  idleWaitMs?: number;
  /** How long to wait for the host's DRIVER_OK before giving up, in ms. Default 60000. */
  driverOkTimeoutMs?: number;
  /** How long a hang lasts at most, in ms (a stop request ends it sooner). Default 1 hour. */
  hangLimitMs?: number;
  /**
   * How long the core waits before each reply, in µs (0 by default): a deliberately slow
   * firmware. The wait blocks the core's thread, as a busy firmware would.
   */
  replyDelayUs?: number;
  /** How long a reply may wait for a free buffer before it is dropped, in ms. Default 15000 (open-amp's). */
  sendTimeoutMs?: number;
}

export type RemoteCoreOutcome =
  | { kind: 'finished'; reason: string }
  | { kind: 'stopped' }
  | { kind: 'hung-then-stopped' }
  | { kind: 'no-driver'; waitedMs: number };

interface PendingReply {
  endpoint: RpmsgEndpoint;
  /** One message, or (a stream) the next of `left` messages `next()` makes. */
  data: Uint8Array;
  dest: number;
  since: number;
  stream?: { left: number; next: () => Uint8Array };
}

/** Replies queued behind a full ring; past this the oldest are dropped (a stuck host). */
const MAX_PENDING_REPLIES = 4096;
const SPINS_PER_CLOCK_READ = 32;

/**
 * One remote core's main loop: wait for DRIVER_OK (bit test), build the RPMsg device, start the
 * program, then poll the rings; when idle, spin briefly and block on the doorbell (`waitSync`
 * when the doorbell has it, otherwise a short timer so the event loop can deliver rings). A
 * crash word makes `run` throw RemoteCoreFault; a hang word makes the loop stop touching the
 * rings and sleep until stopped.
 */
export class RemoteCore {
  readonly control: RemoteControl;
  private readonly log: (line: string) => void;
  private readonly spinMs: number;
  private readonly idleWaitMs: number;
  private readonly sendTimeoutMs: number;
  private readonly pending: PendingReply[] = [];
  private fault: 'crash' | 'hang' | undefined;
  private faultDetail = '';
  private finishedReason: string | undefined;
  /** Async mode (doorbell without waitSync): a ring came since the last idle wait. */
  private rang = false;
  private wake: (() => void) | undefined;

  constructor(private readonly options: RemoteCoreOptions) {
    this.control = options.control ?? new RemoteControl();
    this.log = options.log ?? (() => {});
    this.spinMs = (options.spinMicros ?? 50) / 1000;
    this.idleWaitMs = options.idleWaitMs ?? 20;
    this.sendTimeoutMs = options.sendTimeoutMs ?? 15_000;
  }

  async run(): Promise<RemoteCoreOutcome> {
    const { transport, doorbell, program } = this.options;
    // Without a blocking wait the loop sleeps on timers; a ring cuts the sleep short.
    const stopWaking = doorbell.waitSync
      ? undefined
      : doorbell.listen(() => {
          this.rang = true;
          const wake = this.wake;
          this.wake = undefined;
          wake?.();
        });
    try {
      return await this.boot(transport, doorbell, program);
    } finally {
      stopWaking?.();
    }
  }

  private async boot(transport: VirtioTransport, doorbell: Doorbell, program: RemoteProgram): Promise<RemoteCoreOutcome> {
    this.control.setState('waiting-for-driver');
    const driverOk = await this.waitForDriverOk();
    if (driverOk !== true) {
      this.control.setState('stopped');
      return driverOk;
    }
    const device = this.options.createDevice(transport, doorbell);
    try {
      program.start(this.context(device));
      this.control.setState('running');
      this.log(`${program.name}: running`);
      return await this.loop(device);
    } finally {
      device.close();
    }
  }

  private async waitForDriverOk(): Promise<true | RemoteCoreOutcome> {
    const limit = this.options.driverOkTimeoutMs ?? 60_000;
    const start = performance.now();
    // Bounded by the deadline; the host writes status without kicking, so this polls.
    for (;;) {
      if ((this.options.transport.getStatus() & VIRTIO_STATUS.DRIVER_OK) !== 0) return true;
      if (this.control.stopRequested) return { kind: 'stopped' };
      const waited = performance.now() - start;
      if (waited >= limit) {
        this.log(`no DRIVER_OK from the host within ${limit} ms`);
        return { kind: 'no-driver', waitedMs: Math.round(waited) };
      }
      await this.idle(1);
    }
  }

  private async loop(device: RpmsgDevice): Promise<RemoteCoreOutcome> {
    let idleSince = -1;
    let idleSpins = 0;
    for (;;) {
      if (this.control.stopRequested) {
        this.control.setState('stopped');
        return { kind: 'stopped' };
      }
      const handled = device.poll();
      if (this.pending.length > 0) this.flush();
      if (this.fault === 'crash') {
        this.control.setState('faulted');
        this.log(`core fault: ${this.faultDetail}`);
        throw new RemoteCoreFault(`remote core fault on request (${this.faultDetail})`);
      }
      if (this.fault === 'hang') return this.hang();
      if (this.finishedReason !== undefined && this.pending.length === 0) {
        this.control.setState('finished');
        this.log(`${this.options.program.name}: finished (${this.finishedReason})`);
        return { kind: 'finished', reason: this.finishedReason };
      }
      if (handled > 0) {
        idleSince = -1;
        continue;
      }
      if (this.spinMs > 0) {
        if (idleSince < 0) {
          idleSince = performance.now();
          idleSpins = 0;
          continue;
        }
        if (++idleSpins % SPINS_PER_CLOCK_READ !== 0 || performance.now() - idleSince < this.spinMs) continue;
      }
      idleSince = -1;
      await this.idle(this.idleWaitMs);
    }
  }

  /** Blocks on the doorbell (or sleeps) for at most `ms`. */
  private async idle(ms: number): Promise<void> {
    const doorbell = this.options.doorbell;
    if (doorbell.waitSync) {
      doorbell.waitSync(ms);
      return;
    }
    // No synchronous wait: give the event loop the time, so socket rings and timers run.
    if (!this.rang) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.wake = undefined;
          resolve();
        }, ms);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.rang = false;
  }

  private hang(): RemoteCoreOutcome {
    this.control.setState('hung');
    this.log(`hanging on request (${this.faultDetail}): rings are no longer serviced`);
    const limit = this.options.hangLimitMs ?? 3_600_000;
    const start = performance.now();
    while (performance.now() - start < limit) {
      if (this.control.sleepUnlessStopped(Math.min(1000, limit))) break;
    }
    this.control.setState('stopped');
    return { kind: 'hung-then-stopped' };
  }

  private flush(): void {
    const now = performance.now();
    // Bounded by the queue length: each round sends or drops the head, or stops.
    while (this.pending.length > 0) {
      const head = this.pending[0]!;
      if (head.endpoint.destroyed) {
        this.pending.shift();
        continue;
      }
      try {
        head.endpoint.trySend(head.data, head.dest);
        const stream = head.stream;
        if (stream && --stream.left > 0) {
          // A stream stays at the head: its next message waits for the next free buffer.
          head.data = stream.next();
          head.since = now;
          continue;
        }
        this.pending.shift();
      } catch (error) {
        if (isNoBuffer(error) && now - head.since < this.sendTimeoutMs) return;
        this.pending.shift();
        this.log(`dropped a ${head.data.length}-byte reply to ${head.dest}: ${(error as Error).message}`);
      }
    }
  }

  private context(device: RpmsgDevice): RemoteProgramContext {
    return {
      device,
      log: (line) => this.log(line),
      reply: (endpoint, data, dest) => {
        if (this.options.replyDelayUs) blockFor(this.options.replyDelayUs);
        if (this.pending.length === 0) {
          try {
            endpoint.trySend(data, dest);
            return;
          } catch (error) {
            if (!isNoBuffer(error)) {
              this.log(`could not reply to ${dest} from ${endpoint.addr}: ${(error as Error).message}`);
              return;
            }
          }
        }
        if (this.pending.length >= MAX_PENDING_REPLIES) {
          const dropped = this.pending.shift()!;
          this.log(`reply queue full: dropped a ${dropped.data.length}-byte reply to ${dropped.dest}`);
        }
        // The message buffer may be reused by the device once the handler returns.
        this.pending.push({ endpoint, data: data.slice(), dest, since: performance.now() });
      },
      replyStream: (endpoint, dest, count, next) => {
        if (count <= 0) return;
        this.pending.push({ endpoint, data: next(), dest, since: performance.now(), stream: { left: count, next } });
        this.flush();
      },
      takeFault: (message: RpmsgMessage) => {
        const command = controlCommandOf(message.data);
        if (command !== 'crash' && command !== 'hang') return false;
        this.fault ??= command;
        this.faultDetail = `${command} word from ${message.src} to ${message.dst}`;
        return true;
      },
      finish: (reason) => {
        this.finishedReason ??= reason;
      },
    };
  }
}

/** NoBufferError is the RPMsg device's "no free buffer right now"; matched by name so the
 * runtime does not depend on where the device defines it. */
function isNoBuffer(error: unknown): boolean {
  return error instanceof Error && error.name.startsWith('NoBufferError');
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the calling thread (a remote core's worker) for `micros` µs. */
function blockFor(micros: number): void {
  Atomics.wait(sleeper, 0, 0, micros / 1000);
}
