import type { SharedMemory } from '../memory/shared-memory.js';
import { CARVEOUT_FIELDS, VDEV_FIELDS, VRING_FIELDS } from './rsc-layout.js';
import type { MemoryEntry, VdevEntry, VringEntry } from './parse-resource-table.js';
import { ResourceTableError } from './rsc-error.js';

/**
 * Where a resource table lives while the host fills in what it assigned: a byte copy (the
 * cached table, before it is copied to its loaded place) or the loaded table in shared memory.
 */
export type ResourceTableStore = Uint8Array | { readonly memory: SharedMemory; readonly offset: number };

/** Writes one u32 of the table at `at` (an offset from the table's start). */
export function writeTableU32(store: ResourceTableStore, at: number, value: number): void {
  if (store instanceof Uint8Array) {
    if (!Number.isInteger(at) || at < 0 || at + 4 > store.length) {
      throw new ResourceTableError('resource table copy', undefined, at, `write of 4 bytes is outside the ${store.length}-byte table`);
    }
    new DataView(store.buffer, store.byteOffset, store.byteLength).setUint32(at, value >>> 0, true);
  } else {
    // Ordered store: the other core may be polling the table already (attach, restart).
    store.memory.storeU32(store.offset + at, value >>> 0);
  }
}

/** Host-assigned address and size of a carveout whose da (and/or pa) was ANY. */
export function patchCarveout(store: ResourceTableStore, entry: MemoryEntry, values: { da?: number; pa?: number; len?: number }): void {
  if (values.da !== undefined) writeTableU32(store, entry.offset + CARVEOUT_FIELDS.da, values.da);
  if (values.pa !== undefined) writeTableU32(store, entry.offset + CARVEOUT_FIELDS.pa, values.pa);
  if (values.len !== undefined) writeTableU32(store, entry.offset + CARVEOUT_FIELDS.len, values.len);
}

/** Host-assigned vring address and notify id (Linux writes vring[i].da and notifyid). */
export function patchVring(store: ResourceTableStore, vring: VringEntry, values: { da?: number; pa?: number; notifyid?: number }): void {
  if (values.da !== undefined) writeTableU32(store, vring.offset + VRING_FIELDS.da, values.da);
  if (values.pa !== undefined) writeTableU32(store, vring.offset + VRING_FIELDS.pa, values.pa);
  if (values.notifyid !== undefined) writeTableU32(store, vring.offset + VRING_FIELDS.notifyid, values.notifyid);
}

/** Host-assigned notify id of the vdev itself (open-amp assigns it when the firmware left ANY). */
export function patchVdevNotifyId(store: ResourceTableStore, vdev: VdevEntry, notifyid: number): void {
  writeTableU32(store, vdev.offset + VDEV_FIELDS.notifyid, notifyid);
}
