import { FirmwareError, hex } from '../../base/errors.js';

/**
 * The legacy split-vring layout (virtio 0.9.5 / "legacy interface"), which is what remoteproc
 * vdevs use on both Linux and open-amp:
 *
 *   desc  at 0                      16 B per entry: u64 addr, u32 len, u16 flags, u16 next
 *   avail at 16*num                 u16 flags, u16 idx, u16 ring[num], u16 used_event
 *   used  at ALIGN(avail end, align) u16 flags, u16 idx, {u32 id, u32 len}[num], u16 avail_event
 */

export const VRING_DESC_SIZE = 16;
export const VRING_USED_ELEM_SIZE = 8;
export const VRING_DESC_F_NEXT = 1;
export const VRING_DESC_F_WRITE = 2;
export const VRING_DESC_F_INDIRECT = 4;
/** avail.flags: the driver asks the device not to interrupt it. */
export const VRING_AVAIL_F_NO_INTERRUPT = 1;
/** used.flags: the device asks the driver not to kick it. */
export const VRING_USED_F_NO_NOTIFY = 1;
/** Largest queue size virtio allows (ring indices are u16 and wrap). */
export const VRING_MAX_NUM = 32768;

/** Byte offsets of every field of one vring, relative to the start of the ring. */
export interface VringLayout {
  readonly num: number;
  readonly align: number;
  readonly desc: number;
  readonly avail: number;
  readonly availFlags: number;
  readonly availIdx: number;
  readonly availRing: number;
  /** avail->ring[num]: where the driver wants an interrupt (event idx). */
  readonly usedEvent: number;
  readonly used: number;
  readonly usedFlags: number;
  readonly usedIdx: number;
  readonly usedRing: number;
  /** used->ring[num]: where the device wants a kick (event idx). */
  readonly availEvent: number;
  /** Total bytes, as vring_size() computes it. */
  readonly size: number;
}

/** A vring's geometry (num / align) is not one virtio allows; it comes from the resource table. */
export class VringGeometryError extends FirmwareError {}

export function isPowerOfTwo(value: number): boolean {
  return Number.isInteger(value) && value > 0 && value <= 0x80000000 && (value & (value - 1)) === 0;
}

export function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

/** Throws VringGeometryError unless num is a power of two <= 32768 and align a power of two. */
export function checkVringGeometry(num: number, align: number, where = 'vring'): void {
  if (!isPowerOfTwo(num) || num > VRING_MAX_NUM) {
    throw new VringGeometryError(`${where}: num ${num} is not a power of two between 1 and ${VRING_MAX_NUM}`);
  }
  if (!isPowerOfTwo(align)) {
    throw new VringGeometryError(`${where}: align ${hex(align)} is not a power of two`);
  }
}

export function vringLayout(num: number, align: number): VringLayout {
  checkVringGeometry(num, align);
  const avail = VRING_DESC_SIZE * num;
  const usedEvent = avail + 4 + 2 * num;
  const used = alignUp(usedEvent + 2, align);
  const availEvent = used + 4 + VRING_USED_ELEM_SIZE * num;
  return {
    num,
    align,
    desc: 0,
    avail,
    availFlags: avail,
    availIdx: avail + 2,
    availRing: avail + 4,
    usedEvent,
    used,
    usedFlags: used,
    usedIdx: used + 2,
    usedRing: used + 4,
    availEvent,
    size: availEvent + 2,
  };
}

/** vring_size(): ALIGN(16*num + 2*(3+num), align) + 6 + 8*num. */
export function vringSize(num: number, align: number): number {
  return vringLayout(num, align).size;
}

/**
 * vring_need_event(): with VIRTIO_RING_F_EVENT_IDX, the other side wants a notification when
 * the index moved from `oldIdx` to `newIdx` across `eventIdx`. All u16 arithmetic.
 */
export function needEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}
