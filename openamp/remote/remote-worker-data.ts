import type { RemoteCoreOutcome } from './remote-core.js';
import type { RemoteProgramName } from './program.js';

/**
 * What a remote-role worker (openamp/remote/remote-worker.ts) is started with. Everything is
 * structured-cloneable: SharedArrayBuffers are shared, not copied.
 */
export type RemoteMemorySpec =
  | { kind: 'sab'; buffer: SharedArrayBuffer; name: string }
  /** A file the host created (FileMemory), opened by the worker. */
  | { kind: 'file'; path: string; size: number };

/** One window of the memory as the remote core sees it (store offset, device and bus address). */
export interface RemoteRegionSpec {
  name: string;
  da: number;
  pa: number;
  size: number;
  offset: number;
}

export type RemoteDoorbellSpec =
  /** The `buffer` of AtomicsDoorbell.createPair(); the worker attaches the 'remote' side. */
  | { kind: 'atomics'; buffer: SharedArrayBuffer; spinMicros?: number }
  /** A socket the host serves; the worker connects. */
  | { kind: 'unix-socket'; path: string }
  | { kind: 'poll'; intervalMs: number };

export type RemoteBootSpec =
  /** Boot like a core: read the boot record at the entry point of the loaded image. */
  | { kind: 'entry'; entry: number }
  /** Told directly (a table the host or a machine layout put in memory). */
  | { kind: 'table'; program: RemoteProgramName; resourceTableDa: number; resourceTableSize: number; bufferSize: number };

export interface RemoteWorkerData {
  label: string;
  memory: RemoteMemorySpec;
  regions: RemoteRegionSpec[];
  boot: RemoteBootSpec;
  doorbell: RemoteDoorbellSpec;
  /** RemoteControl's buffer. */
  control: SharedArrayBuffer;
  spinMicros?: number;
  /** The core waits this long before each reply, in µs (a deliberately slow firmware). */
  replyDelayUs?: number;
  idleWaitMs?: number;
  driverOkTimeoutMs?: number;
}

/** Messages the worker posts to whoever started it. */
export type RemoteWorkerEvent =
  /** One line of the core's console (its UART). */
  | { type: 'console'; line: string }
  /** The core's loop ended without a fault; its memory and doorbell are closed. */
  | { type: 'outcome'; outcome: RemoteCoreOutcome };

export function isRemoteWorkerEvent(value: unknown): value is RemoteWorkerEvent {
  if (!value || typeof value !== 'object') return false;
  const type = (value as { type?: unknown }).type;
  return type === 'console' || type === 'outcome';
}

/**
 * What the parent posts to a worker whose core ended without a fault: boot another core in the
 * same thread ('boot'), or end the thread ('exit').
 */
export type RemoteWorkerCommand = { type: 'boot'; data: RemoteWorkerData } | { type: 'exit' };

export function isRemoteWorkerCommand(value: unknown): value is RemoteWorkerCommand {
  if (!value || typeof value !== 'object') return false;
  const record = value as { type?: unknown; data?: unknown };
  return record.type === 'exit' || (record.type === 'boot' && typeof record.data === 'object' && record.data !== null);
}
