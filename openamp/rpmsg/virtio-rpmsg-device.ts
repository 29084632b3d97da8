import type { Doorbell } from '../doorbell/doorbell.js';
import type { SharedMemory } from '../memory/shared-memory.js';
import type { VirtioTransport } from '../virtio/transport.js';
import {
  RPMSG_ADDR_ANY,
  RPMSG_DEFAULT_BUFFER_SIZE,
  RPMSG_HEADER_SIZE,
  RPMSG_MAX_CHANNELS,
  RPMSG_NS_ADDR,
  RPMSG_NS_CREATE,
  RPMSG_NS_DESTROY,
  RPMSG_NS_MESSAGE_SIZE,
  RPMSG_RESERVED_ADDRESSES,
  type CreateEndpointOptions,
  type NameServiceAnnouncement,
  type RpmsgDevice,
  type RpmsgDeviceOptions,
  type RpmsgEndpoint,
} from './api.js';
import { VirtioRpmsgEndpoint, type EndpointOwner } from './endpoint.js';
import {
  EndpointNotBoundError,
  NameServiceLimitError,
  NameServiceMessageError,
  NoBufferError,
  PayloadTooLargeError,
  RpmsgClosedError,
  RpmsgConfigError,
  RpmsgHeaderError,
} from './errors.js';
import { decodeNsMessage, encodeNsMessage, encodeRpmsgName } from './wire.js';
import { hex } from '../../base/errors.js';
import { quoteRemote } from '../../base/remote-text.js';

/** Options of createRpmsgHost / createRpmsgRemote: the contract's options plus two knobs. */
export interface RpmsgVirtioOptions extends RpmsgDeviceOptions {
  /**
   * Listen on the doorbell and poll() on each ring (default true). A worker that spins on
   * poll() (or waits with doorbell.waitSync) passes false.
   */
  listen?: boolean;
  /** Remote role: how often to look at the status byte while waiting for DRIVER_OK, in ms (default 5; 0 = never, poll() only). */
  statusPollMs?: number;
  /**
   * After a send, poll the rings in a tight loop for up to this many µs before leaving the
   * answer to the doorbell (default 0: never). A remote that answers within a few µs is then
   * read at once instead of one doorbell wake-up later (~20-60 µs through the event loop);
   * spinning stops by itself while the spins keep coming back empty (see SendSpin).
   */
  spinAfterSendUs?: number;
  /**
   * Called while that spin goes on past SPIN_YIELD_AFTER_MS (every few polls): gives the core to
   * whatever waits for it, e.g. yieldCpu (sched_yield) when the remote is a process the kick
   * woke on this very core, which would otherwise wait until the spin gives up (linux-process:
   * 6-9 % of echoes took the spin + 15-40 µs without it, 0.06-0.26 % with it; BENCHMARKS.md).
   */
  spinYield?: () => void;
}

/**
 * The bounded spin after a send, adaptive: after SPIN_MISSES_BEFORE_REST spins in a row found
 * nothing (a remote slower than the budget, or traffic one way: nothing comes back), the next
 * SPIN_REST_SENDS sends do not spin. When nothing at all was received during a rest (one-way
 * traffic), a spin that finds nothing right after it doubles the next rest, up to
 * SPIN_REST_SENDS_MAX: one-way floods spun 8 sends in 72 (host -> remote on linux-process at
 * half speed), now ~1 in 1,000. A slow remote (answers came, just not within the spin) keeps
 * the short rests, and a spin that finds something ends them.
 */
const SPIN_MISSES_BEFORE_REST = 8;
const SPIN_REST_SENDS = 64;
const SPIN_REST_SENDS_MAX = 1024;
/** performance.now() is read once per this many polls while spinning. */
const SPIN_POLLS_PER_CLOCK_READ = 16;
/** A spin yields (spinYield) once it has gone on this long: an answer due sooner never pays for it. */
const SPIN_YIELD_AFTER_MS = 0.005;

/** Counters for tests and benchmarks. */
export interface RpmsgStats {
  sent: number;
  received: number;
  /** Messages for a local address with no endpoint (dropped, as Linux and open-amp do). */
  droppedUnknownAddress: number;
  /** Received buffers that were not valid RPMsg (dropped). */
  droppedMalformed: number;
  /** Everything reported to onProtocolError. */
  protocolErrors: number;
}

interface SendWaiter {
  readonly src: number;
  readonly dst: number;
  readonly data: Uint8Array;
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
}

interface PendingNameService {
  readonly src: number;
  readonly message: Uint8Array;
}

const MIN_BUFFER_SIZE = RPMSG_HEADER_SIZE + RPMSG_NS_MESSAGE_SIZE;
const SLAB_BYTES = 64 * 1024;
const MAX_BUFFER_SIZE = RPMSG_HEADER_SIZE + 0xffff;

/**
 * What both roles share: endpoints and addresses, the name service, the message format, send
 * with waiting, and poll(). A role supplies the rings: where a transmit buffer comes from and
 * where it goes, and how received buffers are found and given back.
 */
export abstract class VirtioRpmsgDevice implements RpmsgDevice, EndpointOwner {
  abstract readonly role: 'host' | 'remote';
  readonly bufferSize: number;
  readonly maxPayload: number;
  readonly stats: RpmsgStats = { sent: 0, received: 0, droppedUnknownAddress: 0, droppedMalformed: 0, protocolErrors: 0 };

  protected readonly transport: VirtioTransport;
  protected readonly doorbell: Doorbell;
  /** The name service is usable: VIRTIO_RPMSG_F_NS negotiated. */
  protected nsEnabled = false;
  /** The rings are set up and may be used (host: always after construction; remote: DRIVER_OK seen). */
  protected isReady = false;
  protected closed = false;
  /** Set by acquireTxBuffer(): where the message goes. */
  protected txMemory!: SharedMemory;
  protected txOffset = 0;

  private readonly reportError: ((error: Error) => void) | undefined;
  private readonly endpoints = new Map<number, VirtioRpmsgEndpoint>();
  /** Names the peer announced and their addresses. */
  private readonly services = new Map<string, number>();
  /** The peer's live channels ("addr:name"), for the cap. */
  private readonly channelKeys = new Set<string>();
  private readonly maxChannels: number;
  private readonly nsListeners = new Set<(announcement: NameServiceAnnouncement) => void>();
  private nextAddr = RPMSG_RESERVED_ADDRESSES;
  private waiters: SendWaiter[] = [];
  private pendingNs: PendingNameService[] = [];
  private polling = false;
  private pollScheduled = false;
  private stopListening: (() => void) | undefined;
  private slab = new Uint8Array(SLAB_BYTES);
  private slabUsed = 0;
  private readonly spinAfterSendMs: number;
  private readonly spinYield: (() => void) | undefined;
  private spinQueued = false;
  private spinMisses = 0;
  private spinRest = 0;
  /** The length of the last rest (0: none since the last spin that found something). */
  private lastSpinRest = 0;
  /** stats.received when the last rest began. */
  private receivedAtRest = 0;
  private readonly txHeader = new Uint8Array(RPMSG_HEADER_SIZE);
  private readonly txHeaderView = new DataView(this.txHeader.buffer);

  constructor(options: RpmsgVirtioOptions) {
    const bufferSize = options.bufferSize ?? RPMSG_DEFAULT_BUFFER_SIZE;
    if (!Number.isInteger(bufferSize) || bufferSize < MIN_BUFFER_SIZE || bufferSize > MAX_BUFFER_SIZE) {
      throw new RpmsgConfigError(`bufferSize ${bufferSize} must be an integer between ${MIN_BUFFER_SIZE} and ${MAX_BUFFER_SIZE}`);
    }
    this.bufferSize = bufferSize;
    this.maxPayload = bufferSize - RPMSG_HEADER_SIZE;
    this.transport = options.transport;
    this.doorbell = options.doorbell;
    this.reportError = options.onProtocolError;
    this.maxChannels = options.maxChannels ?? RPMSG_MAX_CHANNELS;
    const spinUs = options.spinAfterSendUs ?? 0;
    if (!Number.isFinite(spinUs) || spinUs < 0 || spinUs > 1_000_000) throw new RpmsgConfigError(`spinAfterSendUs ${spinUs} must be between 0 and 1000000`);
    this.spinAfterSendMs = spinUs / 1000;
    this.spinYield = options.spinYield;
  }

  /** True once the rings are in use (the remote saw DRIVER_OK). */
  get ready(): boolean {
    return this.isReady;
  }

  /** Peer-announced channel names and their addresses. */
  get announcedServices(): ReadonlyMap<string, number> {
    return this.services;
  }

  createEndpoint(options: CreateEndpointOptions): RpmsgEndpoint {
    this.assertOpen();
    encodeRpmsgName(options.name);
    const addr = this.allocateAddress(options.addr);
    const requestedDest = options.dest ?? RPMSG_ADDR_ANY;
    const dest = requestedDest === RPMSG_ADDR_ANY ? (this.services.get(options.name) ?? RPMSG_ADDR_ANY) : requestedDest;
    const endpoint = new VirtioRpmsgEndpoint(this, {
      name: options.name,
      addr,
      dest,
      requestedDest,
      announce: options.announce ?? false,
      onMessage: options.onMessage,
      onUnbind: options.onUnbind,
    });
    this.endpoints.set(addr, endpoint);
    if (endpoint.announce && this.isReady) this.sendNameService(endpoint, RPMSG_NS_CREATE);
    return endpoint;
  }

  endpoint(addr: number): RpmsgEndpoint | undefined {
    return this.endpoints.get(addr);
  }

  onNameService(listener: (announcement: NameServiceAnnouncement) => void): () => void {
    this.nsListeners.add(listener);
    return () => this.nsListeners.delete(listener);
  }

  poll(): number {
    if (this.closed || this.polling) return 0;
    this.polling = true;
    try {
      const handled = this.pollRings();
      if (this.isReady) {
        if (this.pendingNs.length > 0) this.flushNameService();
        if (this.waiters.length > 0) this.serviceWaiters();
      }
      return handled;
    } catch (error) {
      // An endpoint or name-service callback threw: its buffer went back already; what is left
      // on the rings is for the next poll, which no kick may announce.
      this.pollAgainSoon();
      throw error;
    } finally {
      this.polling = false;
      if (!this.closed) this.flushKicks();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopListening?.();
    this.stopListening = undefined;
    this.stopRole();
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.reject(new RpmsgClosedError('the RPMsg device was closed while a send waited for a buffer'));
    }
    this.pendingNs = [];
    for (const endpoint of this.endpoints.values()) endpoint.close();
    this.endpoints.clear();
    this.nsListeners.clear();
  }

  // ---- EndpointOwner --------------------------------------------------------------------------

  sendFrom(endpoint: VirtioRpmsgEndpoint, data: Uint8Array, dest: number | undefined, timeoutMs: number): Promise<void> {
    let dst: number;
    try {
      dst = this.checkSend(endpoint, data, dest);
      if (this.waiters.length > 0) this.serviceWaiters();
      if (this.waiters.length === 0 && this.transmit(endpoint.addr, dst, data)) {
        this.spinAfterSend();
        return Promise.resolve();
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (!(timeoutMs > 0)) return Promise.reject(this.noBuffer(endpoint, 0));
    return new Promise<void>((resolve, reject) => {
      const waiter: SendWaiter = { src: endpoint.addr, dst, data: data.slice(), resolve, reject, timer: undefined };
      if (Number.isFinite(timeoutMs)) {
        waiter.timer = setTimeout(() => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          if (this.waiters.length === 0) this.waitingForBuffers(false);
          reject(this.noBuffer(endpoint, timeoutMs));
        }, timeoutMs);
      }
      this.waiters.push(waiter);
      if (this.waiters.length === 1) this.waitingForBuffers(true);
    });
  }

  trySendFrom(endpoint: VirtioRpmsgEndpoint, data: Uint8Array, dest: number | undefined): void {
    const dst = this.checkSend(endpoint, data, dest);
    if (this.waiters.length > 0) this.serviceWaiters();
    if (this.waiters.length > 0 || !this.transmit(endpoint.addr, dst, data)) throw this.noBuffer(endpoint, 0);
    this.spinAfterSend();
  }

  /**
   * Polls for the answer right after a send, in a microtask: after the sender's synchronous code
   * (no callback runs inside send()), before the thread goes back to the event loop to wait.
   */
  private spinAfterSend(): void {
    if (this.spinAfterSendMs === 0 || this.spinQueued || !this.stopListening) return;
    if (this.spinRest > 0) {
      this.spinRest--;
      return;
    }
    this.spinQueued = true;
    queueMicrotask(() => {
      this.spinQueued = false;
      if (this.closed) return;
      const start = performance.now();
      const deadline = start + this.spinAfterSendMs;
      const yieldFrom = this.spinYield ? start + SPIN_YIELD_AFTER_MS : Infinity;
      for (let polls = 1; ; polls++) {
        if (this.poll() > 0) {
          this.spinMisses = 0;
          this.lastSpinRest = 0;
          return;
        }
        if (polls % SPIN_POLLS_PER_CLOCK_READ === 0) {
          const now = performance.now();
          if (now >= yieldFrom) this.spinYield!();
          if (now >= deadline) break;
        }
      }
      const oneWay = this.lastSpinRest > 0 && this.stats.received === this.receivedAtRest;
      if (!oneWay) this.lastSpinRest = 0;
      if (++this.spinMisses >= (oneWay ? 1 : SPIN_MISSES_BEFORE_REST)) {
        this.spinMisses = 0;
        this.lastSpinRest = oneWay ? Math.min(2 * this.lastSpinRest, SPIN_REST_SENDS_MAX) : SPIN_REST_SENDS;
        this.spinRest = this.lastSpinRest;
        this.receivedAtRest = this.stats.received;
      }
    });
  }

  destroyEndpoint(endpoint: VirtioRpmsgEndpoint): void {
    if (endpoint.destroyed) return;
    if (this.endpoints.get(endpoint.addr) === endpoint) this.endpoints.delete(endpoint.addr);
    if (endpoint.announce && this.isReady && !this.closed) this.sendNameService(endpoint, RPMSG_NS_DESTROY);
    endpoint.close();
  }

  // ---- for the roles ---------------------------------------------------------------------------

  /** Role: processes the rings (status, then drainReceiveRing()); returns entries handled. */
  protected abstract pollRings(): number;
  /**
   * Role: takes the next received buffer off its ring, hands it to receiveBuffer() and gives it
   * back (also when that throws); false when none is waiting.
   */
  protected abstract receiveNext(): boolean;
  /**
   * Role: asks the peer to notify us of the next received buffer (with event idx: at our
   * position) and says whether buffers are already waiting.
   */
  protected abstract rearmReceive(): boolean;
  /**
   * Role: finds a transmit buffer of at least `length` bytes and points txMemory/txOffset at it;
   * false when none is free.
   */
  protected abstract acquireTxBuffer(length: number): boolean;
  /** Role: hands the buffer from acquireTxBuffer() to the peer, `length` bytes long. */
  protected abstract submitTxBuffer(length: number): void;
  /** Role: rings the peer for whatever was queued while poll() ran. */
  protected abstract flushKicks(): void;
  /** Role: a send waits for a buffer (true) or nobody waits any more (false). */
  protected abstract waitingForBuffers(waiting: boolean): void;
  /** Role: releases timers and the like on close(). */
  protected abstract stopRole(): void;
  /**
   * Role: where the buffer receiveBuffer() is looking at came from ("vring0 (remote -> host)
   * descriptor 3, buffer at 0x00010600"), for error messages; '' when unknown.
   */
  protected describeReceivedBuffer(): string {
    return '';
  }

  protected get inPoll(): boolean {
    return this.polling;
  }

  /** Rings the other side for vring `notifyId`: the one way a kick leaves the device. */
  protected kick(notifyId: number): void {
    this.transport.notify(notifyId);
  }

  protected listenOnDoorbell(): void {
    if (this.stopListening || this.closed) return;
    this.stopListening = this.doorbell.listen(() => {
      this.poll();
    });
  }

  /**
   * poll() stopped at its budget with work left. A doorbell-driven device polls again from the
   * event loop (no kick will come for entries already there); a device driven by its caller
   * leaves it to the caller, who sees poll() return its budget.
   */
  protected pollAgainSoon(): void {
    if (!this.stopListening || this.pollScheduled || this.closed) return;
    this.pollScheduled = true;
    setImmediate(() => {
      this.pollScheduled = false;
      this.poll();
    });
  }

  /**
   * Receives up to `budget` buffers. With event idx (or at the budget) it re-arms and looks
   * again: the peer may have added entries after our last look without notifying. Each extra
   * round takes at least one entry, and the rounds are bounded too, so that a peer that keeps
   * writing entries we drop cannot hold us here; work left over is polled again soon.
   */
  protected drainReceiveRing(budget: number, eventIdx: boolean): number {
    let handled = 0;
    for (let round = 0; round <= budget; round++) {
      while (handled < budget && !this.closed && this.receiveNext()) handled++;
      // Drained without event idx: notifications stay on, nothing to re-arm.
      if (this.closed || (handled < budget && !eventIdx)) return handled;
      if (!this.rearmReceive()) return handled;
      if (handled >= budget) break;
    }
    this.pollAgainSoon();
    return handled;
  }

  protected protocolError(error: Error): void {
    this.stats.protocolErrors++;
    this.reportError?.(error);
  }

  /** The rings are usable: announce our channels and send what waited. */
  protected deviceReady(nsEnabled: boolean): void {
    this.nsEnabled = nsEnabled;
    this.isReady = true;
    for (const endpoint of this.endpoints.values()) {
      if (endpoint.announce) this.sendNameService(endpoint, RPMSG_NS_CREATE);
    }
  }

  /**
   * The peer reset the device: forget what we learned from it (addresses it announced or sent
   * from); endpoints stay, and announce again when the device is ready again.
   */
  protected deviceReset(): void {
    this.isReady = false;
    this.pendingNs = [];
    this.services.clear();
    this.channelKeys.clear();
    for (const endpoint of this.endpoints.values()) endpoint.dest = endpoint.requestedDest;
  }

  /**
   * One received buffer of `length` bytes at `offset`: checks the header, then hands the message
   * to the name service or the endpoint at `dst`. Never throws for bad data (it is reported and
   * dropped); throws only what an endpoint callback throws.
   */
  protected receiveBuffer(memory: SharedMemory, offset: number, length: number): void {
    if (length < RPMSG_HEADER_SIZE) {
      this.malformed(new RpmsgHeaderError(`received buffer of ${length} bytes is shorter than the ${RPMSG_HEADER_SIZE}-byte RPMsg header`));
      return;
    }
    const src = memory.getU32(offset);
    const dst = memory.getU32(offset + 4);
    const payloadLength = memory.getU16(offset + 12);
    if (payloadLength > length - RPMSG_HEADER_SIZE) {
      this.malformed(
        new RpmsgHeaderError(
          `RPMsg header len ${payloadLength} (src ${src}, dst ${dst}) overruns its ${length}-byte buffer (payload room ${length - RPMSG_HEADER_SIZE})`,
        ),
      );
      return;
    }
    if (dst === RPMSG_NS_ADDR && this.nsEnabled) {
      this.stats.received++;
      this.receiveNameService(memory.read(offset + RPMSG_HEADER_SIZE, payloadLength));
      return;
    }
    const endpoint = this.endpoints.get(dst);
    if (endpoint === undefined) {
      this.stats.droppedUnknownAddress++;
      return;
    }
    this.stats.received++;
    const data = this.takeMessageBytes(payloadLength);
    memory.readInto(offset + RPMSG_HEADER_SIZE, data);
    // open-amp: an endpoint with no peer yet takes the sender of the first message as its peer
    // (how a remote learns the host's address after announcing).
    if (endpoint.dest === RPMSG_ADDR_ANY) endpoint.dest = src;
    endpoint.deliver({ src, dst, data });
  }

  // ---- internals -------------------------------------------------------------------------------

  private checkSend(endpoint: VirtioRpmsgEndpoint, data: Uint8Array, dest: number | undefined): number {
    if (endpoint.destroyed) throw new RpmsgClosedError(`endpoint ${endpoint.describe()} is destroyed`);
    this.assertOpen();
    if (data.length > this.maxPayload) throw new PayloadTooLargeError(data.length, this.maxPayload);
    const dst = dest ?? endpoint.dest;
    if (dst === RPMSG_ADDR_ANY || !Number.isInteger(dst) || dst < 0 || dst > 0xffffffff) {
      throw new EndpointNotBoundError(`endpoint ${endpoint.describe()} has no destination: the peer has not announced ${quoteRemote(endpoint.name)} yet`);
    }
    return dst;
  }

  /** Writes header + payload into a free buffer and sends it; false when no buffer is free. */
  private transmit(src: number, dst: number, data: Uint8Array): boolean {
    if (!this.isReady || !this.acquireTxBuffer(RPMSG_HEADER_SIZE + data.length)) return false;
    const view = this.txHeaderView;
    view.setUint32(0, src, true);
    view.setUint32(4, dst, true);
    view.setUint16(12, data.length, true);
    const memory = this.txMemory;
    memory.write(this.txOffset, this.txHeader);
    if (data.length > 0) memory.write(this.txOffset + RPMSG_HEADER_SIZE, data);
    this.submitTxBuffer(RPMSG_HEADER_SIZE + data.length);
    this.stats.sent++;
    return true;
  }

  private serviceWaiters(): void {
    let served = 0;
    while (served < this.waiters.length) {
      const waiter = this.waiters[served]!;
      let error: Error | undefined;
      try {
        if (!this.transmit(waiter.src, waiter.dst, waiter.data)) break;
      } catch (thrown) {
        error = thrown instanceof Error ? thrown : new NoBufferError(String(thrown));
      }
      if (waiter.timer) clearTimeout(waiter.timer);
      if (error) waiter.reject(error);
      else waiter.resolve();
      served++;
    }
    if (served > 0) {
      this.waiters.splice(0, served);
      if (this.waiters.length === 0) this.waitingForBuffers(false);
    }
  }

  private sendNameService(endpoint: VirtioRpmsgEndpoint, flags: typeof RPMSG_NS_CREATE | typeof RPMSG_NS_DESTROY): void {
    if (!this.nsEnabled) return;
    const message = encodeNsMessage({ name: endpoint.name, addr: endpoint.addr, flags });
    if (this.pendingNs.length === 0) {
      try {
        if (this.transmit(endpoint.addr, RPMSG_NS_ADDR, message)) return;
      } catch (error) {
        this.protocolError(error instanceof Error ? error : new NameServiceMessageError(String(error)));
        return;
      }
    }
    // No buffer right now: goes out from poll() as soon as one is free, before any waiting send.
    this.pendingNs.push({ src: endpoint.addr, message });
  }

  private flushNameService(): void {
    let sent = 0;
    while (sent < this.pendingNs.length) {
      const pending = this.pendingNs[sent]!;
      try {
        if (!this.transmit(pending.src, RPMSG_NS_ADDR, pending.message)) break;
      } catch (error) {
        this.protocolError(error instanceof Error ? error : new NameServiceMessageError(String(error)));
      }
      sent++;
    }
    if (sent > 0) this.pendingNs.splice(0, sent);
  }

  private receiveNameService(message: Uint8Array): void {
    let announcement: NameServiceAnnouncement;
    try {
      announcement = decodeNsMessage(message);
    } catch (error) {
      this.malformed(error instanceof Error ? error : new NameServiceMessageError(String(error)));
      return;
    }
    const { name, addr } = announcement;
    if (addr === RPMSG_ADDR_ANY || addr === RPMSG_NS_ADDR) {
      this.malformed(
        new NameServiceMessageError(
          `name-service ${announcement.flags === RPMSG_NS_CREATE ? 'CREATE' : 'DESTROY'} of ${quoteRemote(name)} at address ${hex(addr)} ` +
            `(${addr === RPMSG_ADDR_ANY ? 'ADDR_ANY' : 'the name service itself'}) refused: no channel can live there`,
        ),
      );
      return;
    }
    const key = `${addr}:${name}`;
    if (announcement.flags === RPMSG_NS_CREATE) {
      if (!this.channelKeys.has(key)) {
        if (this.channelKeys.size >= this.maxChannels) {
          this.protocolError(
            new NameServiceLimitError(`name-service CREATE of ${quoteRemote(name)} at ${hex(addr)} refused: the remote already has ${this.channelKeys.size} channels, the most one device keeps (${this.maxChannels})`),
          );
          return;
        }
        this.channelKeys.add(key);
      }
      this.services.set(name, addr);
      for (const endpoint of this.endpoints.values()) {
        if (endpoint.name === name && endpoint.dest === RPMSG_ADDR_ANY) {
          endpoint.dest = addr;
          break;
        }
      }
    } else {
      this.channelKeys.delete(key);
      if (this.services.get(name) === addr) this.services.delete(name);
      for (const endpoint of this.endpoints.values()) {
        if (endpoint.name === name && endpoint.dest === addr) {
          endpoint.dest = RPMSG_ADDR_ANY;
          endpoint.onUnbind?.(endpoint);
        }
      }
    }
    for (const listener of this.nsListeners) listener(announcement);
  }

  private allocateAddress(requested: number | undefined): number {
    if (requested !== undefined && requested !== RPMSG_ADDR_ANY) {
      if (!Number.isInteger(requested) || requested < 0 || requested >= RPMSG_ADDR_ANY) {
        throw new RpmsgConfigError(`endpoint address ${requested} is not a 32-bit address`);
      }
      if (requested === RPMSG_NS_ADDR) throw new RpmsgConfigError(`endpoint address ${RPMSG_NS_ADDR} is the name service's`);
      if (this.endpoints.has(requested)) throw new RpmsgConfigError(`endpoint address ${requested} is in use`);
      return requested;
    }
    // Linux allocates upwards from 1024; wrap before ADDR_ANY. Bounded: one full lap at most.
    for (let tries = 0; tries <= this.endpoints.size; tries++) {
      const candidate = this.nextAddr;
      this.nextAddr = candidate + 1 >= RPMSG_ADDR_ANY ? RPMSG_RESERVED_ADDRESSES : candidate + 1;
      if (!this.endpoints.has(candidate)) return candidate;
    }
    throw new RpmsgConfigError('no free endpoint address');
  }

  /**
   * Fresh bytes for a received payload. Allocating one typed array per message costs several
   * times the copy, so payloads are carved from a shared slab: each message still owns its
   * bytes (a slab is never reused, only dropped when no message refers to it any more).
   */
  private takeMessageBytes(length: number): Uint8Array {
    if (length > SLAB_BYTES / 8) return new Uint8Array(length);
    if (this.slabUsed + length > SLAB_BYTES) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const bytes = this.slab.subarray(this.slabUsed, this.slabUsed + length);
    this.slabUsed += length;
    return bytes;
  }

  private malformed(error: Error): void {
    this.stats.droppedMalformed++;
    const where = this.describeReceivedBuffer();
    if (where !== '' && error instanceof RpmsgHeaderError) {
      this.protocolError(new RpmsgHeaderError(`${where}: ${error.message}`));
    } else if (where !== '' && error instanceof NameServiceMessageError) {
      this.protocolError(new NameServiceMessageError(`${where}: ${error.message}`));
    } else {
      this.protocolError(error);
    }
  }

  private noBuffer(endpoint: VirtioRpmsgEndpoint, timeoutMs: number): NoBufferError {
    const why = !this.isReady ? 'the device is not ready (no DRIVER_OK yet)' : 'no transmit buffer is free';
    return new NoBufferError(
      timeoutMs > 0 ? `send from endpoint ${endpoint.describe()} timed out after ${timeoutMs} ms: ${why}` : `send from endpoint ${endpoint.describe()}: ${why}`,
    );
  }

  private assertOpen(): void {
    if (this.closed) throw new RpmsgClosedError('the RPMsg device is closed');
  }
}
