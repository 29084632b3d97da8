import { InfrastructureError, ProtocolError } from '../../base/errors.js';
import type { RpmsgDevice, RpmsgMessage } from '../rpmsg/api.js';

export interface EchoRoundTripOptions {
  device: RpmsgDevice;
  /** Endpoint name and the remote echo endpoint's address. */
  channel: { name: string; remoteAddr: number };
  payloadBytes: number;
  rounds: number;
  /** Unmeasured round trips first (JIT, caches). */
  warmup: number;
  /**
   * 'busy-poll': after each send, call device.poll() until the echo is in (no event loop);
   * 'event': await the endpoint's receive (the device listens on its doorbell).
   */
  mode: 'busy-poll' | 'event';
  /** Gives up (ProtocolError) when one round trip takes longer, in ms. Default 5000. */
  roundTimeoutMs?: number;
}

export interface EchoRoundTripResult {
  roundTrips: number;
  payloadBytes: number;
  seconds: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  roundTripsPerSecond: number;
  /** Both directions: each round trip is two messages. */
  messagesPerSecond: number;
  /** Payload bytes of both directions, 10^6 bytes per MB. */
  megabytesPerSecond: number;
}

const POLLS_PER_CLOCK_READ = 256;

/**
 * Echo round trips of `payloadBytes` against an echo remote, one at a time, each timed; every
 * echo is checked (length and the sequence number in its first 4 bytes), so a lost, duplicated
 * or corrupted message fails the run instead of being timed.
 */
export async function measureEchoRoundTrips(options: EchoRoundTripOptions): Promise<EchoRoundTripResult> {
  const { device, payloadBytes, rounds, warmup } = options;
  if (payloadBytes < 4 || payloadBytes > device.maxPayload) {
    throw new InfrastructureError(`payload of ${payloadBytes} bytes: must be 4..${device.maxPayload}`);
  }
  const timeoutMs = options.roundTimeoutMs ?? 5000;
  const payload = new Uint8Array(payloadBytes).fill(0xa5);
  const payloadView = new DataView(payload.buffer);
  let received = 0;
  let bad: string | undefined;
  const check = (message: RpmsgMessage, expected: number): void => {
    const data = message.data;
    if (data.length !== payloadBytes) bad ??= `echo ${expected} is ${data.length} bytes, sent ${payloadBytes}`;
    else if (new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true) !== expected) bad ??= `echo ${expected} carries sequence ${new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true)}`;
  };
  const busy = options.mode === 'busy-poll';
  const endpoint = device.createEndpoint({
    name: options.channel.name,
    dest: options.channel.remoteAddr,
    ...(busy
      ? {
          onMessage: (message: RpmsgMessage) => {
            check(message, received);
            received++;
          },
        }
      : {}),
  });
  const samples = new Float64Array(rounds);
  try {
    let measuredStart = 0;
    for (let i = 0; i < warmup + rounds; i++) {
      if (i === warmup) measuredStart = performance.now();
      payloadView.setUint32(0, i, true);
      const start = performance.now();
      if (busy) {
        sendBusy(device, endpoint.trySend.bind(endpoint), payload, start, timeoutMs);
        // Bounded by the deadline, checked every POLLS_PER_CLOCK_READ polls.
        for (let polls = 1; received <= i; polls++) {
          device.poll();
          if (polls % POLLS_PER_CLOCK_READ === 0 && performance.now() - start > timeoutMs) {
            throw new ProtocolError(`echo ${i} did not come back within ${timeoutMs} ms`);
          }
        }
      } else {
        await endpoint.send(payload, { timeoutMs });
        check(await endpoint.receive(timeoutMs), i);
        received++;
      }
      if (bad) throw new ProtocolError(`echo benchmark: ${bad}`);
      if (i >= warmup) samples[i - warmup] = performance.now() - start;
    }
    const seconds = (performance.now() - measuredStart) / 1000;
    samples.sort();
    const at = (q: number): number => samples[Math.min(rounds - 1, Math.floor(q * rounds))]! * 1000;
    const roundTripsPerSecond = rounds / seconds;
    return {
      roundTrips: rounds,
      payloadBytes,
      seconds,
      p50Us: at(0.5),
      p99Us: at(0.99),
      maxUs: samples[rounds - 1]! * 1000,
      roundTripsPerSecond,
      messagesPerSecond: 2 * roundTripsPerSecond,
      megabytesPerSecond: (2 * roundTripsPerSecond * payloadBytes) / 1e6,
    };
  } finally {
    endpoint.destroy();
  }
}

/** trySend, polling the rings (which reclaims sent buffers) while no buffer is free. */
function sendBusy(device: RpmsgDevice, trySend: (data: Uint8Array) => void, payload: Uint8Array, start: number, timeoutMs: number): void {
  for (let attempts = 1; ; attempts++) {
    try {
      trySend(payload);
      return;
    } catch (error) {
      if (!(error instanceof Error) || !error.name.startsWith('NoBufferError')) throw error;
      device.poll();
      if (attempts % POLLS_PER_CLOCK_READ === 0 && performance.now() - start > timeoutMs) throw error;
    }
  }
}
