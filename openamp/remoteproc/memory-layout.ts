import { hex } from '../../base/errors.js';
import type { ResourceTable } from '../rsc/parse-resource-table.js';
import { quoteRemote } from '../../base/remote-text.js';
import { vringSize } from '../virtio/vring-layout.js';
import { FirmwareLoadError } from './remoteproc-errors.js';

/** What a range of device memory is used for, in the terms a layout error names. */
export type LayoutRole = 'resource table' | 'trace' | 'carveout' | 'vring' | 'buffer pool';

export interface LayoutRegion {
  readonly role: LayoutRole;
  /** "vdev0vring1", "carveout \"vdev0buffer\"". */
  readonly what: string;
  readonly da: number;
  readonly size: number;
}

/** Vrings, the buffer pool, the resource table and carveouts overlap, or one does not fit device memory. */
export class LayoutError extends FirmwareLoadError {}

/**
 * Pairs that may share memory: a carveout may hold the resource table or a trace buffer (real
 * firmware declares its own RAM as a carveout), and the buffer pool is the `vdev<N>buffer`
 * carveout when the table has one. Every other pair must be disjoint: a ring that shares bytes
 * with another ring, the buffers or the table makes the host and the remote overwrite each
 * other's data, which surfaces much later as corrupt messages.
 */
function mayOverlap(a: LayoutRegion, b: LayoutRegion): boolean {
  const pair = (x: LayoutRole, y: LayoutRole): boolean => (a.role === x && b.role === y) || (a.role === y && b.role === x);
  if (pair('carveout', 'resource table') || pair('carveout', 'trace')) return true;
  if (pair('carveout', 'buffer pool')) {
    const carveout = a.role === 'carveout' ? a : b;
    const pool = a.role === 'carveout' ? b : a;
    return /^carveout "vdev\d+buffer"$/.test(carveout.what) && pool.da >= carveout.da && pool.da + pool.size <= carveout.da + carveout.size;
  }
  if (pair('carveout', 'vring')) {
    const carveout = a.role === 'carveout' ? a : b;
    const vring = a.role === 'carveout' ? b : a;
    return carveout.what === `carveout "${vring.what}"`;
  }
  return false;
}

/** The regions of a resource table as the host assigned them (da ANY ones are skipped: not placed). */
export function resourceTableRegions(table: ResourceTable, tableDa: number, tableSize: number): LayoutRegion[] {
  const regions: LayoutRegion[] = [{ role: 'resource table', what: 'resource table', da: tableDa, size: tableSize }];
  for (const carveout of table.carveouts) regions.push({ role: 'carveout', what: `carveout ${quoteRemote(carveout.name)}`, da: carveout.da, size: carveout.len });
  for (const trace of table.traces) regions.push({ role: 'trace', what: `trace ${quoteRemote(trace.name)}`, da: trace.da, size: trace.len });
  table.vdevs.forEach((vdev, vdevIndex) => {
    vdev.vrings.forEach((vring, ringIndex) => {
      regions.push({ role: 'vring', what: `vdev${vdevIndex}vring${ringIndex}`, da: vring.da, size: vringSize(vring.num, vring.align) });
    });
  });
  return regions.filter((region) => region.da !== 0xffffffff && region.size > 0);
}

/**
 * Throws LayoutError naming the first two regions that overlap (and may not). Regions are few
 * (a table has a handful of entries), so every pair is compared.
 */
export function checkLayout(regions: readonly LayoutRegion[], source: string): void {
  for (let i = 0; i < regions.length; i++) {
    const a = regions[i]!;
    for (let j = i + 1; j < regions.length; j++) {
      const b = regions[j]!;
      if (a.da < b.da + b.size && b.da < a.da + a.size && !mayOverlap(a, b)) {
        throw new LayoutError(
          `${source}: ${b.what} at ${hex(b.da)}+${hex(b.size, 0)} overlaps ${a.what} at ${hex(a.da)}+${hex(a.size, 0)}: ` +
            `vrings, the buffer pool, the resource table and carveouts must not share memory`,
        );
      }
    }
  }
}
