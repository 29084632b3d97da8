import { FirmwareError, hex } from '../../base/errors.js';
import type { AddressSpace } from '../memory/shared-memory.js';
import { isRemoteProgramName, type RemoteProgramName } from './program.js';

/**
 * What a TypeScript remote core finds at its entry point once remoteproc has loaded its image:
 * the program to run, where its resource table was linked and the RPMsg buffer size. A real
 * core gets the same facts from its code and linker symbols; the simulated core reads them
 * from memory, so it runs exactly what was loaded.
 *
 *   u32 magic "FSIM" @0 | u32 version (1) @4 | u32 rsc_da @8 | u32 rsc_size @12
 *   u32 buffer_size @16 | u32 reserved @20 | char program[32] @24 (NUL-terminated)
 */
export const BOOT_RECORD_MAGIC = 0x4d495346; // "FSIM" little-endian
export const BOOT_RECORD_VERSION = 1;
export const BOOT_RECORD_SIZE = 56;
const PROGRAM_NAME_SIZE = 32;

export interface BootRecord {
  program: RemoteProgramName;
  resourceTableDa: number;
  resourceTableSize: number;
  bufferSize: number;
}

/** The record is not there or not valid: the image is not a farm simulated-core image. */
export class BootRecordError extends FirmwareError {}

export function encodeBootRecord(record: BootRecord): Uint8Array {
  const out = new Uint8Array(BOOT_RECORD_SIZE);
  const view = new DataView(out.buffer);
  view.setUint32(0, BOOT_RECORD_MAGIC, true);
  view.setUint32(4, BOOT_RECORD_VERSION, true);
  view.setUint32(8, record.resourceTableDa >>> 0, true);
  view.setUint32(12, record.resourceTableSize >>> 0, true);
  view.setUint32(16, record.bufferSize >>> 0, true);
  const name = new TextEncoder().encode(record.program);
  if (name.length >= PROGRAM_NAME_SIZE) throw new BootRecordError(`program name "${record.program}" is too long`);
  out.set(name, 24);
  return out;
}

/** Decodes and checks a record from raw bytes; `where` names them in errors. */
export function decodeBootRecord(bytes: Uint8Array, where: string): BootRecord {
  if (bytes.length < BOOT_RECORD_SIZE) throw new BootRecordError(`${where}: boot record truncated (${bytes.length} of ${BOOT_RECORD_SIZE} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, BOOT_RECORD_SIZE);
  const magic = view.getUint32(0, true);
  if (magic !== BOOT_RECORD_MAGIC) throw new BootRecordError(`${where}: no boot record (magic ${hex(magic)}, want ${hex(BOOT_RECORD_MAGIC)})`);
  const version = view.getUint32(4, true);
  if (version !== BOOT_RECORD_VERSION) throw new BootRecordError(`${where}: boot record version ${version}, want ${BOOT_RECORD_VERSION}`);
  const nameBytes = bytes.subarray(24, 24 + PROGRAM_NAME_SIZE);
  const nul = nameBytes.indexOf(0);
  if (nul < 0) throw new BootRecordError(`${where}: program name at offset 24 is not NUL-terminated`);
  const program = new TextDecoder().decode(nameBytes.subarray(0, nul));
  if (!isRemoteProgramName(program)) throw new BootRecordError(`${where}: unknown program "${program}"`);
  const bufferSize = view.getUint32(16, true);
  if (bufferSize < 32 || bufferSize > 0x10000) throw new BootRecordError(`${where}: buffer size ${bufferSize} out of range 32..65536`);
  const resourceTableSize = view.getUint32(12, true);
  if (resourceTableSize < 16) throw new BootRecordError(`${where}: resource table size ${resourceTableSize} is too small`);
  return { program, resourceTableDa: view.getUint32(8, true), resourceTableSize, bufferSize };
}

/** Reads the record a loaded image left at `entry`. */
export function readBootRecord(memory: AddressSpace, entry: number): BootRecord {
  const { memory: store, offset } = memory.resolveDa(entry, BOOT_RECORD_SIZE);
  return decodeBootRecord(store.read(offset, BOOT_RECORD_SIZE), `boot record at entry ${hex(entry)}`);
}
