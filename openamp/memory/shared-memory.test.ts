import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { propertyRuns } from '../testing/fuzz-runs.js';
import { MemoryAccessError } from '../../base/errors.js';
import { SabMemory } from './sab-memory.js';
import { AddressSpace, checkRange, type MemoryRegion } from './shared-memory.js';

function twoRegions(): { space: AddressSpace; low: MemoryRegion; high: MemoryRegion; memory: SabMemory } {
  const memory = SabMemory.allocate(0x3000, 'sab:test');
  // Adjacent in device space, not in physical space, and at different offsets of the store.
  const low: MemoryRegion = { name: 'low', da: 0x1000, pa: 0x8000_0000, size: 0x1000, memory, offset: 0x0 };
  const high: MemoryRegion = { name: 'high', da: 0x2000, pa: 0x9000_0000, size: 0x1000, memory, offset: 0x2000 };
  return { space: new AddressSpace([low, high]), low, high, memory };
}

test('checkRange accepts ranges inside the store and rejects the rest with MemoryAccessError', () => {
  const store = { name: 'x', size: 16 };
  checkRange(store, 0, 16);
  checkRange(store, 16, 0);
  checkRange(store, 15, 1);
  for (const [offset, length] of [
    [15, 2],
    [16, 1],
    [-1, 1],
    [0, -1],
    [0.5, 1],
    [0, 1.5],
    [Number.NaN, 1],
    [Number.MAX_SAFE_INTEGER, 1],
  ] as const) {
    assert.throws(() => checkRange(store, offset, length), MemoryAccessError, `offset ${offset} length ${length}`);
  }
});

test('AddressSpace translates device and physical addresses to store offsets region by region', () => {
  const { space, low, high } = twoRegions();
  assert.deepEqual(pick(space.resolveDa(0x1000, 4)), { offset: 0x0, region: 'low' });
  assert.deepEqual(pick(space.resolveDa(0x1ffc, 4)), { offset: 0xffc, region: 'low' });
  assert.deepEqual(pick(space.resolveDa(0x2010, 16)), { offset: 0x2010, region: 'high' });
  assert.deepEqual(pick(space.resolvePa(0x9000_0010, 16)), { offset: 0x2010, region: 'high' });
  assert.equal(space.daToPa(0x1004), 0x8000_0004);
  assert.equal(space.paToDa(0x9000_0ffc), 0x2ffc);
  assert.equal(space.findDa(0x2000), high);
  assert.equal(space.findDa(0x1fff, 1), low);
  assert.equal(space.findDa(0x3000), undefined);
});

test('AddressSpace resolves the first byte of a region to that region even when another ends there', () => {
  const { space } = twoRegions();
  // da 0x2000 is both the end of "low" and the start of "high": it belongs to "high".
  assert.equal(space.daToPa(0x2000), 0x9000_0000);
  assert.equal(space.findDa(0x2000)?.name, 'high');
  assert.equal(space.resolveDa(0x2000, 0).offset, 0x2000);
});

test('AddressSpace rejects ranges spanning two regions, outside all regions, or overflowing', () => {
  const { space } = twoRegions();
  const rejects = (f: () => unknown, address: number): void => {
    assert.throws(f, (error: unknown) => error instanceof MemoryAccessError && error.address === address && /0x/.test(error.message));
  };
  rejects(() => space.resolveDa(0x1ffc, 8), 0x1ffc); // low's last 4 bytes + high's first 4
  rejects(() => space.resolveDa(0x0, 4), 0x0);
  rejects(() => space.resolveDa(0x3000, 1), 0x3000);
  rejects(() => space.resolveDa(0x2ffc, 5), 0x2ffc);
  rejects(() => space.resolvePa(0x8000_0ffc, 8), 0x8000_0ffc);
  rejects(() => space.resolveDa(0x1000, -1), 0x1000);
  rejects(() => space.resolveDa(0x1000, 0.5), 0x1000);
  rejects(() => space.resolveDa(4096.5, 1), 4096.5);
  // A u32 length that would wrap a 32-bit address must not wrap here.
  rejects(() => space.resolveDa(0x1000, 0xffff_ffff), 0x1000);
  rejects(() => space.resolveDa(0xffff_ffff, 2), 0xffff_ffff);
  rejects(() => space.daToPa(0x3000), 0x3000);
  rejects(() => space.paToDa(0x7fff_ffff), 0x7fff_ffff);
});

test('AddressSpace refuses a region that does not fit its store', () => {
  const memory = SabMemory.allocate(0x1000);
  assert.throws(() => new AddressSpace([{ name: 'big', da: 0, pa: 0, size: 0x1001, memory, offset: 0 }]), MemoryAccessError);
  assert.throws(() => new AddressSpace([{ name: 'shifted', da: 0, pa: 0, size: 0x1000, memory, offset: 1 }]), MemoryAccessError);
});

test('property: every resolved range lies inside its region and its store; every other range is rejected', () => {
  const { space } = twoRegions();
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0x4000 }), fc.integer({ min: 0, max: 0x2100 }), (da, length) => {
      const owner = space.regions.find((r) => da >= r.da && da + Math.max(length, 1) <= r.da + r.size);
      if (!owner) {
        assert.throws(() => space.resolveDa(da, length), MemoryAccessError);
        return;
      }
      const resolved = space.resolveDa(da, length);
      assert.equal(resolved.region, owner);
      assert.equal(resolved.offset, owner.offset + (da - owner.da));
      checkRange(resolved.memory, resolved.offset, length);
      assert.equal(space.paToDa(space.daToPa(da)), da);
    }),
    { numRuns: propertyRuns('memory: address space resolves in bounds or rejects') },
  );
});

function pick(resolved: { offset: number; region: MemoryRegion }): { offset: number; region: string } {
  return { offset: resolved.offset, region: resolved.region.name };
}
