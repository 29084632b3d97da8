import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { propertyRuns } from '../testing/fuzz-runs.js';
import { FirmwareError } from '../../base/errors.js';
import { VringGeometryError, alignUp, checkVringGeometry, needEvent, vringLayout, vringSize } from './vring-layout.js';

test('vringSize matches the golden value of the protocol notes (num 256, align 0x1000 -> 10246)', () => {
  assert.equal(vringSize(256, 0x1000), 10246);
});

test('layout of num 256 / align 0x1000: avail after the descriptors, used page aligned', () => {
  const layout = vringLayout(256, 0x1000);
  assert.equal(layout.desc, 0);
  assert.equal(layout.avail, 4096);
  assert.equal(layout.availFlags, 4096);
  assert.equal(layout.availIdx, 4098);
  assert.equal(layout.availRing, 4100);
  assert.equal(layout.usedEvent, 4100 + 512);
  assert.equal(layout.used, 8192);
  assert.equal(layout.usedIdx, 8194);
  assert.equal(layout.usedRing, 8196);
  assert.equal(layout.availEvent, 8196 + 8 * 256);
  assert.equal(layout.size, 10246);
});

test('MicroPython geometry (64 entries, align 32) and the smallest ring', () => {
  // 16*64 = 1024; avail 4 + 128 + 2 = 134 -> 1158 -> align 32 -> 1184; + 6 + 512.
  assert.equal(vringLayout(64, 32).used, 1184);
  assert.equal(vringSize(64, 32), 1184 + 6 + 512);
  // num 1: 16 + 6 = 22 -> align 4 -> 24; + 6 + 8.
  assert.equal(vringSize(1, 4), 38);
  assert.equal(vringSize(32768, 0x1000), alignUp(16 * 32768 + 2 * (3 + 32768), 0x1000) + 6 + 8 * 32768);
});

test('checkVringGeometry refuses num and align that are not powers of two, as firmware errors', () => {
  for (const [num, align] of [
    [0, 0x1000],
    [3, 0x1000],
    [65536, 0x1000],
    [256, 0],
    [256, 0x1001],
    [-4, 4],
    [2.5, 4],
  ] as const) {
    assert.throws(() => checkVringGeometry(num, align), (e: unknown) => e instanceof VringGeometryError && e instanceof FirmwareError, `${num}/${align}`);
  }
  assert.doesNotThrow(() => checkVringGeometry(32768, 1));
});

test('needEvent follows vring_need_event, including across the u16 wrap', () => {
  assert.equal(needEvent(0, 1, 0), true); // moved past 0
  assert.equal(needEvent(5, 5, 4), false); // event 5 not crossed (new = 5 means entries up to 4)
  assert.equal(needEvent(4, 5, 4), true);
  assert.equal(needEvent(10, 20, 12), false); // event behind old
  assert.equal(needEvent(0xffff, 1, 0xfffe), true); // wraps
  assert.equal(needEvent(3, 3, 3), false); // nothing new
});

test('property: layout fields are ordered, aligned and sized as the spec formula says', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 14 }), (numLog, alignLog) => {
      const num = 2 ** numLog;
      const align = 2 ** alignLog;
      const layout = vringLayout(num, align);
      assert.equal(layout.size, alignUp(16 * num + 2 * (3 + num), align) + 6 + 8 * num);
      assert.equal(layout.used % align, 0);
      assert.ok(layout.used >= layout.usedEvent + 2);
      assert.ok(layout.used - (layout.usedEvent + 2) < align);
    }),
    { numRuns: propertyRuns('vring: layout formula') },
  );
});

test('property: needEvent is true exactly when the event index lies in [old, new) (u16)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 1024 }), (event, old, moved) => {
      const now = (old + moved) & 0xffff;
      let crossed = false;
      for (let i = 0; i < moved && !crossed; i++) crossed = ((old + i) & 0xffff) === event;
      assert.equal(needEvent(event, now, old), crossed);
    }),
    { numRuns: propertyRuns('vring: needEvent window') },
  );
});
