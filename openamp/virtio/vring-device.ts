import { hex } from '../../base/errors.js';
import type { AddressSpace, SharedMemory } from '../memory/shared-memory.js';
import { VringEnd, type VringRingOptions } from './vring-end.js';
import { VringProtocolError } from './vring-error.js';
import { VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_SIZE, VRING_USED_ELEM_SIZE } from './vring-layout.js';

export interface VringDeviceOptions extends VringRingOptions {
  /**
   * Translates descriptor addresses. Descriptors hold bus (physical) addresses, so they are
   * looked up by `pa` (AddressSpace.resolvePa): one bus address per region, which for our
   * machines equals the device address.
   */
  addresses: AddressSpace;
}

const TWO_POW_32 = 0x1_0000_0000;

/**
 * The device (remote) side of one split vring. Every avail entry is checked before it is used:
 * the head index against num, the descriptor's [addr, addr + len) against the mapped regions,
 * NEXT chains bounded by num, INDIRECT refused. A bad entry is reported and dropped (consumed
 * from the avail ring, never returned). The buffer of the entry getAvail() accepted is in
 * `head`, `bufferMemory`, `bufferOffset`, `bufferLength`, `bufferFlags` (the head descriptor's:
 * RPMsg uses one descriptor per buffer, as open-amp does).
 */
export class VringDevice extends VringEnd {
  head = -1;
  bufferMemory: SharedMemory;
  bufferOffset = 0;
  bufferLength = 0;
  bufferFlags = 0;

  private readonly addresses: AddressSpace;

  private lastAvail = 0;
  private availSeen = 0;
  private usedIdx = 0;

  // The region the last descriptor was in: most descriptors fall in the same buffer pool.
  private cachedPa = 0;
  private cachedEnd = -1;
  private cachedMemory: SharedMemory;
  private cachedOffset = 0;

  constructor(options: VringDeviceOptions) {
    super(options, 'device');
    this.addresses = options.addresses;
    this.bufferMemory = this.cachedMemory = options.memory;
  }

  /**
   * Takes the next valid avail entry (true; its buffer in the public fields) or returns false
   * when there is none. Looks at no more than `num` entries per call.
   */
  getAvail(): boolean {
    const memory = this.memory;
    for (let budget = this.num; budget > 0; budget--) {
      if (this.lastAvail === this.availSeen) {
        const seen = this.readPeerIdx(this.lastAvail);
        if (seen === this.lastAvail) return false;
        this.availSeen = seen;
      }
      const slot = this.lastAvail & this.mask;
      const head = memory.getU16(this.availRingAt + slot * 2);
      this.lastAvail = (this.lastAvail + 1) & 0xffff;
      if (head >= this.num) {
        this.onError(new VringProtocolError('id-out-of-range', this.name, `avail.ring[${slot}] = ${head} >= num ${this.num}`, head));
        continue;
      }
      if (this.takeDescriptor(head)) {
        this.head = head;
        return true;
      }
    }
    return false;
  }

  /** Returns descriptor `head` to the driver with `len` bytes written (ordered store of used.idx). */
  putUsed(head: number, len: number): void {
    const entry = this.usedRingAt + (this.usedIdx & this.mask) * VRING_USED_ELEM_SIZE;
    this.memory.setU32(entry, head);
    this.memory.setU32(entry + 4, len);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.memory.storeU16(this.usedIdxAt, this.usedIdx);
  }

  /**
   * Says whether the driver wants an interrupt for what was returned since the last call:
   * used_event with event idx, else unless avail.flags has NO_INTERRUPT.
   */
  interruptNeeded(): boolean {
    return this.peerWantsNotification(this.usedIdx);
  }

  /** Asks the driver not to kick us (a hint; for a device that polls). */
  disableNotify(): void {
    this.muteNotifications();
  }

  /**
   * Asks the driver to kick us for the next avail entry (with event idx: avail_event = our
   * position), then returns true when entries are already waiting (the driver may have looked
   * before we asked). An avail.idx that jumped by more than the ring is no entry waiting.
   */
  enableNotify(): boolean {
    return this.unmuteNotifications(this.lastAvail);
  }

  /** Entries returned on the used ring so far (the device's used.idx). */
  get usedIndex(): number {
    return this.usedIdx;
  }

  private takeDescriptor(head: number): boolean {
    const memory = this.memory;
    let at = this.descBase + head * VRING_DESC_SIZE;
    let flags = memory.getU16(at + 12);
    const len = memory.getU32(at + 8);
    const addr = memory.getU32(at) + memory.getU32(at + 4) * TWO_POW_32;
    if ((flags & VRING_DESC_F_INDIRECT) !== 0) {
      this.onError(new VringProtocolError('indirect-descriptor', this.name, `descriptor ${head} is INDIRECT, which RPMsg never negotiates`, head));
      return false;
    }
    if (!this.translate(head, addr, len)) return false;
    this.bufferLength = len;
    this.bufferFlags = flags;
    if ((flags & VRING_DESC_F_NEXT) === 0) return true;
    // The buffer is the head descriptor's; the rest of the chain is checked so that a loop or a
    // wild pointer is reported rather than silently carried along.
    const headMemory = this.bufferMemory;
    const headOffset = this.bufferOffset;
    let index = head;
    for (let count = 1; (flags & VRING_DESC_F_NEXT) !== 0; count++) {
      const next = memory.getU16(at + 14);
      if (next >= this.num) {
        this.onError(new VringProtocolError('id-out-of-range', this.name, `descriptor ${index}.next = ${next} >= num ${this.num} (chain from ${head})`, next));
        return false;
      }
      if (count >= this.num) {
        this.onError(new VringProtocolError('chain-too-long', this.name, `descriptor chain from ${head} is longer than the ring (${this.num})`, head));
        return false;
      }
      index = next;
      at = this.descBase + index * VRING_DESC_SIZE;
      flags = memory.getU16(at + 12);
      if ((flags & VRING_DESC_F_INDIRECT) !== 0) {
        this.onError(new VringProtocolError('indirect-descriptor', this.name, `descriptor ${index} (chain from ${head}) is INDIRECT`, index));
        return false;
      }
      if (!this.translate(index, memory.getU32(at) + memory.getU32(at + 4) * TWO_POW_32, memory.getU32(at + 8))) return false;
    }
    this.bufferMemory = headMemory;
    this.bufferOffset = headOffset;
    return true;
  }

  private translate(index: number, addr: number, len: number): boolean {
    if (addr >= this.cachedPa && addr + len <= this.cachedEnd) {
      this.bufferMemory = this.cachedMemory;
      this.bufferOffset = this.cachedOffset + (addr - this.cachedPa);
      return true;
    }
    let resolved;
    try {
      resolved = this.addresses.resolvePa(addr, len);
    } catch (cause) {
      this.onError(
        new VringProtocolError(
          'address-out-of-range',
          this.name,
          `descriptor ${index}: buffer ${hex(addr)}+${hex(len)} is outside shared memory`,
          addr,
          { cause },
        ),
      );
      return false;
    }
    const region = resolved.region;
    this.cachedPa = region.pa;
    this.cachedEnd = region.pa + region.size;
    this.cachedMemory = region.memory;
    this.cachedOffset = region.offset;
    this.bufferMemory = resolved.memory;
    this.bufferOffset = resolved.offset;
    return true;
  }
}
