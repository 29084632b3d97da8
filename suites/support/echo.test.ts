import { test } from 'node:test';
import assert from 'node:assert/strict';
import { percentile, pingPayload } from './echo.js';
import { expectBytes } from './verdict.js';

test('pingPayload lays out {u64 num; u64 size} then size bytes of 0xA5', () => {
  const payload = pingPayload(3, 5);
  assert.equal(payload.length, 21);
  const view = new DataView(payload.buffer);
  assert.equal(view.getBigUint64(0, true), 3n);
  assert.equal(view.getBigUint64(8, true), 5n);
  assert.deepEqual([...payload.subarray(16)], [0xa5, 0xa5, 0xa5, 0xa5, 0xa5]);
});

test('percentile uses nearest rank', () => {
  const values = Array.from({ length: 100 }, (_, index) => 100 - index);
  assert.equal(percentile(values, 50), 50);
  assert.equal(percentile(values, 99), 99);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('expectBytes names the first differing byte with the assertion class', () => {
  assert.throws(() => expectBytes(new Uint8Array([1, 2, 3]), new Uint8Array([1, 9, 3]), 'echo 4'), {
    name: 'AssertionFailure[assertion]',
    message: 'echo 4: byte 1 is 0x02, expected 0x09',
  });
  assert.throws(() => expectBytes(new Uint8Array([1]), new Uint8Array([1, 2]), 'x'), /1 bytes, expected 2/);
  expectBytes(new Uint8Array([4, 5]), new Uint8Array([4, 5]), 'same');
});
