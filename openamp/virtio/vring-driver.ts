import { InfrastructureError, hex } from '../../base/errors.js';
import { VringProtocolError } from './vring-error.js';
import { VringEnd, type VringRingOptions } from './vring-end.js';
import { VRING_DESC_F_WRITE, VRING_DESC_SIZE, VRING_USED_ELEM_SIZE } from './vring-layout.js';

export type { VringRingOptions } from './vring-end.js';

/** Our own misuse of a ring (adding a descriptor twice): a bug in the farm, not the peer. */
export class VringUsageError extends InfrastructureError {}

const TWO_POW_32 = 0x1_0000_0000;
const FREE = 0;
const IN_FLIGHT_READABLE = 1;
const IN_FLIGHT_WRITABLE = 2;

/**
 * The driver (host) side of one split vring. One descriptor per buffer, as RPMsg uses it: the
 * caller picks the descriptor index (its buffer slot). What the driver handed out is kept in a
 * private shadow (length, direction, in flight or not), so nothing the device writes into the
 * descriptor table is ever read back; used entries are checked against that shadow.
 */
export class VringDriver extends VringEnd {
  /** Length of the entry the last getUsed() returned; -1 when the device claimed more bytes than
   * the buffer holds (already reported: the buffer is back with us, its contents are not valid). */
  usedLen = 0;
  /** Position (free-running, mod 2^16) of the used entry the last getUsed() returned. */
  usedPosition = 0;

  private readonly state: Uint8Array;
  private readonly lengths: Uint32Array;

  private availIdx = 0;
  private publishedIdx = 0;
  private lastUsed = 0;
  private usedSeen = 0;
  private inFlight = 0;

  constructor(options: VringRingOptions) {
    super(options, 'driver');
    this.state = new Uint8Array(options.num);
    this.lengths = new Uint32Array(options.num);
  }

  /** Zeroes the whole ring (as Linux does before handing it to the device) and forgets all buffers. */
  init(): void {
    this.memory.fill(this.descBase, this.layout.size, 0);
    this.state.fill(FREE);
    this.availIdx = this.publishedIdx = 0;
    this.lastUsed = this.usedSeen = 0;
    this.inFlight = 0;
    this.resetEnd();
  }

  /** Descriptors handed to the device and not yet returned. */
  get inFlightCount(): number {
    return this.inFlight;
  }

  isInFlight(id: number): boolean {
    return this.state[id] !== FREE;
  }

  /**
   * Writes descriptor `id` (bus address `addr`, `len` bytes, device-writable or not) and queues
   * it on the avail ring. Not visible to the device until publish() / kickNeeded().
   */
  add(id: number, addr: number, len: number, writable: boolean): void {
    if (!(id >= 0 && id < this.num) || this.state[id] !== FREE) {
      throw new VringUsageError(`${this.name}: descriptor ${id} is out of range or already in flight`);
    }
    const memory = this.memory;
    const at = this.descBase + id * VRING_DESC_SIZE;
    memory.setU32(at, addr % TWO_POW_32);
    memory.setU32(at + 4, Math.floor(addr / TWO_POW_32));
    memory.setU32(at + 8, len);
    memory.setU32(at + 12, writable ? VRING_DESC_F_WRITE : 0); // flags = WRITE or 0, next = 0
    memory.setU16(this.availRingAt + (this.availIdx & this.mask) * 2, id);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.state[id] = writable ? IN_FLIGHT_WRITABLE : IN_FLIGHT_READABLE;
    this.lengths[id] = len;
    this.inFlight++;
  }

  /** Makes every added buffer visible to the device (ordered store of avail.idx). */
  publish(): void {
    if (this.availIdx !== this.publishedIdx) {
      this.memory.storeU16(this.availIdxAt, this.availIdx);
      this.publishedIdx = this.availIdx;
    }
  }

  /**
   * Publishes, then says whether the device wants a kick for what was added since the last
   * call: avail_event with event idx, else unless used.flags has NO_NOTIFY.
   */
  kickNeeded(): boolean {
    this.publish();
    return this.peerWantsNotification(this.availIdx);
  }

  /**
   * The next valid used entry's descriptor id (its length in `usedLen`), or -1 when there is
   * none. Invalid entries are reported and skipped; at most `num` entries are looked at per call.
   */
  getUsed(): number {
    const memory = this.memory;
    for (let budget = this.num; budget > 0; budget--) {
      if (this.lastUsed === this.usedSeen) {
        const seen = this.readPeerIdx(this.lastUsed);
        if (seen === this.lastUsed) return -1;
        this.usedSeen = seen;
      }
      const entry = this.usedRingAt + (this.lastUsed & this.mask) * VRING_USED_ELEM_SIZE;
      const id = memory.getU32(entry);
      const len = memory.getU32(entry + 4);
      const position = this.lastUsed;
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
      if (id >= this.num) {
        this.onError(
          new VringProtocolError('id-out-of-range', this.name, `used.ring[${position & this.mask}].id${this.addressOf(entry)} is ${hex(id)}, not below num ${this.num}`, id),
        );
        continue;
      }
      const state = this.state[id]!;
      if (state === FREE) {
        this.onError(
          new VringProtocolError('id-not-in-flight', this.name, `used.ring[${position & this.mask}].id${this.addressOf(entry)} is ${id}, a descriptor not handed to the device`, id),
        );
        continue;
      }
      this.state[id] = FREE;
      this.inFlight--;
      this.usedPosition = position;
      if (state === IN_FLIGHT_WRITABLE && len > this.lengths[id]!) {
        this.onError(
          new VringProtocolError(
            'length-too-large',
            this.name,
            `used.ring[${position & this.mask}].len${this.addressOf(entry + 4)} is ${len} for descriptor ${id}, larger than its buffer (${this.lengths[id]} bytes)`,
            len,
          ),
        );
        this.usedLen = -1;
      } else {
        this.usedLen = len;
      }
      return id;
    }
    return -1;
  }

  /** Asks the device not to interrupt us for used buffers (a hint, as in virtio). */
  disableInterrupts(): void {
    this.muteNotifications();
  }

  /**
   * Asks the device to interrupt us for the next used buffer (with event idx: used_event = our
   * position), then returns true when used entries are already waiting (the caller must look
   * again: the device may have checked before we asked). A used.idx that jumped by more than
   * the ring is no entry waiting.
   */
  enableInterrupts(): boolean {
    return this.unmuteNotifications(this.lastUsed);
  }
}
