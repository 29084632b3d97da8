/** The open-amp rpmsg-ping exchange, shared by the echo and lifecycle suites. */
import type { HostEndpoint } from '../../targets/target.js';
import { expectAddress, expectBytes } from './verdict.js';

export const DEMO_CHANNEL = 'rpmsg-openamp-demo-channel';
/** First word of open-amp's SHUTDOWN_MSG. */
export const SHUTDOWN_MSG = 0xef56a55a;
export const PING_HEADER_SIZE = 16;

/** open-amp's ping payload: {u64 num; u64 size} then `size` bytes of 0xA5. */
export function pingPayload(num: number, size: number): Uint8Array {
  const bytes = new Uint8Array(PING_HEADER_SIZE + size).fill(0xa5);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(num), true);
  view.setBigUint64(8, BigInt(size), true);
  return bytes;
}

export interface EchoStats {
  readonly count: number;
  readonly bytes: number;
  /** Round trips in microseconds, in send order. */
  readonly roundTripsUs: readonly number[];
}

/** Sends one ping per size, waits for each echo and compares every byte and the source address. */
export async function echoRound(
  endpoint: HostEndpoint,
  remoteAddr: number,
  sizes: Iterable<number>,
  timeoutMs = 5000,
): Promise<EchoStats> {
  const roundTripsUs: number[] = [];
  let count = 0;
  let bytes = 0;
  for (const size of sizes) {
    const payload = pingPayload(count, size);
    const started = process.hrtime.bigint();
    await endpoint.send(payload);
    const reply = await endpoint.receive({ timeoutMs });
    roundTripsUs.push(Number(process.hrtime.bigint() - started) / 1000);
    expectAddress(reply.src, remoteAddr, `echo ${count} (${payload.length} B) source`);
    expectBytes(reply.data, payload, `echo ${count} (${payload.length} B)`);
    count++;
    bytes += payload.length;
  }
  return { count, bytes, roundTripsUs };
}

/** Nearest-rank percentile; NaN for no samples. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function* range(from: number, to: number): Generator<number> {
  for (let value = from; value <= to; value++) yield value;
}
