import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CarveoutAllocator } from './carveout-allocator.js';
import { CarveoutExhaustedError } from './remoteproc-errors.js';

test('allocates first fit, aligned on device addresses, and reuses freed space', () => {
  const pool = new CarveoutAllocator({ name: 'pool', da: 0x2000_0010, pa: 0x9000_0010, size: 0x10000 });
  const a = pool.allocate(0x100, 0x100, 'a');
  assert.equal(a.da, 0x2000_0100);
  assert.equal(a.pa, 0x9000_0100);
  const b = pool.allocate(0x80, 16, 'b');
  assert.equal(b.da, 0x2000_0010, 'first fit: the gap in front of a');
  const c = pool.allocate(0x80, 16, 'c');
  assert.equal(c.da, 0x2000_0200, 'the 0x60-byte gap after b is too small');
  pool.free(b);
  assert.equal(pool.allocate(0x8, 8, 'd').da, 0x2000_0010, 'freed space is reused');
  assert.equal(pool.used, 0x100 + 0x80 + 0x8);
  pool.reset();
  assert.equal(pool.used, 0);
});

test('running out of room or bad requests throw CarveoutExhaustedError (a firmware fault)', () => {
  const pool = new CarveoutAllocator({ name: 'pool', da: 0, pa: 0, size: 0x1000 });
  pool.allocate(0x800, 4, 'first');
  assert.throws(() => pool.allocate(0x900, 4, 'vdev0buffer'), (e: unknown) => e instanceof CarveoutExhaustedError && e.failureClass === 'firmware' && /no room for 2304 bytes .* for vdev0buffer/.test(e.message));
  assert.throws(() => pool.allocate(0, 4, 'zero'), CarveoutExhaustedError);
  assert.throws(() => pool.allocate(4, 3, 'odd'), CarveoutExhaustedError);
  assert.equal(pool.allocate(0x800, 0x800, 'exact').da, 0x800);
});
