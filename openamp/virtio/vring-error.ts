import { ProtocolError } from '../../base/errors.js';

/** What the other side got wrong in a ring it shares with us. */
export type VringErrorCode =
  /** avail.idx or used.idx moved by more than num since we last looked. */
  | 'index-jump'
  /** A ring entry names a descriptor index >= num. */
  | 'id-out-of-range'
  /** A used entry names a descriptor the driver did not hand out (or already got back). */
  | 'id-not-in-flight'
  /** A used entry claims more bytes than the buffer holds. */
  | 'length-too-large'
  /** A descriptor's [addr, addr + len) is not inside shared memory. */
  | 'address-out-of-range'
  /** A NEXT chain longer than the ring, i.e. a loop. */
  | 'chain-too-long'
  /** INDIRECT descriptors are never negotiated for RPMsg. */
  | 'indirect-descriptor';

/**
 * A ring entry written by the other core is invalid. The entry is dropped (never followed);
 * the fields say which ring, which field and which value.
 */
export class VringProtocolError extends ProtocolError {
  constructor(
    readonly code: VringErrorCode,
    readonly ring: string,
    message: string,
    readonly value?: number,
    options?: { cause?: unknown },
  ) {
    super(`${ring}: ${message}`, options);
  }
}
