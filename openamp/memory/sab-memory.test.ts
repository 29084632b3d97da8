import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { MemoryAccessError } from '../../base/errors.js';
import { SabMemory } from './sab-memory.js';
import { describeSharedMemoryContract } from './shared-memory-contract.test-helper.js';

describeSharedMemoryContract('SabMemory', (size) => ({ memory: SabMemory.allocate(size, 'sab:contract'), cleanup: () => {} }));

test('SabMemory names itself and reports its size', () => {
  const memory = SabMemory.allocate(64);
  assert.equal(memory.name, 'sab:64');
  assert.equal(memory.size, 64);
  assert.equal(SabMemory.allocate(8, 'sab:sim-ddr').name, 'sab:sim-ddr');
});

test('SabMemory ordered stores are seen by another thread through the same buffer', async () => {
  const memory = SabMemory.allocate(64);
  memory.write(8, new Uint8Array([1, 2, 3, 4]));
  memory.storeU32(0, 1);
  // The worker waits for the flag, checks the payload published before it, and answers at an odd offset.
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const words = new Int32Array(workerData, 0, 16);
     const bytes = new Uint8Array(workerData);
     if (Atomics.load(words, 0) === 1 && bytes[8] === 1 && bytes[11] === 4) {
       new DataView(workerData).setUint16(5, 0xbeef, true);
       Atomics.store(words, 0, 2);
     }`,
    { eval: true, workerData: memory.buffer },
  );
  const code = await new Promise<number>((resolve, reject) => {
    worker.once('exit', resolve);
    worker.once('error', reject);
  });
  assert.equal(code, 0);
  assert.equal(memory.loadU32(0), 2);
  assert.equal(memory.loadU16(5), 0xbeef);
});

test('SabMemory rejects accesses outside the buffer', () => {
  const memory = SabMemory.allocate(10);
  assert.throws(() => memory.loadU32(8), MemoryAccessError);
  assert.throws(() => memory.storeU16(9, 1), MemoryAccessError);
});
