import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SabMemory } from '../../openamp/memory/sab-memory.js';
import { AddressSpace } from '../../openamp/memory/shared-memory.js';
import { CRASH_MAGIC, CRASH_RECORD_SIZE, CrashRecordReader, EXIT_MAGIC, RemoteWatch } from './crash-record.js';

const TRACE = { da: 0x1000, len: 0x1000 };
const RECORD = TRACE.da + TRACE.len - CRASH_RECORD_SIZE;

function memory(): { shm: SabMemory; space: AddressSpace } {
  const shm = SabMemory.allocate(0x4000, 'test');
  return { shm, space: new AddressSpace([{ name: 'ram', da: 0, pa: 0, size: 0x4000, memory: shm, offset: 0 }]) };
}

function watch(space: AddressSpace): Promise<{ crash?: string; exit?: number }> {
  // The watch's timer is unref'd (it must not keep a farm alive): hold the loop open meanwhile.
  const keepAlive = setTimeout(() => {}, 5000);
  return new Promise<{ crash?: string; exit?: number }>((resolve) => {
    new RemoteWatch({
      reader: new CrashRecordReader(space, TRACE),
      stallMs: 200,
      intervalMs: 5,
      onCrash: (crash) => resolve({ crash }),
      onExit: (exit) => resolve({ exit }),
    });
  }).finally(() => clearTimeout(keepAlive));
}

test('an exit record (program ended on purpose) stops the watch without a crash, though the heartbeat stops', async () => {
  const { shm, space } = memory();
  shm.setU32(RECORD + 8, 3); // cause = exit code
  shm.setU32(RECORD, EXIT_MAGIC);
  const reader = new CrashRecordReader(space, TRACE);
  assert.equal(reader.read(), undefined);
  assert.equal(reader.exitCode(), 3);
  assert.deepEqual(await watch(space), { exit: 3 });
});

test('a crash record is a crash; a stopped heartbeat without any record is a stall', async () => {
  const crashed = memory();
  crashed.shm.setU32(RECORD + 8, 0xb);
  crashed.shm.setU32(RECORD, CRASH_MAGIC);
  assert.match((await watch(crashed.space)).crash ?? '', /crash record: cause 0x0000000b/);
  const stalled = memory();
  assert.match((await watch(stalled.space)).crash ?? '', /stalled: no progress/);
});
