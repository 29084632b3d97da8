/**
 * The shared memory between the board double's main thread (the chip's peripherals: USB CDC
 * pty, the M4 in QEMU, the OpenAMP host stack) and its MicroPython worker (the M7 running the
 * interpreter). The WASM interpreter is synchronous: while a script runs, the worker's event
 * loop is blocked, so everything the worker needs while Python runs crosses through here and
 * Atomics, never through worker messages:
 * - serial input: a byte ring the main thread fills and the worker drains (the UART rx buffer);
 * - RPC replies: the worker posts a request message and sleeps in Atomics.wait until the main
 *   thread has written the JSON reply into `reply` (the openamp module's calls into the chip);
 * - "events pending": set by the main thread when RPMsg messages or name-service announcements
 *   wait for delivery, so the worker's tick hook knows to run the Python callbacks.
 */
export const INPUT_RING_BYTES = 1 << 20;
export const REPLY_BYTES = 8 << 20;

/** Int32 slots of `control`. */
export const SLOT = {
  /** Input ring write index (main thread), mod INPUT_RING_BYTES. */
  inWrite: 0,
  /** Input ring read index (worker). */
  inRead: 1,
  /** 0 idle, 1 request posted, 2 reply ready. */
  rpcState: 2,
  /** Bytes of the reply in `reply`. */
  rpcLength: 3,
  /** Non-zero while RPMsg events wait for the worker. */
  eventsPending: 4,
} as const;
const CONTROL_SLOTS = 8;

export interface SharedLink {
  readonly control: Int32Array;
  readonly input: Uint8Array;
  readonly reply: Uint8Array;
}

export interface SharedLinkBuffers {
  readonly control: SharedArrayBuffer;
  readonly input: SharedArrayBuffer;
  readonly reply: SharedArrayBuffer;
}

export function createSharedLinkBuffers(): SharedLinkBuffers {
  return {
    control: new SharedArrayBuffer(CONTROL_SLOTS * 4),
    input: new SharedArrayBuffer(INPUT_RING_BYTES),
    reply: new SharedArrayBuffer(REPLY_BYTES),
  };
}

export function sharedLink(buffers: SharedLinkBuffers): SharedLink {
  return { control: new Int32Array(buffers.control), input: new Uint8Array(buffers.input), reply: new Uint8Array(buffers.reply) };
}

/** Writes as much of `bytes` as fits into the input ring; returns how many were written. */
export function ringWrite(link: SharedLink, bytes: Uint8Array): number {
  const size = INPUT_RING_BYTES;
  let write = Atomics.load(link.control, SLOT.inWrite);
  const read = Atomics.load(link.control, SLOT.inRead);
  const free = (read - write - 1 + size) % size;
  const count = Math.min(free, bytes.length);
  for (let i = 0; i < count; i++) {
    link.input[write] = bytes[i] as number;
    write = (write + 1) % size;
  }
  Atomics.store(link.control, SLOT.inWrite, write);
  Atomics.notify(link.control, SLOT.inWrite);
  return count;
}

/** Takes every byte waiting in the input ring. */
export function ringTake(link: SharedLink): number[] {
  const size = INPUT_RING_BYTES;
  const write = Atomics.load(link.control, SLOT.inWrite);
  let read = Atomics.load(link.control, SLOT.inRead);
  const out: number[] = [];
  while (read !== write) {
    out.push(link.input[read] as number);
    read = (read + 1) % size;
  }
  Atomics.store(link.control, SLOT.inRead, read);
  return out;
}

/** Messages the worker posts to the main thread. */
export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'output'; readonly bytes: Uint8Array }
  | { readonly type: 'rpc'; readonly op: string; readonly args: readonly unknown[] }
  | { readonly type: 'files'; readonly files: readonly { readonly path: string; readonly data: Uint8Array }[] }
  | { readonly type: 'failed'; readonly message: string };

/** What the main thread hands a new worker. */
export interface WorkerInit {
  readonly buffers: SharedLinkBuffers;
  /** The board's filesystem, restored into the interpreter's (it survives resets, as flash does). */
  readonly files: readonly { readonly path: string; readonly data: Uint8Array }[];
  /** Boot straight into the raw REPL (a soft reset while in raw mode). */
  readonly rawMode: boolean;
  /** Text printed before the interpreter's own banner ("MPY: soft reboot\r\n"). */
  readonly preamble: string;
}
