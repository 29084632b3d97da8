import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FirmwareError, InfrastructureError } from '../../base/errors.js';
import { buildElf } from '../elf/build-elf.js';
import { assertMachine } from '../elf/check-machine.js';
import { EM_ARM, EM_RISCV, PF_R, PF_W, PF_X } from '../elf/elf-constants.js';
import { ElfMachineMismatchError } from '../elf/elf-error.js';
import { SabMemory } from '../memory/sab-memory.js';
import { AddressSpace } from '../memory/shared-memory.js';
import { buildRpmsgResourceTable, type RpmsgTableOptions } from '../rsc/build-resource-table.js';
import { parseResourceTable } from '../rsc/parse-resource-table.js';
import { FW_RSC_ADDR_ANY } from '../rsc/rsc-layout.js';
import { ResourceTableError } from '../rsc/rsc-error.js';
import { TransportClosedError } from '../rsc/vdev-transport.js';
import { VIRTIO_STATUS } from '../virtio/transport.js';
import { vringSize } from '../virtio/vring-layout.js';
import { CarveoutAllocator } from './carveout-allocator.js';
import { Remoteproc, type RemoteprocState } from './remoteproc.js';
import type { RemoteprocOps, ResourceTableLocation } from './remoteproc-ops.js';
import { FirmwareLoadError, RemoteprocStateError } from './remoteproc-errors.js';

const DDR_DA = 0x1000_0000;
const POOL_DA = 0x2000_0000;
const TABLE_DA = DDR_DA + 0x8040;
const TRACE_DA = DDR_DA + 0xc000;

/** A fake target: 512 KiB of "DDR" for the image and a 512 KiB pool for host allocations. */
function fakeTarget(overrides: Partial<RemoteprocOps> = {}) {
  const shm = SabMemory.allocate(0x100000, 'sab:fake-soc');
  const memory = new AddressSpace([
    { name: 'ddr', da: DDR_DA, pa: 0x8000_0000, size: 0x80000, memory: shm, offset: 0 },
    { name: 'pool', da: POOL_DA, pa: 0x9000_0000, size: 0x80000, memory: shm, offset: 0x80000 },
  ]);
  const pool = new CarveoutAllocator({ name: 'pool', da: POOL_DA, pa: 0x9000_0000, size: 0x80000 });
  const calls: string[] = [];
  const kicks: number[] = [];
  const ops: RemoteprocOps = {
    memory,
    allocate: (size, align, purpose) => {
      calls.push(`allocate ${purpose}`);
      return pool.allocate(size, align, purpose);
    },
    free: (allocation) => pool.free(allocation),
    start: async (entry) => {
      calls.push(`start ${entry.toString(16)}`);
    },
    stop: async () => {
      calls.push('stop');
    },
    kick: (id) => kicks.push(id),
    ...overrides,
  };
  return { shm, memory, pool, calls, kicks, ops };
}

function firmware(options: { table?: RpmsgTableOptions | Uint8Array | null; machine?: number; textDa?: number } = {}): Uint8Array {
  const tableOption = options.table === undefined ? {} : options.table;
  const table =
    tableOption === null
      ? undefined
      : tableOption instanceof Uint8Array
        ? tableOption
        : buildRpmsgResourceTable({
            num: 16,
            align: 16,
            trace: { da: TRACE_DA, len: 256 },
            carveouts: [{ da: FW_RSC_ADDR_ANY, len: 0x4000, name: 'vdev0buffer' }],
            ...tableOption,
          });
  const data = new Uint8Array(0x100).fill(0x5a);
  return buildElf({
    machine: options.machine ?? EM_ARM,
    entry: DDR_DA + 0x101,
    segments: [
      { paddr: options.textDa ?? DDR_DA, data: new Uint8Array(0x200).map((_, i) => i & 0xff), flags: PF_R | PF_X },
      { paddr: DDR_DA + 0x8000, data, memsz: 0x2000, flags: PF_R | PF_W },
    ],
    sections: table ? [{ name: '.resource_table', addr: TABLE_DA, data: table }] : [],
  });
}

test('boot copies segments, zero-fills bss, allocates ANY resources, writes the table back and starts', async () => {
  const { shm, pool, calls, ops } = fakeTarget();
  shm.fill(0, shm.size, 0xee); // stale contents everywhere
  const rproc = new Remoteproc(ops, { name: 'fake' });
  const vdevs = await rproc.boot(firmware(), 'fw.elf');
  assert.equal(rproc.state, 'running');
  assert.deepEqual(calls, ['allocate carveout vdev0buffer', 'allocate vdev0vring0', 'allocate vdev0vring1', `start ${(DDR_DA + 0x101).toString(16)}`]);

  // Segments: file bytes copied to paddr, memsz - filesz zero-filled, nothing beyond touched.
  assert.deepEqual([...shm.read(0, 4)], [0, 1, 2, 3]);
  assert.equal(shm.getU8(0x8000 + 0x3f), 0x5a);
  assert.ok(shm.read(0x8100, 0x1f00).every((b) => b === 0), 'bss is zeroed');
  assert.equal(shm.getU8(0xa000), 0xee);

  // The loaded table carries what the host assigned.
  const loaded = parseResourceTable(shm.read(0x8040, rproc.resourceTable!.table.size), 'loaded');
  const carveout = loaded.carveouts[0]!;
  assert.equal(carveout.da, POOL_DA);
  assert.equal(carveout.pa, 0x9000_0000);
  const [ring0, ring1] = loaded.vdevs[0]!.vrings;
  assert.equal(ring0!.da, POOL_DA + 0x4000);
  assert.equal(ring0!.pa, 0x9000_4000);
  assert.ok(ring1!.da >= ring0!.da + vringSize(16, 16), 'vrings do not overlap');
  assert.deepEqual([ring0!.notifyid, ring1!.notifyid], [0, 1], 'Linux-style notify ids');
  assert.equal(pool.used, 0x4000 + 2 * vringSize(16, 16));
  // Vring memory starts zeroed; the rest of the pool is untouched.
  assert.ok(shm.read(0x80000 + 0x4000, vringSize(16, 16)).every((b) => b === 0));
  assert.equal(shm.getU8(0x80000), 0xee);

  // One vdev, with a transport over the loaded table and the buffer carveout named.
  assert.equal(vdevs.length, 1);
  const { transport, bufferCarveout, entry } = vdevs[0]!;
  assert.deepEqual(bufferCarveout, { da: POOL_DA, pa: 0x9000_0000, len: 0x4000 });
  assert.equal(entry.id, 7);
  assert.equal(transport.getStatus(), 0);
  assert.deepEqual(transport.vrings.map((v) => v.da), [ring0!.da, ring1!.da]);
  transport.setStatus(VIRTIO_STATUS.DRIVER_OK);
  assert.equal(loaded.vdevs[0]!.offset, entry.offset);
  assert.equal(shm.getU8(0x8040 + entry.offset + 24), VIRTIO_STATUS.DRIVER_OK);
});

test('fixed vring addresses are kept (and must translate); notify ids are still assigned', async () => {
  const { ops, pool } = fakeTarget();
  const rproc = new Remoteproc(ops);
  const [vdev] = await rproc.boot(firmware({ table: { vringDa: [DDR_DA + 0x10000, DDR_DA + 0x11000], vringNotifyIds: [5, 9], carveouts: [] } }), 'fw.elf');
  assert.equal(pool.used, 0);
  assert.deepEqual(vdev!.transport.vrings.map((v) => [v.da, v.notifyId]), [
    [DDR_DA + 0x10000, 0],
    [DDR_DA + 0x11000, 1],
  ]);

  const bad = new Remoteproc(fakeTarget().ops);
  await assert.rejects(bad.boot(firmware({ table: { vringDa: [0x7000_0000, DDR_DA], carveouts: [] } }), 'fw.elf'), (e: unknown) =>
    e instanceof FirmwareLoadError && /fw\.elf: vdev0vring0 at 0x70000000\+0x[0-9a-f]+ is not in device memory/.test(e.message),
  );
});

test('a segment outside device memory fails with FirmwareError before anything is written or started', async () => {
  const { shm, calls, ops, pool } = fakeTarget();
  const rproc = new Remoteproc(ops, { name: 'fake' });
  await assert.rejects(rproc.boot(firmware({ textDa: 0x3000_0000 }), 'fw.elf'), (e: unknown) => {
    assert.ok(e instanceof FirmwareLoadError && e instanceof FirmwareError);
    assert.match(e.message, /^fw\.elf: program header 0 \(PT_LOAD\) needs device memory 0x30000000\+0x200, which fake does not map \(ddr 0x10000000\+0x80000, pool 0x20000000\+0x80000\)$/);
    return true;
  });
  assert.deepEqual(calls, []);
  assert.equal(pool.used, 0);
  assert.ok(shm.read(0, 0x10000).every((b) => b === 0), 'nothing was loaded');
  assert.equal(rproc.state, 'offline');
});

test('a wrong machine is refused by checkImage before loading', async () => {
  const { calls, ops } = fakeTarget({ checkImage: (image) => assertMachine(image, EM_RISCV) });
  const rproc = new Remoteproc(ops);
  await assert.rejects(rproc.boot(firmware(), 'arm.elf'), (e: unknown) => e instanceof ElfMachineMismatchError && /arm\.elf: built for EM_ARM \(40\), but this core runs EM_RISCV/.test(e.message));
  assert.deepEqual(calls, []);
  // A plain Error from a target's check is still reported as a firmware fault.
  const plain = new Remoteproc(fakeTarget({ checkImage: () => { throw new Error('wrong core'); } }).ops, { name: 'p' });
  await assert.rejects(plain.boot(firmware(), 'x.elf'), (e: unknown) => e instanceof FirmwareLoadError && /x\.elf: rejected by p: wrong core/.test(e.message));
});

test('firmware without a resource table: refused by default, started without vdevs when allowed', async () => {
  const strict = new Remoteproc(fakeTarget().ops);
  await assert.rejects(strict.boot(firmware({ table: null }), 'bare.elf'), (e: unknown) =>
    e instanceof FirmwareLoadError && /bare\.elf: no \.resource_table section: an RPMsg firmware needs a resource table/.test(e.message),
  );
  assert.equal(strict.state, 'offline');
  const { ops, calls } = fakeTarget();
  const lenient = new Remoteproc(ops, { requireResourceTable: false });
  assert.deepEqual(await lenient.boot(firmware({ table: null }), 'bare.elf'), []);
  assert.equal(lenient.state, 'running');
  assert.equal(calls.length, 1);
  assert.equal(lenient.readTrace(), '');
});

test('an invalid table fails typed and leaves no allocation behind', async () => {
  const { ops, pool, calls } = fakeTarget();
  const table = buildRpmsgResourceTable({ num: 16, align: 16 });
  new DataView(table.buffer).setUint32(0, 2, true);
  await assert.rejects(new Remoteproc(ops).boot(firmware({ table }), 'fw.elf'), (e: unknown) => e instanceof ResourceTableError && /unsupported version 2/.test(e.message));
  assert.equal(pool.used, 0);
  assert.deepEqual(calls, []);
  // A trace buffer outside memory is a load error too, and releases what was allocated.
  await assert.rejects(new Remoteproc(ops).boot(firmware({ table: { trace: { da: 0x6000_0000, len: 16 } } }), 'fw.elf'), (e: unknown) =>
    e instanceof FirmwareLoadError && /trace "trace0" \(entry 2\) at 0x60000000\+0x10 is not in device memory/.test(e.message),
  );
  assert.equal(pool.used, 0);
});

test('stop resets and closes the vdevs, frees allocations; start reloads the image with fresh transports', async () => {
  const { shm, ops, pool, calls, kicks } = fakeTarget();
  const rproc = new Remoteproc(ops);
  const states: RemoteprocState[] = [];
  rproc.onStateChange((state) => states.push(state));
  const [first] = await rproc.boot(firmware(), 'fw.elf');
  first!.transport.setStatus(0x07);
  first!.transport.notify(1);
  assert.deepEqual(kicks, [1]);
  shm.fill(0, 0x200, 0xcc); // the remote scribbled over its own image

  await rproc.stop();
  assert.equal(rproc.state, 'offline');
  assert.equal(calls.at(-1), 'stop');
  assert.equal(pool.used, 0);
  assert.equal(shm.getU8(0x8040 + first!.entry.offset + 24), 0, 'status reset to 0 on stop');
  assert.throws(() => first!.transport.notify(1), TransportClosedError);
  assert.deepEqual(rproc.vdevs, []);
  await rproc.stop(); // idempotent

  const [second] = await rproc.start();
  assert.equal(rproc.state, 'running');
  assert.notEqual(second!.transport, first!.transport);
  assert.deepEqual([...shm.read(0, 4)], [0, 1, 2, 3], 'image reloaded');
  assert.equal(second!.transport.getStatus(), 0);
  assert.throws(() => first!.transport.getStatus(), TransportClosedError, 'stale transport stays dead');
  assert.deepEqual(states, ['running', 'offline', 'running']);
});

test('a crash report moves running -> crashed, closes transports, tells listeners; trace stays readable', async () => {
  const { shm, ops } = fakeTarget();
  const rproc = new Remoteproc(ops);
  const [vdev] = await rproc.boot(firmware(), 'fw.elf');
  shm.write(TRACE_DA - DDR_DA, new TextEncoder().encode('booted\nabout to fault\0junk'));
  const reasons: string[] = [];
  rproc.onCrash((reason) => reasons.push(reason));
  rproc.reportCrash('hard fault at 0x10000042');
  assert.equal(rproc.state, 'crashed');
  assert.equal(rproc.crashReason, 'hard fault at 0x10000042');
  assert.deepEqual(reasons, ['hard fault at 0x10000042']);
  assert.throws(() => vdev!.transport.getStatus(), (e: unknown) => e instanceof TransportClosedError && /remote crashed: hard fault/.test(e.message));
  assert.equal(rproc.readTrace(), 'booted\nabout to fault');
  assert.deepEqual(rproc.readTraces(), [{ name: 'trace0', text: 'booted\nabout to fault' }]);
  await assert.rejects(rproc.start(), RemoteprocStateError);
  await rproc.stop();
  assert.equal(rproc.state, 'offline');
  rproc.reportCrash('late exit report'); // ignored once stopped
  assert.equal(rproc.state, 'offline');
  await rproc.start();
  assert.equal(rproc.state, 'running');
  assert.equal(rproc.crashReason, undefined);
});

test('a crash reported while the core is starting is applied once start completes', async () => {
  let rproc: Remoteproc | undefined;
  const { ops } = fakeTarget({
    start: async () => {
      rproc!.reportCrash('died at reset vector');
    },
  });
  rproc = new Remoteproc(ops);
  await rproc.boot(firmware(), 'fw.elf');
  assert.equal(rproc.state, 'crashed');
  assert.equal(rproc.crashReason, 'died at reset vector');
});

test('wrong-state calls and target failures are typed', async () => {
  const { ops } = fakeTarget();
  const rproc = new Remoteproc(ops);
  await assert.rejects(rproc.start(), (e: unknown) => e instanceof RemoteprocStateError && e.failureClass === 'infrastructure' && /start without firmware/.test(e.message));
  await rproc.boot(firmware(), 'fw.elf');
  await assert.rejects(rproc.start(), /cannot start while running/);
  await assert.rejects(rproc.load(firmware(), 'fw.elf'), /cannot load while running/);
  await assert.rejects(rproc.attach(), RemoteprocStateError);

  const { ops: failing, pool } = fakeTarget({ start: async () => { throw new Error('qemu exited with status 1'); } });
  const broken = new Remoteproc(failing, { name: 'q' });
  await assert.rejects(broken.boot(firmware(), 'fw.elf'), (e: unknown) => e instanceof InfrastructureError && /q: start failed: qemu exited with status 1/.test(e.message));
  assert.equal(broken.state, 'offline');
  assert.equal(pool.used, 0);
});

test('the pool running dry is a firmware fault naming the resource', async () => {
  const { ops } = fakeTarget();
  await assert.rejects(new Remoteproc(ops).boot(firmware({ table: { carveouts: [{ da: FW_RSC_ADDR_ANY, len: 0x100000, name: 'huge' }] } }), 'fw.elf'), (e: unknown) =>
    e instanceof FirmwareError && /no room for 1048576 bytes .* for carveout huge/.test(e.message),
  );
});

test('attach takes over a running core from its table in memory; detach resets the vdev', async () => {
  const location: ResourceTableLocation = { da: DDR_DA + 0x20000, size: 0 };
  const table = buildRpmsgResourceTable({ num: 16, align: 16, vringDa: [DDR_DA + 0x30000, FW_RSC_ADDR_ANY] });
  const calls: string[] = [];
  const target = fakeTarget({
    attach: async () => (calls.push('attach'), { ...location, size: table.length }),
    detach: async () => void calls.push('detach'),
  });
  target.shm.write(0x20000, table);
  target.shm.fill(0x30000, 0x100, 0x77); // rings in use by the running remote are not wiped on attach
  const rproc = new Remoteproc(target.ops);
  const [vdev] = await rproc.attach();
  assert.equal(rproc.state, 'attached');
  assert.deepEqual(calls, ['attach']);
  assert.equal(vdev!.transport.vrings[0]!.da, DDR_DA + 0x30000);
  assert.equal(vdev!.transport.vrings[1]!.da, POOL_DA);
  assert.equal(target.shm.getU8(0x30000), 0x77);
  vdev!.transport.setStatus(0x07);
  await rproc.detach();
  assert.equal(rproc.state, 'detached');
  assert.equal(target.shm.getU8(0x20000 + vdev!.entry.offset + 24), 0);
  assert.throws(() => vdev!.transport.getStatus(), TransportClosedError);
  await rproc.stop();
  assert.equal(rproc.state, 'offline');
  assert.equal(target.calls.at(-1), 'stop');

  await assert.rejects(new Remoteproc(fakeTarget().ops).attach(), /cannot attach to a running core/);
});

test('attach keeps the notify ids the running core set and gives ANY ones a free id', async () => {
  const location: ResourceTableLocation = { da: DDR_DA + 0x20000, size: 0 };
  // open-amp's Linux generic machine: vring notify ids 1 and 2, vdev notify id 0.
  const table = buildRpmsgResourceTable({ num: 16, align: 16, vringDa: [DDR_DA + 0x30000, DDR_DA + 0x31000], vringNotifyIds: [1, 2] });
  const target = fakeTarget({ attach: async () => ({ ...location, size: table.length }), detach: async () => {} });
  target.shm.write(0x20000, table);
  const [vdev] = await new Remoteproc(target.ops).attach();
  assert.deepEqual(vdev!.transport.vrings.map((v) => v.notifyId), [1, 2]);
  const written = parseResourceTable(target.shm.read(0x20000, table.length), 'written');
  assert.deepEqual(written.vdevs[0]!.vrings.map((v) => v.notifyid), [1, 2]);

  const mixed = buildRpmsgResourceTable({ num: 16, align: 16, vringDa: [DDR_DA + 0x30000, DDR_DA + 0x31000], vringNotifyIds: [0xffffffff, 0] });
  const other = fakeTarget({ attach: async () => ({ ...location, size: mixed.length }), detach: async () => {} });
  other.shm.write(0x20000, mixed);
  const [mixedVdev] = await new Remoteproc(other.ops).attach();
  assert.deepEqual(mixedVdev!.transport.vrings.map((v) => v.notifyId), [1, 0], 'the ANY vring skips the id the core already uses');
});
