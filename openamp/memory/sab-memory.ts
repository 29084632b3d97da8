import { ViewMemory } from './view-memory.js';

/**
 * Shared memory as a SharedArrayBuffer: the simulated SoC, where host and remote are threads
 * of one process (the buffer is handed to the remote's worker thread).
 */
export class SabMemory extends ViewMemory {
  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly name = `sab:${buffer.byteLength}`,
  ) {
    super(buffer);
  }

  static allocate(size: number, name?: string): SabMemory {
    return new SabMemory(new SharedArrayBuffer(size), name);
  }

  close(): void {
    // Nothing to release: the buffer goes when the last thread drops it.
  }
}
