/** Protocol-level verdicts: bytes compared, failures as AssertionFailure saying where. */
import { AssertionFailure, TimeoutError, hex } from '../../base/errors.js';
import type { HostEndpoint, Message } from '../../targets/target.js';

export function expectBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (actual.length !== expected.length) {
    throw new AssertionFailure(`${what}: ${actual.length} bytes, expected ${expected.length}`);
  }
  for (let offset = 0; offset < expected.length; offset++) {
    if (actual[offset] !== expected[offset]) {
      throw new AssertionFailure(
        `${what}: byte ${offset} is ${hex(actual[offset] ?? 0, 2)}, expected ${hex(expected[offset] ?? 0, 2)}`,
      );
    }
  }
}

export function expectAddress(actual: number, expected: number, what: string): void {
  if (actual !== expected) throw new AssertionFailure(`${what}: address ${hex(actual)}, expected ${hex(expected)}`);
}

export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}

/** Fails when `endpoint` receives anything within `quietMs` (lost-and-found duplicates, strays). */
export async function expectNoMessage(endpoint: HostEndpoint, quietMs: number, what: string): Promise<void> {
  let stray: Message | undefined;
  try {
    stray = await endpoint.receive({ timeoutMs: quietMs });
  } catch (error) {
    if (error instanceof TimeoutError) return;
    throw error;
  }
  throw new AssertionFailure(`${what}: unexpected message of ${stray.data.length} bytes from ${hex(stray.src)}`);
}

const encoder = new TextEncoder();
export const text = (value: string): Uint8Array => encoder.encode(value);
export const concatBytes = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
};
