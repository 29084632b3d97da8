import { hex } from '../../base/errors.js';
import type { SharedMemory } from '../memory/shared-memory.js';
import { VIRTIO_RING_F_EVENT_IDX, VIRTIO_RPMSG_F_NS, VIRTIO_STATUS, type VringInfo } from '../virtio/transport.js';
import { VringDevice } from '../virtio/vring-device.js';
import { checkVringGeometry, vringSize } from '../virtio/vring-layout.js';
import { RPMSG_HEADER_SIZE } from './api.js';
import { DeviceStatusError, PayloadTooLargeError, RpmsgHeaderError } from './errors.js';
import { VirtioRpmsgDevice, type RpmsgVirtioOptions } from './virtio-rpmsg-device.js';

const DEFAULT_STATUS_POLL_MS = 5;
const STATUS_BROKEN = VIRTIO_STATUS.FAILED | VIRTIO_STATUS.NEEDS_RESET;

/**
 * The remote (virtio device) role, as open-amp's rpmsg_virtio does it in VIRTIO_DEV_DEVICE
 * mode. It never allocates: it sends by filling an avail buffer of vring 0 and returning it on
 * the used ring (length = header + payload), and receives by taking avail buffers of vring 1
 * and returning them. It touches nothing until the host sets the DRIVER_OK bit (any status
 * with that bit: Linux writes 0x07, the open-amp host 0x04), then reads the negotiated
 * features and the vring addresses and announces its channels. A status that loses DRIVER_OK
 * resets it (quietly when the host wrote 0, reported otherwise); it starts again on the next
 * DRIVER_OK.
 */
export class VirtioRpmsgRemote extends VirtioRpmsgDevice {
  readonly role = 'remote' as const;

  private rx: VringDevice | undefined;
  private tx: VringDevice | undefined;
  private rxInfo: VringInfo | undefined;
  private txInfo: VringInfo | undefined;
  private eventIdx = false;
  private lastStatus = -1;
  /** A status value at which starting failed; not retried until the status changes. */
  private failedStatus = -1;
  private readonly statusPollMs: number;
  private statusTimer: NodeJS.Timeout | undefined;
  private txHead = -1;
  /** A buffer too small for the message that took it, kept for the next (smaller) one. */
  private heldHead = -1;
  private heldMemory: SharedMemory | undefined;
  private heldOffset = 0;
  private heldLength = 0;
  private kickTx = false;

  constructor(options: RpmsgVirtioOptions) {
    super(options);
    this.statusPollMs = options.statusPollMs ?? DEFAULT_STATUS_POLL_MS;
    if (options.listen ?? true) this.listenOnDoorbell();
    this.poll();
    if (!this.isReady) this.startStatusTimer();
  }

  /** Features in use (valid once ready). */
  get eventIdxNegotiated(): boolean {
    return this.eventIdx;
  }

  protected pollRings(): number {
    const status = this.transport.getStatus();
    if (!this.isReady) {
      if (!this.start(status)) return 0;
    } else if (status !== this.lastStatus) {
      if ((status & VIRTIO_STATUS.DRIVER_OK) === 0 || (status & STATUS_BROKEN) !== 0) {
        this.reset(status);
        return 0;
      }
      this.lastStatus = status;
    }
    return this.drainReceiveRing(this.rx!.num, this.eventIdx);
  }

  protected receiveNext(): boolean {
    const rx = this.rx!;
    if (!rx.getAvail()) return false;
    const head = rx.head;
    const length = rx.bufferLength;
    try {
      this.receiveBuffer(rx.bufferMemory, rx.bufferOffset, length);
    } finally {
      rx.putUsed(head, length);
    }
    return true;
  }

  protected rearmReceive(): boolean {
    return this.rx!.enableNotify();
  }

  protected acquireTxBuffer(length: number): boolean {
    const tx = this.tx;
    if (!tx) return false;
    if (this.heldHead >= 0) {
      if (this.heldLength < length) throw this.hostBufferTooSmall(length, this.heldLength);
      this.txHead = this.heldHead;
      this.txMemory = this.heldMemory!;
      this.txOffset = this.heldOffset;
      this.heldHead = -1;
      this.heldMemory = undefined;
      return true;
    }
    for (let tries = 0; tries < tx.num; tries++) {
      if (!tx.getAvail()) {
        // With event idx the host kicks only past avail_event: ask for the next buffer, and take
        // one that arrived meanwhile.
        if (this.eventIdx && tx.enableNotify()) continue;
        return false;
      }
      const capacity = tx.bufferLength;
      if (capacity >= length) {
        this.txHead = tx.head;
        this.txMemory = tx.bufferMemory;
        this.txOffset = tx.bufferOffset;
        return true;
      }
      if (capacity < RPMSG_HEADER_SIZE) {
        this.protocolError(new RpmsgHeaderError(`vring0 descriptor ${tx.head}: host buffer of ${capacity} bytes cannot hold an RPMsg header; dropped`));
        continue;
      }
      this.heldHead = tx.head;
      this.heldMemory = tx.bufferMemory;
      this.heldOffset = tx.bufferOffset;
      this.heldLength = capacity;
      throw this.hostBufferTooSmall(length, capacity);
    }
    return false;
  }

  protected submitTxBuffer(length: number): void {
    const tx = this.tx!;
    tx.putUsed(this.txHead, length);
    if (tx.interruptNeeded()) {
      if (this.inPoll) this.kickTx = true;
      else this.kick(this.txInfo!.notifyId);
    }
  }

  protected flushKicks(): void {
    if (this.rx?.interruptNeeded()) this.kick(this.rxInfo!.notifyId);
    if (this.kickTx) {
      this.kickTx = false;
      if (this.txInfo) this.kick(this.txInfo.notifyId);
    }
  }

  protected waitingForBuffers(waiting: boolean): void {
    if (waiting && this.eventIdx && this.tx?.enableNotify()) queueMicrotask(() => this.poll());
  }

  protected stopRole(): void {
    this.stopStatusTimer();
  }

  /** Sets the rings up once DRIVER_OK is there; false while it is not (or setting up failed). */
  private start(status: number): boolean {
    if ((status & VIRTIO_STATUS.DRIVER_OK) === 0 || (status & STATUS_BROKEN) !== 0 || status === this.failedStatus) return false;
    const transport = this.transport;
    const offered = transport.deviceFeatures >>> 0;
    const accepted = transport.getDriverFeatures() >>> 0;
    if ((accepted & ~offered) !== 0) {
      this.protocolError(
        new DeviceStatusError(`host accepted features ${hex(accepted)} that the device did not offer (${hex(offered)}); using ${hex(accepted & offered)}`, status),
      );
    }
    const features = accepted & offered;
    const eventIdx = (features & VIRTIO_RING_F_EVENT_IDX) !== 0;
    const onError = (error: Error): void => this.protocolError(error);
    try {
      // Read only now: Linux assigns the vring addresses late, just before DRIVER_OK.
      const vrings = transport.vrings;
      if (vrings.length < 2) throw new DeviceStatusError(`an RPMsg virtio device needs 2 vrings, the transport has ${vrings.length}`, status);
      const txInfo = vrings[0]!;
      const rxInfo = vrings[1]!;
      checkVringGeometry(txInfo.num, txInfo.align, 'vring0 (remote -> host)');
      checkVringGeometry(rxInfo.num, rxInfo.align, 'vring1 (host -> remote)');
      const space = transport.memory;
      const txRing = space.resolveDa(txInfo.da, vringSize(txInfo.num, txInfo.align));
      const rxRing = space.resolveDa(rxInfo.da, vringSize(rxInfo.num, rxInfo.align));
      this.tx = new VringDevice({ memory: txRing.memory, offset: txRing.offset, num: txInfo.num, align: txInfo.align, eventIdx, name: 'vring0 (remote -> host)', addresses: space, onError });
      this.rx = new VringDevice({ memory: rxRing.memory, offset: rxRing.offset, num: rxInfo.num, align: rxInfo.align, eventIdx, name: 'vring1 (host -> remote)', addresses: space, onError });
      this.txInfo = txInfo;
      this.rxInfo = rxInfo;
    } catch (error) {
      this.failedStatus = status;
      this.tx = this.rx = undefined;
      this.protocolError(error instanceof Error ? error : new DeviceStatusError(String(error), status));
      return false;
    }
    this.eventIdx = eventIdx;
    this.lastStatus = status;
    this.failedStatus = -1;
    this.stopStatusTimer();
    this.deviceReady((features & VIRTIO_RPMSG_F_NS) !== 0);
    return true;
  }

  private reset(status: number): void {
    if (status !== 0) {
      this.protocolError(
        new DeviceStatusError(`virtio status went from ${hex(this.lastStatus, 2)} to ${hex(status, 2)} while running: device reset`, status),
      );
    }
    this.rx = this.tx = undefined;
    this.heldHead = -1;
    this.heldMemory = undefined;
    this.kickTx = false;
    this.lastStatus = -1;
    this.failedStatus = -1;
    this.deviceReset();
    this.startStatusTimer();
  }

  private hostBufferTooSmall(length: number, capacity: number): PayloadTooLargeError {
    return new PayloadTooLargeError(
      length - RPMSG_HEADER_SIZE,
      capacity - RPMSG_HEADER_SIZE,
      `payload of ${length - RPMSG_HEADER_SIZE} bytes does not fit the host's ${capacity}-byte buffer`,
    );
  }

  private startStatusTimer(): void {
    if (this.statusTimer || this.closed || !(this.statusPollMs > 0)) return;
    this.statusTimer = setInterval(() => this.poll(), this.statusPollMs);
    this.statusTimer.unref();
  }

  private stopStatusTimer(): void {
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.statusTimer = undefined;
  }
}

export function createRpmsgRemote(options: RpmsgVirtioOptions): VirtioRpmsgRemote {
  return new VirtioRpmsgRemote(options);
}
