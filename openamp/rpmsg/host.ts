import { hex } from '../../base/errors.js';
import type { SharedMemory } from '../memory/shared-memory.js';
import { VIRTIO_RING_F_EVENT_IDX, VIRTIO_RPMSG_F_NS, VIRTIO_STATUS, type VringInfo } from '../virtio/transport.js';
import { VringDriver } from '../virtio/vring-driver.js';
import { checkVringGeometry, vringSize } from '../virtio/vring-layout.js';
import { DeviceStatusError, RpmsgConfigError } from './errors.js';
import { VirtioRpmsgDevice, type RpmsgVirtioOptions } from './virtio-rpmsg-device.js';

/** Linux's MAX_RPMSG_NUM_BUFS. */
export const RPMSG_MAX_NUM_BUFS = 512;
/** Features the host accepts when the remote offers them. */
export const RPMSG_HOST_SUPPORTED_FEATURES = VIRTIO_RPMSG_F_NS | VIRTIO_RING_F_EVENT_IDX;
/** What Linux (and this host) leaves in the status byte: ACKNOWLEDGE | DRIVER | DRIVER_OK. */
export const STATUS_RUNNING = VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER | VIRTIO_STATUS.DRIVER_OK;

/**
 * Linux's buffer count for a receive ring of `num` entries: min(2 * num, 512), half to receive,
 * half to send.
 */
export function rpmsgBufferCount(num: number): number {
  return Math.min(2 * num, RPMSG_MAX_NUM_BUFS);
}

/**
 * The host (virtio driver) role, as Linux's virtio_rpmsg_bus does it: owns the buffer pool,
 * posts the first half of it on vring 0 for the remote to fill, sends from the second half on
 * vring 1, and reclaims sent buffers lazily when it needs one. Setting up (in the constructor):
 * status 0, ACKNOWLEDGE, ACKNOWLEDGE|DRIVER, driver features = offered & (NS | EVENT_IDX),
 * zeroed rings, receive buffers posted, DRIVER_OK (0x07), kick of vring 0.
 */
export class VirtioRpmsgHost extends VirtioRpmsgDevice {
  readonly role = 'host' as const;
  readonly rxBufferCount: number;
  readonly txBufferCount: number;
  readonly eventIdx: boolean;

  private readonly rx: VringDriver;
  private readonly tx: VringDriver;
  private readonly rxInfo: VringInfo;
  private readonly txInfo: VringInfo;
  private readonly poolMemory: SharedMemory;
  private readonly poolOffset: number;
  private readonly poolPa: number;
  /** Offset of the first transmit buffer from the start of the pool (Linux: second half). */
  private readonly txPoolStart: number;
  private readonly freeTx: Int32Array;
  private freeTxCount: number;
  private txId = -1;
  /** The received buffer being looked at (for error messages). */
  private rxId = -1;
  private kickTx = false;
  private txWaiting = false;
  private readonly expectedStatus = STATUS_RUNNING;
  private reportedStatus = -1;

  constructor(options: RpmsgVirtioOptions) {
    super(options);
    const pool = options.bufferPool;
    if (!pool) throw new RpmsgConfigError('the host role needs a bufferPool (device address and size of the RPMsg buffers)');
    const transport = this.transport;
    const space = transport.memory;
    if (transport.vrings.length < 2) {
      throw new RpmsgConfigError(`an RPMsg virtio device needs 2 vrings, the transport has ${transport.vrings.length}`);
    }
    const rxInfo = transport.vrings[0]!;
    const txInfo = transport.vrings[1]!;
    checkVringGeometry(rxInfo.num, rxInfo.align, 'vring0 (remote -> host)');
    checkVringGeometry(txInfo.num, txInfo.align, 'vring1 (host -> remote)');
    this.rxInfo = rxInfo;
    this.txInfo = txInfo;

    const bufferSize = this.bufferSize;
    const half = rpmsgBufferCount(rxInfo.num) / 2;
    this.rxBufferCount = half;
    this.txBufferCount = Math.min(half, txInfo.num);
    const poolBytes = 2 * half * bufferSize;
    if (!(pool.size >= poolBytes)) {
      throw new RpmsgConfigError(
        `buffer pool at ${hex(pool.da)} holds ${pool.size} bytes; ${2 * half} buffers of ${bufferSize} bytes need ${poolBytes}`,
      );
    }
    const resolvedPool = space.resolveDa(pool.da, poolBytes);
    this.poolMemory = resolvedPool.memory;
    this.poolOffset = resolvedPool.offset;
    this.poolPa = space.daToPa(pool.da);
    this.txPoolStart = half * bufferSize;
    this.freeTx = new Int32Array(this.txBufferCount);
    // Hand out the lowest buffers first, as Linux does.
    for (let i = 0; i < this.txBufferCount; i++) this.freeTx[i] = this.txBufferCount - 1 - i;
    this.freeTxCount = this.txBufferCount;

    transport.setStatus(0);
    transport.setStatus(VIRTIO_STATUS.ACKNOWLEDGE);
    transport.setStatus(VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER);
    const features = (transport.deviceFeatures & RPMSG_HOST_SUPPORTED_FEATURES) >>> 0;
    transport.setDriverFeatures(features);
    this.eventIdx = (features & VIRTIO_RING_F_EVENT_IDX) !== 0;

    const onError = (error: Error): void => this.protocolError(error);
    const rxRing = space.resolveDa(rxInfo.da, vringSize(rxInfo.num, rxInfo.align));
    const txRing = space.resolveDa(txInfo.da, vringSize(txInfo.num, txInfo.align));
    this.rx = new VringDriver({ memory: rxRing.memory, offset: rxRing.offset, da: rxInfo.da, num: rxInfo.num, align: rxInfo.align, eventIdx: this.eventIdx, name: 'vring0 (remote -> host)', onError });
    this.tx = new VringDriver({ memory: txRing.memory, offset: txRing.offset, da: txInfo.da, num: txInfo.num, align: txInfo.align, eventIdx: this.eventIdx, name: 'vring1 (host -> remote)', onError });
    this.rx.init();
    this.tx.init();
    for (let id = 0; id < half; id++) this.rx.add(id, this.poolPa + id * bufferSize, bufferSize, true);
    // "tx-complete" interrupts stay off until a sender waits for a buffer.
    this.tx.disableInterrupts();
    this.deviceReady((features & VIRTIO_RPMSG_F_NS) !== 0);
    // Publishes the receive buffers before DRIVER_OK.
    const kick = this.rx.kickNeeded();
    transport.setStatus(STATUS_RUNNING);
    if (options.listen ?? true) this.listenOnDoorbell();
    if (kick) this.kick(rxInfo.notifyId);
  }

  protected pollRings(): number {
    const status = this.transport.getStatus();
    if (status !== this.expectedStatus) {
      if (status !== this.reportedStatus) {
        this.reportedStatus = status;
        this.protocolError(
          new DeviceStatusError(`virtio status is ${hex(status, 2)}, the host wrote ${hex(this.expectedStatus, 2)}: only the host may write it`, status),
        );
      }
    } else {
      this.reportedStatus = -1;
    }
    return this.drainReceiveRing(this.rxBufferCount, this.eventIdx);
  }

  protected receiveNext(): boolean {
    const rx = this.rx;
    const id = rx.getUsed();
    if (id < 0) return false;
    const bufferSize = this.bufferSize;
    this.rxId = id;
    try {
      const length = rx.usedLen;
      if (length >= 0) this.receiveBuffer(this.poolMemory, this.poolOffset + id * bufferSize, length);
    } finally {
      rx.add(id, this.poolPa + id * bufferSize, bufferSize, true);
    }
    return true;
  }

  protected override describeReceivedBuffer(): string {
    const id = this.rxId;
    if (id < 0) return '';
    const position = this.rx.usedPosition;
    return `vring0 (remote -> host) used.ring[${position & (this.rxInfo.num - 1)}] (used.idx ${position}), descriptor ${id}, buffer at ${hex(this.poolPa + id * this.bufferSize)}`;
  }

  protected rearmReceive(): boolean {
    return this.rx.enableInterrupts();
  }

  protected acquireTxBuffer(_length: number): boolean {
    let id = this.tx.getUsed();
    if (id < 0) {
      if (this.freeTxCount > 0) {
        id = this.freeTx[--this.freeTxCount]!;
      } else {
        // While a sender waits, re-arm the tx-complete interrupt at the current position (with
        // event idx it is a position, not a flag), and take what arrived meanwhile.
        if (!this.txWaiting || !this.tx.enableInterrupts()) return false;
        id = this.tx.getUsed();
        if (id < 0) return false;
      }
    } else if (id >= this.txBufferCount) {
      // In flight means we added it, so this cannot happen; keep the pool bounds anyway.
      return false;
    }
    this.txId = id;
    this.txMemory = this.poolMemory;
    this.txOffset = this.poolOffset + this.txPoolStart + id * this.bufferSize;
    return true;
  }

  protected submitTxBuffer(length: number): void {
    const id = this.txId;
    this.tx.add(id, this.poolPa + this.txPoolStart + id * this.bufferSize, length, false);
    if (this.tx.kickNeeded()) {
      if (this.inPoll) this.kickTx = true;
      else this.kick(this.txInfo.notifyId);
    }
  }

  protected flushKicks(): void {
    if (this.rx.kickNeeded()) this.kick(this.rxInfo.notifyId);
    if (this.kickTx) {
      this.kickTx = false;
      this.kick(this.txInfo.notifyId);
    }
  }

  protected waitingForBuffers(waiting: boolean): void {
    this.txWaiting = waiting;
    if (!waiting) {
      this.tx.disableInterrupts();
      return;
    }
    // The remote may have returned buffers before it could see that we want to hear about it.
    if (this.tx.enableInterrupts()) queueMicrotask(() => this.poll());
  }

  /** A virtio reset, as Linux does when it removes the device: the remote must stop using the rings. */
  protected stopRole(): void {
    try {
      this.transport.setStatus(0);
    } catch {
      // The transport is already gone (remoteproc stopped first): nothing left to reset.
    }
  }
}

export function createRpmsgHost(options: RpmsgVirtioOptions): VirtioRpmsgHost {
  return new VirtioRpmsgHost(options);
}
