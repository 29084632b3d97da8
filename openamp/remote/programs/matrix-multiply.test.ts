import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { propertyRuns } from '../../testing/fuzz-runs.js';
import { MATRIX_BYTES, MATRIX_MAX_SIZE, decodeMatrix, encodeMatrix, multiplyMatrices, type Matrix } from './matrix-multiply.js';

function matrix(size: number, values: number[]): Matrix {
  const elements = new Uint32Array(MATRIX_MAX_SIZE * MATRIX_MAX_SIZE);
  values.forEach((v, i) => (elements[i] = v));
  return { size, elements };
}

test('multiplies 6x6 matrices like the C demo (row-major, u32)', () => {
  const a = matrix(6, Array.from({ length: 36 }, (_, i) => i % 10));
  const b = matrix(6, Array.from({ length: 36 }, (_, i) => (i * 7) % 10));
  const product = multiplyMatrices(a, b);
  assert.equal(product.size, 6);
  for (let i = 0; i < 6; i++) {
    for (let j = 0; j < 6; j++) {
      let sum = 0;
      for (let k = 0; k < 6; k++) sum += a.elements[i * 6 + k]! * b.elements[k * 6 + j]!;
      assert.equal(product.elements[i * 6 + j], sum, `element [${i}][${j}]`);
    }
  }
});

test('u32 arithmetic wraps instead of losing precision', () => {
  const a = matrix(1, [0xffffffff]);
  const b = matrix(1, [0xffffffff]);
  // (2^32 - 1)^2 mod 2^32 = 1
  assert.equal(multiplyMatrices(a, b).elements[0], 1);
});

test('encode/decode round-trips any matrix', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 6 }), fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 36, maxLength: 36 }), (size, values) => {
      const encoded = encodeMatrix(matrix(size, values));
      assert.equal(encoded.length, MATRIX_BYTES);
      const decoded = decodeMatrix(encoded, 0);
      assert.equal(decoded.size, size);
      assert.deepEqual([...decoded.elements], values);
    }),
    { numRuns: propertyRuns('matrix-multiply: encode/decode round trip') },
  );
});
