import { MemoryAccessError, hex } from '../../base/errors.js';

/**
 * A byte store shared with the other core. Everything the other side writes is untrusted:
 * every accessor bounds-checks and throws MemoryAccessError (a protocol-class error) rather
 * than touching anything outside the store.
 *
 * Plain accessors are for payloads and descriptors; `load*`/`store*` are for the index and
 * status fields that publish work to the other side, and have sequentially consistent
 * ordering where the backend can give it (Atomics on a SharedArrayBuffer). All values are
 * little-endian.
 */
export interface SharedMemory {
  /** For messages: "sab:sim-ddr", "file:/dev/shm/openamp.shm". */
  readonly name: string;
  readonly size: number;

  read(offset: number, length: number): Uint8Array;
  readInto(offset: number, target: Uint8Array): void;
  write(offset: number, data: Uint8Array): void;
  fill(offset: number, length: number, value: number): void;

  getU8(offset: number): number;
  getU16(offset: number): number;
  getU32(offset: number): number;
  setU8(offset: number, value: number): void;
  setU16(offset: number, value: number): void;
  setU32(offset: number, value: number): void;

  /** Ordered accessors for fields that hand work to the other side (ring indices, status). */
  loadU8(offset: number): number;
  storeU8(offset: number, value: number): void;
  loadU16(offset: number): number;
  storeU16(offset: number, value: number): void;
  loadU32(offset: number): number;
  storeU32(offset: number, value: number): void;

  close(): void;
}

/** Throws unless [offset, offset + length) lies inside a store of `size` bytes. */
export function checkRange(memory: { name: string; size: number }, offset: number, length: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > memory.size) {
    throw new MemoryAccessError(
      `access of ${length} byte(s) at offset ${hex(offset)} is outside ${memory.name} (${memory.size} bytes)`,
      offset,
      length,
    );
  }
}

/**
 * One window of a SharedMemory as the cores see it. `da` is the device address (what the
 * remote core uses, what the resource table holds), `pa` the physical/bus address (what vring
 * descriptors hold), `offset` where the window starts inside `memory`.
 */
export interface MemoryRegion {
  name: string;
  da: number;
  pa: number;
  size: number;
  memory: SharedMemory;
  offset: number;
}

export interface ResolvedAddress {
  memory: SharedMemory;
  offset: number;
  region: MemoryRegion;
}

/**
 * Address translation between device, physical and store-offset addresses, region by region
 * (open-amp's metal_io regions, Linux's rproc_da_to_va). A range must lie wholly inside one
 * region; anything else is a MemoryAccessError naming the address.
 */
export class AddressSpace {
  readonly regions: readonly MemoryRegion[];

  constructor(regions: readonly MemoryRegion[]) {
    for (const region of regions) checkRange(region.memory, region.offset, region.size);
    this.regions = [...regions];
  }

  resolveDa(da: number, length: number): ResolvedAddress {
    return this.resolve(da, length, 'da', 'device');
  }

  resolvePa(pa: number, length: number): ResolvedAddress {
    return this.resolve(pa, length, 'pa', 'physical');
  }

  daToPa(da: number): number {
    const { region } = this.resolveDa(da, 0);
    return region.pa + (da - region.da);
  }

  paToDa(pa: number): number {
    const { region } = this.resolvePa(pa, 0);
    return region.da + (pa - region.pa);
  }

  /** The region holding device address `da` (and `length` bytes after it), or undefined. */
  findDa(da: number, length = 0): MemoryRegion | undefined {
    return this.regions.find((r) => inside(r.da, r.size, da, length));
  }

  private resolve(address: number, length: number, key: 'da' | 'pa', what: string): ResolvedAddress {
    for (const region of this.regions) {
      if (inside(region[key], region.size, address, length)) {
        return { memory: region.memory, offset: region.offset + (address - region[key]), region };
      }
    }
    throw new MemoryAccessError(
      `${what} address range ${hex(address)}..${hex(address + length)} (${length} byte(s)) is not inside any mapped region` +
        ` (${this.regions.map((r) => `${r.name} ${hex(r[key])}+${hex(r.size)}`).join(', ') || 'none'})`,
      address,
      length,
    );
  }
}

// A zero-length range still names an address, and that address must be a byte of the region:
// otherwise the end of one region would resolve there instead of in the region that follows it
// (daToPa of the first byte of a second, adjacent region returned the first region's end).
function inside(base: number, size: number, address: number, length: number): boolean {
  if (!Number.isInteger(address) || !Number.isInteger(length) || length < 0) return false;
  return address >= base && address + Math.max(length, 1) <= base + size;
}
