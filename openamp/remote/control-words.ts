/**
 * First-word conventions the reference remotes understand. A message whose first u32 (LE) is
 * one of these is a command to the remote, not a payload. SHUTDOWN_MSG is open-amp's; the two
 * fault words are the farm's (the C reference firmware uses the same values), so the lifecycle
 * suite can make any reference remote fail on purpose.
 */
export const SHUTDOWN_MSG = 0xef56a55a;
/** Makes the remote fault like a core exception (the simulated core's thread dies). */
export const FAULT_CRASH_WORD = 0xfa11c0de;
/** Makes the remote stop servicing its rings while it keeps "running". */
export const FAULT_HANG_WORD = 0xfa11b10c;

/**
 * Flood (echo program, the flood suite): [FLOOD_SINK_WORD, count] makes the remote take the
 * next `count` messages without answering, checking each (floodPayloadOk), then answer once
 * with [FLOOD_SINK_WORD, received, bad]; [FLOOD_SOURCE_WORD, count, size] makes it send
 * `count` messages of `size` bytes (floodPayload) as fast as the host returns buffers.
 */
export const FLOOD_SINK_WORD = 0xf100d51c;
export const FLOOD_SOURCE_WORD = 0xf100d50c;

/** Flood message `seq`: the sequence number (u32 LE), then byte i = (seq + i) & 0xff. */
export function floodPayload(seq: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 4; i < size; i++) out[i] = (seq + i) & 0xff;
  new DataView(out.buffer).setUint32(0, seq >>> 0, true);
  return out;
}

/** The sink's one answer: [FLOOD_SINK_WORD, received, bad]. */
export function floodSinkReport(received: number, bad: number): Uint8Array {
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  view.setUint32(0, FLOOD_SINK_WORD, true);
  view.setUint32(4, received >>> 0, true);
  view.setUint32(8, bad >>> 0, true);
  return out;
}

/** True when `data` is flood message `seq` (of any length from 4 bytes). */
export function floodPayloadOk(data: Uint8Array, seq: number): boolean {
  if (data.length < 4 || new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true) !== seq >>> 0) return false;
  for (let i = 4; i < data.length; i++) if (data[i] !== ((seq + i) & 0xff)) return false;
  return true;
}

export type ControlCommand = 'shutdown' | 'crash' | 'hang';

/** The command a message carries, if any. Messages shorter than 4 bytes carry none. */
export function controlCommandOf(data: Uint8Array): ControlCommand | undefined {
  if (data.length < 4) return undefined;
  const word = (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
  switch (word) {
    case SHUTDOWN_MSG:
      return 'shutdown';
    case FAULT_CRASH_WORD:
      return 'crash';
    case FAULT_HANG_WORD:
      return 'hang';
    default:
      return undefined;
  }
}

/** The 4-byte message that carries `command`. */
export function controlMessage(command: ControlCommand): Uint8Array {
  const word = command === 'shutdown' ? SHUTDOWN_MSG : command === 'crash' ? FAULT_CRASH_WORD : FAULT_HANG_WORD;
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, word, true);
  return out;
}
