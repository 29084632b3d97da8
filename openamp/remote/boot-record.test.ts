import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SabMemory } from '../memory/sab-memory.js';
import { AddressSpace } from '../memory/shared-memory.js';
import { BOOT_RECORD_SIZE, BootRecordError, decodeBootRecord, encodeBootRecord, readBootRecord } from './boot-record.js';

const record = { program: 'matrix-multiply' as const, resourceTableDa: 0x10010000, resourceTableSize: 200, bufferSize: 512 };

test('a boot record reads back from memory at the entry point', () => {
  const memory = SabMemory.allocate(0x1000);
  const space = new AddressSpace([{ name: 'ddr', da: 0x10000000, pa: 0x10000000, size: 0x1000, memory, offset: 0 }]);
  memory.write(0x100, encodeBootRecord(record));
  assert.deepEqual(readBootRecord(space, 0x10000100), record);
});

test('bad records are BootRecordErrors naming the fault', () => {
  const good = encodeBootRecord(record);
  const wrongMagic = good.slice();
  wrongMagic[0] = 0;
  assert.throws(() => decodeBootRecord(wrongMagic, 'here'), (e: unknown) => e instanceof BootRecordError && /magic/.test(e.message));
  const unknownProgram = good.slice();
  unknownProgram.set(new TextEncoder().encode('rm -rf\0'), 24);
  assert.throws(() => decodeBootRecord(unknownProgram, 'here'), /unknown program "rm -rf"/);
  const unterminated = good.slice();
  unterminated.fill(0x41, 24, BOOT_RECORD_SIZE);
  assert.throws(() => decodeBootRecord(unterminated, 'here'), /not NUL-terminated/);
  assert.throws(() => decodeBootRecord(good.subarray(0, 20), 'here'), /truncated/);
  const hugeBuffers = good.slice();
  new DataView(hugeBuffers.buffer).setUint32(16, 1 << 20, true);
  assert.throws(() => decodeBootRecord(hugeBuffers, 'here'), /buffer size/);
});
