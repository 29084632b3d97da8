/** The flood suite's exchange: one-way floods through the reference echo's flood words. */
import { FLOOD_SINK_WORD, FLOOD_SOURCE_WORD, floodPayload, floodPayloadOk } from '../../openamp/remote/control-words.js';
import type { HostEndpoint } from '../../targets/target.js';
import { check, expectAddress } from './verdict.js';

export { floodPayload, floodPayloadOk };

/** 496 bytes: a whole 512-byte buffer less the RPMsg header, as open-amp's flood ping sends. */
export const FLOOD_MESSAGE_BYTES = 496;
/** Messages per direction in a farm run; `FARM_FLOOD_MESSAGES` sets another count (benchmarks). */
export const DEFAULT_FLOOD_MESSAGES = 2000;

export function floodMessages(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FARM_FLOOD_MESSAGES;
  if (raw === undefined || raw === '') return DEFAULT_FLOOD_MESSAGES;
  const count = Number(raw);
  if (!Number.isSafeInteger(count) || count < 1 || count > 10_000_000) throw new Error(`FARM_FLOOD_MESSAGES must be an integer 1..10000000, got ${raw}`);
  return count;
}

export interface FloodFigures {
  readonly direction: 'host-to-remote' | 'remote-to-host';
  readonly messages: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
  readonly megabytesPerSecond: number;
}

function words(...values: number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((value, index) => view.setUint32(4 * index, value >>> 0, true));
  return out;
}

function figures(direction: FloodFigures['direction'], messages: number, startedNs: bigint): FloodFigures {
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  const bytes = messages * FLOOD_MESSAGE_BYTES;
  return { direction, messages, bytes, seconds, messagesPerSecond: messages / seconds, megabytesPerSecond: bytes / 1e6 / seconds };
}

/** Host -> remote: `count` messages sent back to back; the remote checks each and reports once. */
export async function floodToRemote(endpoint: HostEndpoint, remoteAddr: number, count: number, timeoutMs: number): Promise<FloodFigures> {
  await endpoint.send(words(FLOOD_SINK_WORD, count));
  const started = process.hrtime.bigint();
  for (let seq = 0; seq < count; seq++) await endpoint.send(floodPayload(seq, FLOOD_MESSAGE_BYTES), { timeoutMs });
  const report = await endpoint.receive({ timeoutMs });
  const result = figures('host-to-remote', count, started);
  expectAddress(report.src, remoteAddr, 'flood sink report source');
  check(report.data.length === 12, `the flood sink report is ${report.data.length} bytes, expected 12 (does the firmware know the flood words?)`);
  const view = new DataView(report.data.buffer, report.data.byteOffset, 12);
  check(view.getUint32(0, true) === FLOOD_SINK_WORD, `the flood sink report starts with 0x${view.getUint32(0, true).toString(16)}, expected 0x${FLOOD_SINK_WORD.toString(16)}`);
  const received = view.getUint32(4, true);
  const bad = view.getUint32(8, true);
  check(received === count && bad === 0, `the remote took ${received} of ${count} flood messages, ${bad} of them bad (out of order or corrupted)`);
  return result;
}

/** Remote -> host: the remote sends `count` messages as fast as buffers come back; each is checked here. */
export async function floodFromRemote(endpoint: HostEndpoint, remoteAddr: number, count: number, timeoutMs: number): Promise<FloodFigures> {
  await endpoint.send(words(FLOOD_SOURCE_WORD, count, FLOOD_MESSAGE_BYTES));
  const started = process.hrtime.bigint();
  for (let seq = 0; seq < count; seq++) {
    const message = await endpoint.receive({ timeoutMs });
    if (message.src !== remoteAddr) expectAddress(message.src, remoteAddr, `flood message ${seq} source`);
    if (message.data.length !== FLOOD_MESSAGE_BYTES || !floodPayloadOk(message.data, seq)) {
      const got = message.data.length >= 4 ? new DataView(message.data.buffer, message.data.byteOffset, 4).getUint32(0, true) : -1;
      check(false, `flood message ${seq} of ${count} is wrong: ${message.data.length} bytes, sequence ${got} (lost, reordered or corrupted)`);
    }
  }
  return figures('remote-to-host', count, started);
}
