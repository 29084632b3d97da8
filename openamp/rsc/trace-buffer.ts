import type { AddressSpace } from '../memory/shared-memory.js';
import type { TraceEntry } from './parse-resource-table.js';

/** Trace buffers are read whole; this caps what one read copies out of shared memory. */
export const TRACE_READ_LIMIT = 1 << 20;

/**
 * The text of a trace buffer as Linux's debugfs `traceN` returns it: the bytes from `da` up to
 * the first NUL, never past `len` (nor past `limit`). Bytes that are not UTF-8 become U+FFFD.
 * Throws MemoryAccessError when the buffer is not inside the mapped memory.
 */
export function readTraceText(memory: AddressSpace, trace: Pick<TraceEntry, 'da' | 'len'>, limit = TRACE_READ_LIMIT): string {
  const length = Math.min(trace.len, limit);
  if (length === 0) return '';
  const { memory: store, offset } = memory.resolveDa(trace.da, length);
  const bytes = store.read(offset, length);
  const end = bytes.indexOf(0);
  return new TextDecoder('utf-8').decode(end < 0 ? bytes : bytes.subarray(0, end));
}
