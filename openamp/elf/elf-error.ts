import { FirmwareError } from '../../base/errors.js';

/**
 * The firmware file is not an ELF image we can load: bad magic, unsupported class or byte
 * order, or a header, table, string or segment that does not fit the file. `offset` is the
 * file offset of the field at fault, so the message can be checked against `readelf -h`.
 */
export class ElfFormatError extends FirmwareError {
  constructor(
    readonly source: string,
    readonly offset: number,
    detail: string,
  ) {
    super(`${source}: ${detail}`);
  }
}

/** The image is a valid ELF but built for another core (machine type, class). */
export class ElfMachineMismatchError extends FirmwareError {
  constructor(
    readonly source: string,
    readonly machine: number,
    readonly expected: readonly number[],
    message: string,
  ) {
    super(message);
  }
}

/** buildElf was asked for an image it cannot write (overlapping or out-of-segment section...). */
export class ElfBuildError extends FirmwareError {}

/** Hex without padding for values that may exceed 32 bits (ELF64 addresses and offsets). */
export function hexWide(value: number): string {
  return '0x' + value.toString(16);
}
