import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { InfrastructureError, MemoryAccessError } from '../../base/errors.js';
import {
  LINUX_GENERIC,
  bindLinuxGenericEvent,
  bufferCount,
  checkLayout,
  connectLinuxGenericEvent,
  linuxGenericLayout,
  openLinuxGenericShm,
  uniqueLinuxGenericPaths,
} from './linux-generic.js';
import { vringSize } from '../virtio/vring-layout.js';

test('Linux generic machine: the default layout is open-amp\'s', () => {
  const layout = linuxGenericLayout();
  assert.equal(layout.shmPath, '/dev/shm/openamp.shm');
  assert.equal(layout.eventSocketPath, '/tmp/openamp.event.0');
  assert.equal(layout.shmSize, 0x80000);
  assert.equal(layout.resourceTableOffset, 0);
  assert.deepEqual(layout.vdev, { notifyId: 0, dfeatures: 1 });
  assert.deepEqual(layout.vrings, [
    { da: 0x4000, align: 0x1000, num: 256, notifyId: 1 },
    { da: 0x8000, align: 0x1000, num: 256, notifyId: 2 },
  ]);
  assert.deepEqual(layout.bufferPool, { offset: 0x10000, size: 0x40000, bufferSize: 512 });
  assert.equal(bufferCount(layout), 512);
  assert.equal(vringSize(256, 0x1000), 10246);
  checkLayout(layout);
});

test('Linux generic machine: paths are overridable, unique per call, and the layout is a copy', () => {
  const a = uniqueLinuxGenericPaths('t/1');
  const b = uniqueLinuxGenericPaths('t/1');
  assert.notEqual(a.shmPath, b.shmPath);
  assert.notEqual(a.eventSocketPath, b.eventSocketPath);
  assert.match(a.shmPath, /^\/dev\/shm\/openamp-t_1-\d+-\w+\.shm$/);
  const layout = linuxGenericLayout(a);
  assert.equal(layout.shmPath, a.shmPath);
  assert.equal(layout.eventSocketPath, a.eventSocketPath);
  layout.vrings[0].num = 4;
  assert.equal(LINUX_GENERIC.vrings[0].num, 256);
});

test('Linux generic machine: checkLayout rejects overlapping or oversized areas', () => {
  const overlap = linuxGenericLayout();
  overlap.vrings[0].num = 1024; // 0x4000 + ~26 KiB runs into vring 1 at 0x8000
  assert.throws(() => checkLayout(overlap), (e: unknown) => e instanceof InfrastructureError && /vring 0.*overlaps vring 1/.test((e as Error).message));
  const oversized = linuxGenericLayout();
  oversized.bufferPool.size = 0x80000;
  assert.throws(() => checkLayout(oversized), /buffer pool.*does not fit/);
});

test('Linux generic machine: process 0 creates the shm, process 1 opens it, da == pa == offset', () => {
  const paths = uniqueLinuxGenericPaths('shm');
  const p0 = openLinuxGenericShm({ ...paths, mode: 'create', unlinkOnClose: true });
  const p1 = openLinuxGenericShm({ ...paths, mode: 'open' });
  try {
    assert.equal(fs.statSync(paths.shmPath).size, 0x80000);
    assert.equal(p0.memory.name, `file:${paths.shmPath}`);
    const vring1 = p1.addressSpace.resolveDa(0x8000, vringSize(256, 0x1000));
    assert.equal(vring1.offset, 0x8000);
    assert.equal(p1.addressSpace.daToPa(0x10000), 0x10000);
    p0.memory.storeU32(0x10000 + 511 * 512, 0x600d);
    const last = p1.addressSpace.resolvePa(0x10000 + 511 * 512, 512);
    assert.equal(last.memory.loadU32(last.offset), 0x600d);
    assert.throws(() => p1.addressSpace.resolveDa(0x7fffc, 8), MemoryAccessError);
  } finally {
    p1.memory.close();
    p0.memory.close();
  }
  assert.equal(fs.existsSync(paths.shmPath), false);
  assert.throws(() => openLinuxGenericShm({ ...paths, mode: 'open' }), InfrastructureError);
});

test('Linux generic machine: process 0 binds the event socket, process 1 connects, kicks flow both ways', async () => {
  const layout = linuxGenericLayout(uniqueLinuxGenericPaths('event'));
  const listener = await bindLinuxGenericEvent(layout);
  const [p0, p1] = await Promise.all([listener.accept(2000), connectLinuxGenericEvent(layout, 2000)]);
  try {
    const heard = new Promise<void>((resolve) => {
      const stop = p0.listen(() => {
        stop();
        resolve();
      });
    });
    p1.notify(1);
    await heard;
  } finally {
    p1.close();
    p0.close();
  }
  assert.equal(fs.existsSync(layout.eventSocketPath), false);
});
