import { FirmwareError, hex } from '../../base/errors.js';

/**
 * The firmware's resource table cannot be trusted: truncated, wrong version, an entry outside
 * the section, a vdev with too many or malformed vrings... `entryIndex` is the index in the
 * table's offset array (undefined for header faults), `offset` the byte offset inside the table
 * of the field at fault.
 */
export class ResourceTableError extends FirmwareError {
  constructor(
    readonly source: string,
    readonly entryIndex: number | undefined,
    readonly offset: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: resource table ${entryIndex === undefined ? 'header' : `entry ${entryIndex}`} at offset ${hex(offset, 0)}: ${detail}`, options);
  }
}
