import { hex } from '../../base/errors.js';
import type { Allocation } from './remoteproc-ops.js';
import { CarveoutExhaustedError } from './remoteproc-errors.js';

export interface CarveoutPool {
  /** For messages ("ddr-carveout"). */
  readonly name: string;
  readonly da: number;
  readonly pa: number;
  readonly size: number;
}

/**
 * First-fit allocator over one memory window, for targets whose host-allocated carveouts and
 * vrings come from a fixed pool (RemoteprocOps.allocate / free).
 */
export class CarveoutAllocator {
  private blocks: { offset: number; size: number; purpose: string }[] = [];

  constructor(readonly pool: CarveoutPool) {}

  allocate(size: number, align: number, purpose: string): Allocation {
    if (!Number.isInteger(size) || size <= 0) throw new CarveoutExhaustedError(`${this.pool.name}: cannot allocate ${size} bytes for ${purpose}`);
    if (!Number.isInteger(align) || align <= 0 || (align & (align - 1)) !== 0) {
      throw new CarveoutExhaustedError(`${this.pool.name}: alignment ${align} for ${purpose} is not a power of two`);
    }
    let candidate = 0;
    for (const block of this.blocks) {
      candidate = this.alignOffset(candidate, align);
      if (candidate + size <= block.offset) break;
      candidate = Math.max(candidate, block.offset + block.size);
    }
    candidate = this.alignOffset(candidate, align);
    if (candidate + size > this.pool.size) {
      throw new CarveoutExhaustedError(
        `${this.pool.name}: no room for ${size} bytes (align ${hex(align, 0)}) for ${purpose}: pool is ${this.pool.size} bytes, ${this.used} in use`,
      );
    }
    this.blocks.push({ offset: candidate, size, purpose });
    this.blocks.sort((a, b) => a.offset - b.offset);
    return { da: this.pool.da + candidate, pa: this.pool.pa + candidate };
  }

  free(allocation: Allocation): void {
    const offset = allocation.da - this.pool.da;
    this.blocks = this.blocks.filter((b) => b.offset !== offset);
  }

  reset(): void {
    this.blocks = [];
  }

  get used(): number {
    return this.blocks.reduce((sum, b) => sum + b.size, 0);
  }

  /** Aligns the device address (not just the pool offset), since alignment is about addresses. */
  private alignOffset(offset: number, align: number): number {
    const da = this.pool.da + offset;
    return Math.ceil(da / align) * align - this.pool.da;
  }
}
