/**
 * Behaviour every SharedMemory backend must have, run against each backend by its own test
 * file. (Not a test file itself: the runner only picks up *.test.js.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { propertyRuns } from '../testing/fuzz-runs.js';
import { MemoryAccessError } from '../../base/errors.js';
import type { SharedMemory } from './shared-memory.js';

export type MemoryFactory = (size: number) => { memory: SharedMemory; cleanup: () => void };

export function describeSharedMemoryContract(backend: string, make: MemoryFactory): void {
  const withMemory = (size: number, body: (memory: SharedMemory) => void): void => {
    const { memory, cleanup } = make(size);
    try {
      body(memory);
    } finally {
      memory.close();
      cleanup();
    }
  };

  test(`${backend}: scalar accessors are little-endian and agree with each other`, () => {
    withMemory(64, (memory) => {
      memory.setU32(0, 0x11223344);
      assert.deepEqual([...memory.read(0, 4)], [0x44, 0x33, 0x22, 0x11]);
      assert.equal(memory.getU16(0), 0x3344);
      assert.equal(memory.getU16(2), 0x1122);
      assert.equal(memory.getU8(3), 0x11);
      memory.storeU32(8, 0xfedcba98);
      assert.equal(memory.getU32(8), 0xfedcba98);
      assert.equal(memory.loadU32(8), 0xfedcba98);
      memory.storeU16(12, 0xabcd);
      assert.equal(memory.loadU16(12), 0xabcd);
      memory.storeU8(14, 0x7f);
      assert.equal(memory.loadU8(14), 0x7f);
      memory.setU16(16, 0x1_2345); // truncated to 16 bits
      assert.equal(memory.getU16(16), 0x2345);
      memory.setU32(20, -1);
      assert.equal(memory.getU32(20), 0xffffffff);
      // Unaligned ordered fields.
      memory.storeU32(33, 0xcafef00d);
      assert.equal(memory.loadU32(33), 0xcafef00d);
      assert.equal(memory.getU32(33), 0xcafef00d);
      memory.storeU16(41, 0x0102);
      assert.equal(memory.loadU16(41), 0x0102);
    });
  });

  test(`${backend}: read returns a copy, readInto/write/fill move exactly the bytes asked`, () => {
    withMemory(64, (memory) => {
      memory.write(10, new Uint8Array([1, 2, 3, 4, 5]));
      const copy = memory.read(10, 5);
      assert.deepEqual([...copy], [1, 2, 3, 4, 5]);
      copy[0] = 99;
      assert.equal(memory.getU8(10), 1);
      const target = new Uint8Array(3);
      memory.readInto(11, target);
      assert.deepEqual([...target], [2, 3, 4]);
      // A view into a larger buffer writes only its own bytes.
      const backing = new Uint8Array([9, 8, 7, 6, 5]);
      memory.write(20, backing.subarray(1, 3));
      assert.deepEqual([...memory.read(19, 4)], [0, 8, 7, 0]);
      memory.fill(30, 4, 0xaa);
      assert.deepEqual([...memory.read(29, 6)], [0, 0xaa, 0xaa, 0xaa, 0xaa, 0]);
      assert.equal(memory.read(64, 0).length, 0);
    });
  });

  test(`${backend}: every accessor rejects out-of-bounds offsets with MemoryAccessError`, () => {
    withMemory(32, (memory) => {
      const outside: [string, () => unknown][] = [
        ['read', () => memory.read(30, 3)],
        ['readInto', () => memory.readInto(31, new Uint8Array(2))],
        ['write', () => memory.write(32, new Uint8Array(1))],
        ['fill', () => memory.fill(0, 33, 0)],
        ['getU8', () => memory.getU8(32)],
        ['getU16', () => memory.getU16(31)],
        ['getU32', () => memory.getU32(29)],
        ['setU8', () => memory.setU8(-1, 0)],
        ['setU16', () => memory.setU16(31, 0)],
        ['setU32', () => memory.setU32(30, 0)],
        ['loadU8', () => memory.loadU8(32)],
        ['storeU8', () => memory.storeU8(32, 0)],
        ['loadU16', () => memory.loadU16(1.5)],
        ['storeU16', () => memory.storeU16(31, 0)],
        ['loadU32', () => memory.loadU32(29)],
        ['storeU32', () => memory.storeU32(Number.NaN, 0)],
      ];
      for (const [name, access] of outside) {
        assert.throws(access, (error: unknown) => error instanceof MemoryAccessError && error.message.includes(memory.name), name);
      }
      // Nothing was written by the rejected stores.
      assert.deepEqual([...memory.read(0, 32)], new Array(32).fill(0));
    });
  });

  test(`${backend}: property: a u32 written anywhere in bounds reads back from every accessor`, () => {
    withMemory(256, (memory) => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 252 }), fc.integer({ min: 0, max: 0xffffffff }), (offset, value) => {
          memory.storeU32(offset, value);
          assert.equal(memory.getU32(offset), value);
          const bytes = memory.read(offset, 4);
          assert.equal(bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | ((bytes[3]! << 24) >>> 0), value | 0);
        }),
        { numRuns: propertyRuns('memory contract: u32 read back through every accessor') },
      );
    });
  });
}
