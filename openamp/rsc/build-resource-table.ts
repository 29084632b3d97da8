import { VIRTIO_ID_RPMSG, VIRTIO_RPMSG_F_NS } from '../virtio/transport.js';
import {
  CARVEOUT_FIELDS,
  FW_RSC_ADDR_ANY,
  FW_RSC_NOTIFY_ID_ANY,
  RSC_CARVEOUT,
  RSC_DEVMEM,
  RSC_HEADER_SIZE,
  RSC_NAME_SIZE,
  RSC_TABLE_VERSION,
  RSC_TRACE,
  RSC_VDEV,
  TRACE_FIELDS,
  VDEV_FIELDS,
  VENDOR_FIELDS,
  VRING_FIELDS,
} from './rsc-layout.js';
import { ResourceTableError } from './rsc-error.js';

export interface MemoryEntrySpec {
  kind: 'carveout' | 'devmem';
  /** FW_RSC_ADDR_ANY lets the host choose. */
  da: number;
  /** Defaults to FW_RSC_ADDR_ANY. */
  pa?: number;
  len: number;
  flags?: number;
  name: string;
}

export interface TraceEntrySpec {
  kind: 'trace';
  da: number;
  len: number;
  name: string;
}

export interface VringSpec {
  /** Defaults to FW_RSC_ADDR_ANY (host-allocated). */
  da?: number;
  align: number;
  num: number;
  /** Defaults to FW_RSC_NOTIFY_ID_ANY. */
  notifyid?: number;
  pa?: number;
}

export interface VdevEntrySpec {
  kind: 'vdev';
  /** Defaults to VIRTIO_ID_RPMSG. */
  id?: number;
  /** Defaults to 0, as open-amp's sample tables have it. */
  notifyid?: number;
  /** Defaults to VIRTIO_RPMSG_F_NS. */
  dfeatures?: number;
  gfeatures?: number;
  status?: number;
  config?: Uint8Array;
  vrings: readonly VringSpec[];
}

export interface VendorEntrySpec {
  kind: 'vendor';
  /** 128..512. */
  type: number;
  body?: Uint8Array;
}

/** Bytes written verbatim as one entry: unknown types, deliberately broken entries in tests. */
export interface RawEntrySpec {
  kind: 'raw';
  bytes: Uint8Array;
}

export type ResourceEntrySpec = MemoryEntrySpec | TraceEntrySpec | VdevEntrySpec | VendorEntrySpec | RawEntrySpec;

/**
 * Writes a resource table: header, offset array, then the entries back to back in the given
 * order, each starting on a 4-byte boundary (every standard entry is a multiple of 4 bytes, so
 * a table of standard entries is laid out exactly as the packed C structs of open-amp's sample
 * tables). The result parses with parseResourceTable unless a raw entry says otherwise.
 */
export function buildResourceTable(entries: readonly ResourceEntrySpec[]): Uint8Array {
  const encoded = entries.map(encodeEntry);
  let cursor = RSC_HEADER_SIZE + 4 * entries.length;
  const offsets = encoded.map((bytes) => {
    cursor = Math.ceil(cursor / 4) * 4;
    const at = cursor;
    cursor += bytes.length;
    return at;
  });
  const table = new Uint8Array(cursor);
  const view = new DataView(table.buffer);
  view.setUint32(0, RSC_TABLE_VERSION, true);
  view.setUint32(4, entries.length, true);
  offsets.forEach((at, i) => {
    view.setUint32(RSC_HEADER_SIZE + 4 * i, at, true);
    table.set(encoded[i]!, at);
  });
  return table;
}

export interface RpmsgTableOptions {
  /** Vring size for both vrings; 256 by default (open-amp's samples). */
  num?: number;
  /** Vring alignment; 0x1000 by default. */
  align?: number;
  /** Device addresses of vring 0 (remote -> host) and vring 1; ANY (host-allocated) by default. */
  vringDa?: readonly [number, number];
  /** Vring notify ids; [1, 2] by default (open-amp's samples; a Linux host overwrites them). */
  vringNotifyIds?: readonly [number, number];
  vdevNotifyId?: number;
  /** VIRTIO_RPMSG_F_NS by default. */
  dfeatures?: number;
  trace?: { da: number; len: number; name?: string };
  /** Placed before the vdev, as Linux-style tables list carveouts first. */
  carveouts?: readonly Omit<MemoryEntrySpec, 'kind'>[];
}

/**
 * The common firmware table: optional carveouts, one RPMsg vdev (NS feature) with two vrings,
 * and an optional trace buffer.
 */
export function buildRpmsgResourceTable(options: RpmsgTableOptions = {}): Uint8Array {
  const num = options.num ?? 256;
  const align = options.align ?? 0x1000;
  const [da0, da1] = options.vringDa ?? [FW_RSC_ADDR_ANY, FW_RSC_ADDR_ANY];
  const [id0, id1] = options.vringNotifyIds ?? [1, 2];
  const entries: ResourceEntrySpec[] = (options.carveouts ?? []).map((c) => ({ kind: 'carveout', ...c }));
  entries.push({
    kind: 'vdev',
    id: VIRTIO_ID_RPMSG,
    notifyid: options.vdevNotifyId ?? 0,
    dfeatures: options.dfeatures ?? VIRTIO_RPMSG_F_NS,
    vrings: [
      { da: da0, align, num, notifyid: id0, pa: 0 },
      { da: da1, align, num, notifyid: id1, pa: 0 },
    ],
  });
  if (options.trace) entries.push({ kind: 'trace', da: options.trace.da, len: options.trace.len, name: options.trace.name ?? 'trace0' });
  return buildResourceTable(entries);
}

function encodeEntry(spec: ResourceEntrySpec, index: number): Uint8Array {
  switch (spec.kind) {
    case 'carveout':
    case 'devmem': {
      const out = new Uint8Array(CARVEOUT_FIELDS.size);
      const view = new DataView(out.buffer);
      view.setUint32(0, spec.kind === 'carveout' ? RSC_CARVEOUT : RSC_DEVMEM, true);
      view.setUint32(CARVEOUT_FIELDS.da, spec.da >>> 0, true);
      view.setUint32(CARVEOUT_FIELDS.pa, (spec.pa ?? FW_RSC_ADDR_ANY) >>> 0, true);
      view.setUint32(CARVEOUT_FIELDS.len, spec.len >>> 0, true);
      view.setUint32(CARVEOUT_FIELDS.flags, (spec.flags ?? 0) >>> 0, true);
      writeName(out, CARVEOUT_FIELDS.name, spec.name, index);
      return out;
    }
    case 'trace': {
      const out = new Uint8Array(TRACE_FIELDS.size);
      const view = new DataView(out.buffer);
      view.setUint32(0, RSC_TRACE, true);
      view.setUint32(TRACE_FIELDS.da, spec.da >>> 0, true);
      view.setUint32(TRACE_FIELDS.len, spec.len >>> 0, true);
      writeName(out, TRACE_FIELDS.name, spec.name, index);
      return out;
    }
    case 'vdev': {
      const config = spec.config ?? new Uint8Array(0);
      const out = new Uint8Array(VDEV_FIELDS.size + VRING_FIELDS.size * spec.vrings.length + config.length);
      const view = new DataView(out.buffer);
      view.setUint32(0, RSC_VDEV, true);
      view.setUint32(VDEV_FIELDS.id, spec.id ?? VIRTIO_ID_RPMSG, true);
      view.setUint32(VDEV_FIELDS.notifyid, (spec.notifyid ?? 0) >>> 0, true);
      view.setUint32(VDEV_FIELDS.dfeatures, (spec.dfeatures ?? VIRTIO_RPMSG_F_NS) >>> 0, true);
      view.setUint32(VDEV_FIELDS.gfeatures, (spec.gfeatures ?? 0) >>> 0, true);
      view.setUint32(VDEV_FIELDS.configLen, config.length, true);
      out[VDEV_FIELDS.status] = spec.status ?? 0;
      out[VDEV_FIELDS.numOfVrings] = spec.vrings.length & 0xff;
      spec.vrings.forEach((vring, i) => {
        const at = VDEV_FIELDS.vrings + VRING_FIELDS.size * i;
        view.setUint32(at + VRING_FIELDS.da, (vring.da ?? FW_RSC_ADDR_ANY) >>> 0, true);
        view.setUint32(at + VRING_FIELDS.align, vring.align >>> 0, true);
        view.setUint32(at + VRING_FIELDS.num, vring.num >>> 0, true);
        view.setUint32(at + VRING_FIELDS.notifyid, (vring.notifyid ?? FW_RSC_NOTIFY_ID_ANY) >>> 0, true);
        view.setUint32(at + VRING_FIELDS.pa, (vring.pa ?? 0) >>> 0, true);
      });
      out.set(config, VDEV_FIELDS.size + VRING_FIELDS.size * spec.vrings.length);
      return out;
    }
    case 'vendor': {
      const body = spec.body ?? new Uint8Array(0);
      const out = new Uint8Array(VENDOR_FIELDS.size + body.length);
      const view = new DataView(out.buffer);
      view.setUint32(0, spec.type >>> 0, true);
      view.setUint32(VENDOR_FIELDS.len, out.length, true);
      out.set(body, VENDOR_FIELDS.size);
      return out;
    }
    case 'raw':
      return spec.bytes.slice();
  }
}

function writeName(out: Uint8Array, at: number, name: string, index: number): void {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length >= RSC_NAME_SIZE || bytes.includes(0)) {
    throw new ResourceTableError('buildResourceTable', index, at, `name "${name}" must be under ${RSC_NAME_SIZE} bytes with no NUL`);
  }
  out.set(bytes, at);
}
