import type { AddressSpace, SharedMemory } from '../memory/shared-memory.js';

const encoder = new TextEncoder();

/**
 * The remote's side of a resource-table trace entry: a circular text buffer in shared memory.
 * Each line is written followed by a NUL, so a reader that stops at the first NUL (Linux's
 * debugfs traceN) sees the log up to the newest line; when a line does not fit before the end
 * the writer wraps to the start, like the firmware ring buffers do, and older text is lost.
 */
export class TraceWriter {
  private readonly memory: SharedMemory;
  private readonly base: number;
  private position = 0;

  constructor(
    addressSpace: AddressSpace,
    readonly da: number,
    readonly length: number,
  ) {
    const resolved = addressSpace.resolveDa(da, length);
    this.memory = resolved.memory;
    this.base = resolved.offset;
    if (length > 0) this.memory.setU8(this.base, 0);
  }

  /** Appends `line` and a newline; a line longer than the buffer keeps its last bytes. */
  writeLine(line: string): void {
    if (this.length < 2) return;
    let bytes = encoder.encode(line.endsWith('\n') ? line : line + '\n');
    // Room for the terminating NUL is always kept.
    const capacity = this.length - 1;
    if (bytes.length > capacity) bytes = bytes.subarray(bytes.length - capacity);
    if (this.position + bytes.length > capacity) this.position = 0;
    this.memory.write(this.base + this.position, bytes);
    this.position += bytes.length;
    this.memory.setU8(this.base + this.position, 0);
  }
}
