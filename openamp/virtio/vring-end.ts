import { hex } from '../../base/errors.js';
import type { SharedMemory } from '../memory/shared-memory.js';
import { VringProtocolError } from './vring-error.js';
import { VRING_AVAIL_F_NO_INTERRUPT, VRING_USED_F_NO_NOTIFY, needEvent, vringLayout, type VringLayout } from './vring-layout.js';

export interface VringRingOptions {
  /** The store the ring lives in, and where it starts inside it (resolve its `da` first). */
  memory: SharedMemory;
  offset: number;
  num: number;
  align: number;
  /** VIRTIO_RING_F_EVENT_IDX was negotiated. */
  eventIdx: boolean;
  /** For error messages: "vring0 (rx)". */
  name: string;
  /** The ring's device address, so that errors name the address of the bad field. */
  da?: number;
  /** Receives each invalid entry the other side wrote; the entry is dropped. */
  onError: (error: VringProtocolError) => void;
}

/**
 * The machinery both sides of a split vring share: absolute field offsets, the bounded read of
 * the peer's index, asking the peer for notifications (flag or event idx) and deciding whether
 * the peer wants one. The two sides mirror each other:
 *
 *                     produces   consumes    own flags / event        peer flags / event
 *   driver (host)     avail.idx  used.idx    avail.flags, used_event  used.flags, avail_event
 *   device (remote)   used.idx   avail.idx   used.flags, avail_event  avail.flags, used_event
 *
 * Subclasses add the descriptor handling of their role.
 */
export abstract class VringEnd {
  readonly layout: VringLayout;
  readonly num: number;
  readonly name: string;
  readonly eventIdx: boolean;

  protected readonly memory: SharedMemory;
  protected readonly onError: (error: VringProtocolError) => void;
  protected readonly mask: number;
  protected readonly descBase: number;
  protected readonly availIdxAt: number;
  protected readonly availRingAt: number;
  protected readonly usedIdxAt: number;
  protected readonly usedRingAt: number;

  private readonly base: number;
  private readonly da: number | undefined;
  private readonly peerIdxAt: number;
  private readonly peerIdxField: 'avail.idx' | 'used.idx';
  /** The "don't notify me" bit of our flags and of the peer's. */
  private readonly ownNoNotify: number;
  private readonly peerNoNotify: number;
  private readonly ownFlagsAt: number;
  private readonly ownEventAt: number;
  private readonly peerFlagsAt: number;
  private readonly peerEventAt: number;
  private ownFlags = 0;
  private ownEventWritten = -1;
  private notifiedIdx = 0;
  private badPeerIdxReported = -1;

  protected constructor(options: VringRingOptions, role: 'driver' | 'device') {
    this.layout = vringLayout(options.num, options.align);
    this.num = options.num;
    this.name = options.name;
    this.eventIdx = options.eventIdx;
    this.memory = options.memory;
    this.onError = options.onError;
    this.mask = options.num - 1;
    const base = options.offset;
    this.base = base;
    this.da = options.da;
    // Fail now, not on the first access, if the ring does not fit the store.
    this.memory.getU8(base);
    this.memory.getU8(base + this.layout.size - 1);
    this.descBase = base + this.layout.desc;
    this.availIdxAt = base + this.layout.availIdx;
    this.availRingAt = base + this.layout.availRing;
    this.usedIdxAt = base + this.layout.usedIdx;
    this.usedRingAt = base + this.layout.usedRing;
    const layout = this.layout;
    if (role === 'driver') {
      this.peerIdxAt = this.usedIdxAt;
      this.peerIdxField = 'used.idx';
      this.ownNoNotify = VRING_AVAIL_F_NO_INTERRUPT;
      this.peerNoNotify = VRING_USED_F_NO_NOTIFY;
      this.ownFlagsAt = base + layout.availFlags;
      this.ownEventAt = base + layout.usedEvent;
      this.peerFlagsAt = base + layout.usedFlags;
      this.peerEventAt = base + layout.availEvent;
    } else {
      this.peerIdxAt = this.availIdxAt;
      this.peerIdxField = 'avail.idx';
      this.ownNoNotify = VRING_USED_F_NO_NOTIFY;
      this.peerNoNotify = VRING_AVAIL_F_NO_INTERRUPT;
      this.ownFlagsAt = base + layout.usedFlags;
      this.ownEventAt = base + layout.availEvent;
      this.peerFlagsAt = base + layout.availFlags;
      this.peerEventAt = base + layout.usedEvent;
    }
  }

  /** " at 0x00004806" for a field at `offset` in the store (its device address), '' when unknown. */
  protected addressOf(offset: number): string {
    return this.da === undefined ? '' : ` at ${hex(this.da + (offset - this.base))}`;
  }

  /** Forgets what this side wrote and reported (the ring was zeroed). */
  protected resetEnd(): void {
    this.ownFlags = 0;
    this.ownEventWritten = -1;
    this.notifiedIdx = 0;
    this.badPeerIdxReported = -1;
  }

  /**
   * The peer's index (ordered load) when it is 0..num entries past `consumed`; otherwise the
   * peer moved it by more than the ring holds: reported once per value, and `consumed` is
   * returned (nothing to take) so that no caller follows or waits on a broken index.
   */
  protected readPeerIdx(consumed: number): number {
    const seen = this.memory.loadU16(this.peerIdxAt);
    const pending = (seen - consumed) & 0xffff;
    if (pending <= this.num) return seen;
    if (seen !== this.badPeerIdxReported) {
      this.badPeerIdxReported = seen;
      this.onError(
        new VringProtocolError(
          'index-jump',
          this.name,
          `${this.peerIdxField}${this.addressOf(this.peerIdxAt)} jumped from ${consumed} to ${seen} (${pending} entries, ring holds ${this.num})`,
          seen,
        ),
      );
    }
    return consumed;
  }

  /** Asks the peer not to notify us (a hint, as in virtio). */
  protected muteNotifications(): void {
    if ((this.ownFlags & this.ownNoNotify) === 0) {
      this.ownFlags |= this.ownNoNotify;
      this.memory.storeU16(this.ownFlagsAt, this.ownFlags);
    }
  }

  /**
   * Asks the peer to notify us for its next entry (with event idx: once its index passes
   * `consumed`), then returns true when usable entries are already waiting: the peer may have
   * looked before we asked, so the caller must look again.
   */
  protected unmuteNotifications(consumed: number): boolean {
    if ((this.ownFlags & this.ownNoNotify) !== 0) {
      this.ownFlags &= ~this.ownNoNotify;
      this.memory.storeU16(this.ownFlagsAt, this.ownFlags);
    }
    if (this.eventIdx && this.ownEventWritten !== consumed) {
      this.ownEventWritten = consumed;
      this.memory.storeU16(this.ownEventAt, consumed);
    }
    return this.readPeerIdx(consumed) !== consumed;
  }

  /**
   * Whether the peer wants a notification for the entries produced since the last call, up to
   * `produced`: the peer's event idx when negotiated, else unless its flags say NO_NOTIFY.
   */
  protected peerWantsNotification(produced: number): boolean {
    const old = this.notifiedIdx;
    if (old === produced) return false;
    this.notifiedIdx = produced;
    if (this.eventIdx) return needEvent(this.memory.loadU16(this.peerEventAt), produced, old);
    return (this.memory.loadU16(this.peerFlagsAt) & this.peerNoNotify) === 0;
  }
}
