import { FirmwareError, hex } from '../../base/errors.js';
import { VRING_MAX_NUM, isPowerOfTwo } from '../virtio/vring-layout.js';
import {
  CARVEOUT_FIELDS,
  RSC_CARVEOUT,
  RSC_DEVMEM,
  RSC_HEADER_SIZE,
  RSC_LAST,
  RSC_MAX_VRINGS,
  RSC_NAME_SIZE,
  RSC_TABLE_VERSION,
  RSC_TRACE,
  RSC_VDEV,
  RSC_VENDOR_END,
  RSC_VENDOR_START,
  TRACE_FIELDS,
  VDEV_FIELDS,
  VENDOR_FIELDS,
  VRING_FIELDS,
} from './rsc-layout.js';
import { ResourceTableError } from './rsc-error.js';

interface EntryPosition {
  /** Index in the table's offset array. */
  readonly index: number;
  /** Byte offset of the entry (its `type` word) from the start of the table. */
  readonly offset: number;
}

/** A carveout (type 0) or devmem (type 1) entry: same layout. */
export interface MemoryEntry extends EntryPosition {
  readonly kind: 'carveout' | 'devmem';
  readonly type: typeof RSC_CARVEOUT | typeof RSC_DEVMEM;
  readonly da: number;
  readonly pa: number;
  readonly len: number;
  readonly flags: number;
  readonly name: string;
}
export type CarveoutEntry = MemoryEntry & { readonly kind: 'carveout' };
export type DevmemEntry = MemoryEntry & { readonly kind: 'devmem' };

export interface TraceEntry extends EntryPosition {
  readonly kind: 'trace';
  readonly type: typeof RSC_TRACE;
  readonly da: number;
  readonly len: number;
  readonly name: string;
}

export interface VringEntry {
  /** Vring number inside its vdev (0 = remote -> host for RPMsg). */
  readonly index: number;
  /** Byte offset of this vring descriptor from the start of the table. */
  readonly offset: number;
  readonly da: number;
  readonly align: number;
  readonly num: number;
  readonly notifyid: number;
  readonly pa: number;
}

export interface VdevEntry extends EntryPosition {
  readonly kind: 'vdev';
  readonly type: typeof RSC_VDEV;
  /** Virtio device id (VIRTIO_ID_RPMSG = 7). */
  readonly id: number;
  readonly notifyid: number;
  readonly dfeatures: number;
  readonly gfeatures: number;
  readonly configLen: number;
  /** Byte offset of the config space from the start of the table. */
  readonly configOffset: number;
  readonly config: Uint8Array;
  readonly status: number;
  readonly vrings: readonly VringEntry[];
}

export interface VendorEntry extends EntryPosition {
  readonly kind: 'vendor';
  /** 128..512. */
  readonly type: number;
  /** Total length of the entry in bytes, header included (open-amp's fw_rsc_vendor.len). */
  readonly len: number;
  /** The bytes after the 8-byte header, up to `len`. */
  readonly body: Uint8Array;
}

export type ResourceEntry = CarveoutEntry | DevmemEntry | TraceEntry | VdevEntry | VendorEntry;

export interface ResourceTable {
  readonly source: string;
  /** Size of the section the table was read from (everything must fit inside). */
  readonly size: number;
  readonly version: number;
  /** Recognised entries in offset-array order (unknown types are skipped). */
  readonly entries: readonly ResourceEntry[];
  readonly carveouts: readonly CarveoutEntry[];
  readonly devmems: readonly DevmemEntry[];
  readonly traces: readonly TraceEntry[];
  readonly vdevs: readonly VdevEntry[];
  readonly vendors: readonly VendorEntry[];
  /** Entries skipped as Linux would skip them (unknown type, unhandled vendor resource). */
  readonly warnings: readonly string[];
}

export interface ParseResourceTableOptions {
  /**
   * Called for each vendor resource (type 128..512); return true when handled. Unhandled
   * vendor resources are skipped with a warning, as Linux does. A handler may reject the
   * entry by throwing a FirmwareError.
   */
  vendorHandler?: (entry: VendorEntry) => boolean;
}

/**
 * Parses and validates a resource table the way Linux's remoteproc core does before it
 * trusts one: header not truncated, ver == 1, reserved words zero, the offset array and every
 * entry (vdev vrings and config space included) inside the section, reserved fields zero, at
 * most two vrings per vdev. Beyond Linux it also rejects, up front, what Linux only rejects
 * later when the virtio device probes: vring num not a power of two in 1..32768, align not a
 * power of two, and names that are not NUL-terminated within their 32 bytes.
 */
export function parseResourceTable(bytes: Uint8Array, source: string, options: ParseResourceTableOptions = {}): ResourceTable {
  const size = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (at: number) => view.getUint32(at, true);
  const header = (offset: number, detail: string): never => {
    throw new ResourceTableError(source, undefined, offset, detail);
  };

  if (size < RSC_HEADER_SIZE) header(0, `truncated: ${size} bytes, the header alone needs ${RSC_HEADER_SIZE}`);
  const version = u32(0);
  if (version !== RSC_TABLE_VERSION) header(0, `unsupported version ${version} (ver must be ${RSC_TABLE_VERSION})`);
  if (u32(8) !== 0 || u32(12) !== 0) header(8, `reserved words must be zero (found ${hex(u32(8), 0)}, ${hex(u32(12), 0)})`);
  const num = u32(4);
  if (RSC_HEADER_SIZE + 4 * num > size) {
    header(4, `offset array of ${num} entries (${RSC_HEADER_SIZE + 4 * num} bytes with the header) does not fit the ${size}-byte section`);
  }

  const entries: ResourceEntry[] = [];
  const warnings: string[] = [];
  for (let index = 0; index < num; index++) {
    const offset = u32(RSC_HEADER_SIZE + 4 * index);
    const fail = (at: number, detail: string): never => {
      throw new ResourceTableError(source, index, at, detail);
    };
    if (offset + 4 > size) fail(RSC_HEADER_SIZE + 4 * index, `entry offset ${hex(offset, 0)} is outside the ${size}-byte table`);
    const type = u32(offset);
    const need = (length: number, what: string) => {
      if (offset + length > size) fail(offset, `${what} needs ${length} bytes but only ${size - offset} remain in the table`);
    };
    const name = (at: number, what: string): string => {
      const field = bytes.subarray(offset + at, offset + at + RSC_NAME_SIZE);
      const end = field.indexOf(0);
      if (end < 0) fail(offset + at, `${what} name is not NUL-terminated within ${RSC_NAME_SIZE} bytes`);
      return new TextDecoder('latin1').decode(field.subarray(0, end));
    };

    if (type === RSC_CARVEOUT || type === RSC_DEVMEM) {
      const kind = type === RSC_CARVEOUT ? 'carveout' : 'devmem';
      need(CARVEOUT_FIELDS.size, `${kind} entry`);
      const reserved = u32(offset + CARVEOUT_FIELDS.reserved);
      if (reserved !== 0) fail(offset + CARVEOUT_FIELDS.reserved, `${kind} has non-zero reserved field ${hex(reserved, 0)}`);
      entries.push({
        kind,
        type,
        index,
        offset,
        da: u32(offset + CARVEOUT_FIELDS.da),
        pa: u32(offset + CARVEOUT_FIELDS.pa),
        len: u32(offset + CARVEOUT_FIELDS.len),
        flags: u32(offset + CARVEOUT_FIELDS.flags),
        name: name(CARVEOUT_FIELDS.name, kind),
      } as CarveoutEntry | DevmemEntry);
    } else if (type === RSC_TRACE) {
      need(TRACE_FIELDS.size, 'trace entry');
      const reserved = u32(offset + TRACE_FIELDS.reserved);
      if (reserved !== 0) fail(offset + TRACE_FIELDS.reserved, `trace has non-zero reserved field ${hex(reserved, 0)}`);
      entries.push({
        kind: 'trace',
        type,
        index,
        offset,
        da: u32(offset + TRACE_FIELDS.da),
        len: u32(offset + TRACE_FIELDS.len),
        name: name(TRACE_FIELDS.name, 'trace'),
      });
    } else if (type === RSC_VDEV) {
      entries.push(parseVdev(bytes, view, offset, index, fail, need));
    } else if (type >= RSC_VENDOR_START && type <= RSC_VENDOR_END) {
      need(VENDOR_FIELDS.size, 'vendor entry');
      const len = u32(offset + VENDOR_FIELDS.len);
      if (offset + len > size) fail(offset + VENDOR_FIELDS.len, `vendor entry length ${len} runs past the ${size}-byte table`);
      const bodyEnd = offset + Math.max(len, VENDOR_FIELDS.size);
      const entry: VendorEntry = { kind: 'vendor', type, index, offset, len, body: bytes.slice(offset + VENDOR_FIELDS.size, bodyEnd) };
      entries.push(entry);
      if (!callVendorHandler(options.vendorHandler, entry, source)) {
        warnings.push(`${source}: resource table entry ${index} at offset ${hex(offset, 0)}: unsupported vendor resource type ${type}, skipped`);
      }
    } else {
      const range = type >= RSC_LAST && type < RSC_VENDOR_START ? 'unknown' : 'out-of-range';
      warnings.push(`${source}: resource table entry ${index} at offset ${hex(offset, 0)}: ${range} resource type ${type}, skipped`);
    }
  }

  return {
    source,
    size,
    version,
    entries,
    carveouts: entries.filter((e): e is CarveoutEntry => e.kind === 'carveout'),
    devmems: entries.filter((e): e is DevmemEntry => e.kind === 'devmem'),
    traces: entries.filter((e): e is TraceEntry => e.kind === 'trace'),
    vdevs: entries.filter((e): e is VdevEntry => e.kind === 'vdev'),
    vendors: entries.filter((e): e is VendorEntry => e.kind === 'vendor'),
    warnings,
  };
}

function parseVdev(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  index: number,
  fail: (at: number, detail: string) => never,
  need: (length: number, what: string) => void,
): VdevEntry {
  const u32 = (at: number) => view.getUint32(at, true);
  need(VDEV_FIELDS.size, 'vdev entry');
  const numOfVrings = bytes[offset + VDEV_FIELDS.numOfVrings]!;
  const configLen = u32(offset + VDEV_FIELDS.configLen);
  if (bytes[offset + VDEV_FIELDS.reserved] !== 0 || bytes[offset + VDEV_FIELDS.reserved + 1] !== 0) {
    fail(offset + VDEV_FIELDS.reserved, 'vdev has non-zero reserved bytes');
  }
  if (numOfVrings > RSC_MAX_VRINGS) fail(offset + VDEV_FIELDS.numOfVrings, `vdev has ${numOfVrings} vrings, at most ${RSC_MAX_VRINGS} are supported`);
  need(VDEV_FIELDS.size + VRING_FIELDS.size * numOfVrings + configLen, `vdev entry with ${numOfVrings} vring(s) and ${configLen} config byte(s)`);

  const vrings: VringEntry[] = [];
  for (let i = 0; i < numOfVrings; i++) {
    const at = offset + VDEV_FIELDS.vrings + VRING_FIELDS.size * i;
    const num = u32(at + VRING_FIELDS.num);
    const align = u32(at + VRING_FIELDS.align);
    if (!isPowerOfTwo(num) || num > VRING_MAX_NUM) {
      fail(at + VRING_FIELDS.num, `vring ${i} num ${num} is not a power of two between 1 and ${VRING_MAX_NUM}`);
    }
    if (!isPowerOfTwo(align)) fail(at + VRING_FIELDS.align, `vring ${i} align ${hex(align, 0)} is not a power of two`);
    vrings.push({
      index: i,
      offset: at,
      da: u32(at + VRING_FIELDS.da),
      align,
      num,
      notifyid: u32(at + VRING_FIELDS.notifyid),
      pa: u32(at + VRING_FIELDS.pa),
    });
  }
  const configOffset = offset + VDEV_FIELDS.vrings + VRING_FIELDS.size * numOfVrings;
  return {
    kind: 'vdev',
    type: RSC_VDEV,
    index,
    offset,
    id: u32(offset + VDEV_FIELDS.id),
    notifyid: u32(offset + VDEV_FIELDS.notifyid),
    dfeatures: u32(offset + VDEV_FIELDS.dfeatures),
    gfeatures: u32(offset + VDEV_FIELDS.gfeatures),
    configLen,
    configOffset,
    config: bytes.slice(configOffset, configOffset + configLen),
    status: bytes[offset + VDEV_FIELDS.status]!,
    vrings,
  };
}

function callVendorHandler(handler: ParseResourceTableOptions['vendorHandler'], entry: VendorEntry, source: string): boolean {
  if (!handler) return false;
  try {
    return handler(entry);
  } catch (error) {
    if (error instanceof FirmwareError) throw error;
    throw new ResourceTableError(source, entry.index, entry.offset, `vendor handler for type ${entry.type} failed: ${String(error)}`, { cause: error });
  }
}
