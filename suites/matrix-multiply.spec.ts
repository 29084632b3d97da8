/**
 * matrix-multiply: open-amp's matrix_multiply host against matrix_multiplyd. 200 iterations of
 * two 6x6 matrices {u32 size; u32 elements[6][6]} (296 B); the reply must be one 148-byte
 * matrix equal to the product the host computes itself.
 */
import { test } from '../farm/fixtures.js';
import { DEMO_CHANNEL } from './support/echo.js';
import { check, expectAddress, expectNoMessage } from './support/verdict.js';
import { AssertionFailure } from '../base/errors.js';

const SIZE = 6;
const MATRIX_BYTES = 4 + 4 * 36;
const ITERATIONS = 200;

/** Deterministic stand-in for rand(): a 31-bit LCG, so a failure reproduces. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state >>> 1;
  };
}

function product(a: number[], b: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < SIZE; i++) {
    for (let j = 0; j < SIZE; j++) {
      let sum = 0;
      for (let k = 0; k < SIZE; k++) sum += (a[i * SIZE + k] as number) * (b[k * SIZE + j] as number);
      out.push(sum >>> 0);
    }
  }
  return out;
}

function encode(matrices: number[][]): Uint8Array {
  const view = new DataView(new ArrayBuffer(MATRIX_BYTES * matrices.length));
  matrices.forEach((elements, index) => {
    view.setUint32(index * MATRIX_BYTES, SIZE, true);
    elements.forEach((value, element) => view.setUint32(index * MATRIX_BYTES + 4 + 4 * element, value, true));
  });
  return new Uint8Array(view.buffer);
}

test(`multiplies ${ITERATIONS} pairs of 6x6 matrices correctly`, async ({ host }) => {
  const channel = await host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 10_000 });
  const endpoint = await host.openEndpoint({ name: DEMO_CHANNEL });
  const rand = lcg(0x5eed);
  const element = () => (rand() & 0x7f) % 10;
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    const a = Array.from({ length: 36 }, element);
    const b = Array.from({ length: 36 }, element);
    await endpoint.send(encode([a, b]));
    const reply = await endpoint.receive({ timeoutMs: 5000 });
    expectAddress(reply.src, channel.remoteAddr, `iteration ${iteration} reply source`);
    check(reply.data.length === MATRIX_BYTES, `iteration ${iteration}: reply is ${reply.data.length} bytes, expected ${MATRIX_BYTES}`);
    const view = new DataView(reply.data.buffer, reply.data.byteOffset, reply.data.byteLength);
    check(view.getUint32(0, true) === SIZE, `iteration ${iteration}: reply size field ${view.getUint32(0, true)}, expected ${SIZE}`);
    const expected = product(a, b);
    expected.forEach((value, index) => {
      const actual = view.getUint32(4 + 4 * index, true);
      if (actual !== value) {
        throw new AssertionFailure(
          `iteration ${iteration}: element [${Math.floor(index / SIZE)}][${index % SIZE}] is ${actual}, expected ${value}`,
        );
      }
    });
  }
  await expectNoMessage(endpoint, 100, 'after the last product');
  await endpoint.close();
});
