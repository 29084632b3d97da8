import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryAccessError, ProtocolError } from '../../base/errors.js';
import { SabMemory } from '../memory/sab-memory.js';
import { AddressSpace } from '../memory/shared-memory.js';
import { VIRTIO_STATUS } from '../virtio/transport.js';
import { buildRpmsgResourceTable } from './build-resource-table.js';
import { parseResourceTable } from './parse-resource-table.js';
import { patchVring } from './patch-resource-table.js';
import { ResourceTableError } from './rsc-error.js';
import { readTraceText } from './trace-buffer.js';
import { TransportClosedError, VdevTransport, VringNotAssignedError } from './vdev-transport.js';

const TABLE_OFFSET = 0x40;

function setup() {
  const shm = SabMemory.allocate(0x20000, 'sab:vdev-test');
  const space = new AddressSpace([{ name: 'shm', da: 0x1000_0000, pa: 0x8000_0000, size: shm.size, memory: shm, offset: 0 }]);
  const bytes = buildRpmsgResourceTable({ num: 16, align: 16, trace: { da: 0x1001_0000, len: 64 } });
  shm.write(TABLE_OFFSET, bytes);
  const kicks: number[] = [];
  const common = { table: shm, tableOffset: TABLE_OFFSET, memory: space, notify: (id: number) => kicks.push(id) };
  return { shm, space, bytes, kicks, common, table: parseResourceTable(bytes, 'fw') };
}

test('host writes status and features through the table; the remote side sees them', () => {
  const { shm, common, table } = setup();
  const host = new VdevTransport({ ...common, vdev: table.vdevs[0]! });
  const remote = VdevTransport.fromMemory({ ...common, tableSize: table.size });
  assert.equal(host.deviceFeatures, 1);
  assert.equal(remote.getStatus(), 0);
  host.setStatus(VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER);
  host.setDriverFeatures(1);
  host.setStatus(VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER | VIRTIO_STATUS.DRIVER_OK);
  assert.equal(remote.getStatus(), 0x07);
  assert.equal(remote.getDriverFeatures(), 1);
  // Status and gfeatures are the vdev's fields in the table bytes.
  assert.equal(shm.getU8(TABLE_OFFSET + table.vdevs[0]!.offset + 24), 0x07);
  assert.equal(shm.getU32(TABLE_OFFSET + table.vdevs[0]!.offset + 16), 1);
});

test('vrings are unavailable until the host assigns them, then read live from the table', () => {
  const { shm, common, table } = setup();
  const remote = VdevTransport.fromMemory({ ...common, tableSize: table.size });
  assert.throws(() => remote.vrings, VringNotAssignedError);
  const store = { memory: shm, offset: TABLE_OFFSET };
  patchVring(store, table.vdevs[0]!.vrings[0]!, { da: 0x1000_4000, notifyid: 0 });
  patchVring(store, table.vdevs[0]!.vrings[1]!, { da: 0x1000_8000, notifyid: 1 });
  const vrings = remote.vrings;
  assert.deepEqual(vrings.map((v) => ({ ...v })), [
    { da: 0x1000_4000, num: 16, align: 16, notifyId: 0 },
    { da: 0x1000_8000, num: 16, align: 16, notifyId: 1 },
  ]);
  assert.equal(remote.vrings, vrings, 'unchanged vrings keep their identity');
  patchVring(store, table.vdevs[0]!.vrings[1]!, { da: 0x7000_0000 });
  assert.throws(() => remote.vrings, MemoryAccessError);
});

test('notify goes to the notify function; a closed transport refuses every access', () => {
  const { common, table, kicks } = setup();
  const host = new VdevTransport({ ...common, vdev: table.vdevs[0]! });
  host.notify(1);
  assert.deepEqual(kicks, [1]);
  host.close('remote stopped');
  assert.equal(host.closed, true);
  for (const access of [() => host.notify(1), () => host.getStatus(), () => host.setStatus(4), () => host.vrings, () => host.getDriverFeatures()]) {
    assert.throws(access, (e: unknown) => e instanceof TransportClosedError && e instanceof ProtocolError && /virtio device is gone \(remote stopped\)/.test(e.message));
  }
  assert.deepEqual(kicks, [1]);
});

test('the remote re-validates the table it finds in memory', () => {
  const { shm, common, table } = setup();
  shm.setU32(TABLE_OFFSET + table.vdevs[0]!.vrings[0]!.offset + 8, 3);
  assert.throws(() => VdevTransport.fromMemory({ ...common, tableSize: table.size }), (e: unknown) => e instanceof ResourceTableError && /vring 0 num 3/.test(e.message));
  assert.throws(() => VdevTransport.fromMemory({ ...common, tableSize: table.size, vdevIndex: 4 }), ResourceTableError);
  shm.fill(TABLE_OFFSET, table.size, 0);
  assert.throws(() => VdevTransport.fromMemory({ ...common, tableSize: table.size }), /unsupported version 0/);
});

test('trace text stops at the first NUL and never reads past len or the limit', () => {
  const { shm, space, table } = setup();
  const trace = table.traces[0]!;
  assert.equal(readTraceText(space, trace), '');
  shm.write(0x10000, new TextEncoder().encode('boot ok\nhello\0garbage'));
  assert.equal(readTraceText(space, trace), 'boot ok\nhello');
  shm.fill(0x10000, 0x100, 0x41);
  assert.equal(readTraceText(space, trace), 'A'.repeat(64));
  assert.equal(readTraceText(space, trace, 10), 'A'.repeat(10));
  assert.equal(readTraceText(space, { da: trace.da, len: 0 }), '');
  assert.throws(() => readTraceText(space, { da: 0x2000_0000, len: 16 }), MemoryAccessError);
});
