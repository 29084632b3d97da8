import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FirmwareError } from '../../base/errors.js';
import { buildResourceTable, buildRpmsgResourceTable } from './build-resource-table.js';
import { parseResourceTable, type VendorEntry } from './parse-resource-table.js';
import { patchCarveout, patchVdevNotifyId, patchVring } from './patch-resource-table.js';
import { FW_RSC_ADDR_ANY } from './rsc-layout.js';
import { ResourceTableError } from './rsc-error.js';
import { SabMemory } from '../memory/sab-memory.js';

function words(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v >>> 0, true));
  return out;
}

function u32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(at, true);
}

function setU32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(at, value >>> 0, true);
  return copy;
}

function rejects(bytes: Uint8Array, pattern: RegExp, entryIndex?: number, offset?: number): void {
  assert.throws(
    () => parseResourceTable(bytes, 'fw.elf'),
    (error: unknown) => {
      assert.ok(error instanceof ResourceTableError, `expected ResourceTableError, got ${String(error)}`);
      assert.ok(error instanceof FirmwareError);
      assert.match(error.message, pattern);
      assert.equal(error.entryIndex, entryIndex);
      if (offset !== undefined) assert.equal(error.offset, offset);
      return true;
    },
  );
}

// open-amp apps/machine/linux/rsc_table.c: one vdev (notifyid 0, dfeatures 1), two vrings at
// 0x4000 and 0x8000, align 0x1000, 256 entries, notify ids 1 and 2.
const LINUX_GENERIC_TABLE = words(
  1, 1, 0, 0, // ver, num, reserved[2]
  20, // offset[0]: the vdev right after the one-entry offset array
  3, 7, 0, 1, 0, 0, // RSC_VDEV, VIRTIO_ID_RPMSG, notifyid, dfeatures (NS), gfeatures, config_len
  0x00000200, // status 0, num_of_vrings 2, reserved[2] 0
  0x4000, 0x1000, 256, 1, 0,
  0x8000, 0x1000, 256, 2, 0,
);

test('golden: the Linux generic machine table is built byte for byte', () => {
  const built = buildRpmsgResourceTable({ num: 256, align: 0x1000, vringDa: [0x4000, 0x8000], vringNotifyIds: [1, 2], vdevNotifyId: 0 });
  assert.equal(built.length, 88);
  assert.deepEqual(built, LINUX_GENERIC_TABLE);
});

test('golden: the Linux generic machine table parses to its documented values', () => {
  const table = parseResourceTable(LINUX_GENERIC_TABLE, 'linux-generic');
  assert.equal(table.version, 1);
  assert.equal(table.size, 88);
  assert.deepEqual(table.warnings, []);
  assert.equal(table.entries.length, 1);
  const vdev = table.vdevs[0]!;
  assert.equal(vdev.offset, 20);
  assert.equal(vdev.id, 7);
  assert.equal(vdev.notifyid, 0);
  assert.equal(vdev.dfeatures, 1);
  assert.equal(vdev.status, 0);
  assert.equal(vdev.configLen, 0);
  assert.equal(vdev.configOffset, 88);
  assert.deepEqual(
    vdev.vrings.map((v) => [v.offset, v.da, v.align, v.num, v.notifyid, v.pa]),
    [
      [48, 0x4000, 0x1000, 256, 1, 0],
      [68, 0x8000, 0x1000, 256, 2, 0],
    ],
  );
  assert.equal(FW_RSC_ADDR_ANY, 0xffffffff);
});

test('carveouts, devmem, trace, vdev with config and vendor entries round-trip', () => {
  const bytes = buildResourceTable([
    { kind: 'carveout', da: FW_RSC_ADDR_ANY, len: 0x10000, name: 'vdev0buffer' },
    { kind: 'devmem', da: 0x4000_0000, pa: 0x4000_0000, len: 0x1000, flags: 3, name: 'uart' },
    { kind: 'vdev', notifyid: FW_RSC_ADDR_ANY, config: new Uint8Array([1, 2, 3]), vrings: [{ align: 16, num: 8 }] },
    { kind: 'trace', da: 0x20000, len: 0x400, name: 'trace0' },
    { kind: 'vendor', type: 200, body: new Uint8Array([9, 9]) },
  ]);
  const table = parseResourceTable(bytes, 'fw.elf');
  assert.deepEqual(table.entries.map((e) => e.kind), ['carveout', 'devmem', 'vdev', 'trace', 'vendor']);
  const carveout = table.carveouts[0]!;
  assert.equal(carveout.da, FW_RSC_ADDR_ANY);
  assert.equal(carveout.pa, FW_RSC_ADDR_ANY);
  assert.equal(carveout.len, 0x10000);
  assert.equal(carveout.name, 'vdev0buffer');
  assert.equal(table.devmems[0]!.flags, 3);
  const vdev = table.vdevs[0]!;
  assert.deepEqual([...vdev.config], [1, 2, 3]);
  assert.equal(vdev.vrings[0]!.da, FW_RSC_ADDR_ANY);
  assert.equal(table.traces[0]!.name, 'trace0');
  assert.equal(table.traces[0]!.len, 0x400);
  // The entry after an odd-sized vdev starts 4-aligned.
  assert.equal(table.traces[0]!.offset % 4, 0);
  const vendor = table.vendors[0]!;
  assert.equal(vendor.type, 200);
  assert.equal(vendor.len, 10);
  assert.deepEqual([...vendor.body], [9, 9]);
  assert.equal(table.warnings.length, 1);
  assert.match(table.warnings[0]!, /entry 4 at offset 0x[0-9a-f]+: unsupported vendor resource type 200, skipped/);
});

test('the vendor handler sees vendor entries; handled entries raise no warning; failures are typed', () => {
  const bytes = buildResourceTable([{ kind: 'vendor', type: 128, body: new Uint8Array(4) }]);
  const seen: VendorEntry[] = [];
  const table = parseResourceTable(bytes, 'fw.elf', { vendorHandler: (entry) => (seen.push(entry), true) });
  assert.equal(seen.length, 1);
  assert.deepEqual(table.warnings, []);
  assert.throws(
    () => parseResourceTable(bytes, 'fw.elf', { vendorHandler: () => { throw new Error('boom'); } }),
    (e: unknown) => e instanceof ResourceTableError && /entry 0 at offset 0x14: vendor handler for type 128 failed: Error: boom/.test(e.message),
  );
});

test('unknown types 4..127 and types above 512 are skipped with a warning', () => {
  const bytes = buildResourceTable([
    { kind: 'raw', bytes: words(4, 0, 0) },
    { kind: 'raw', bytes: words(127) },
    { kind: 'raw', bytes: words(513) },
    { kind: 'trace', da: 0, len: 0, name: 't' },
  ]);
  const table = parseResourceTable(bytes, 'fw.elf');
  assert.deepEqual(table.entries.map((e) => e.kind), ['trace']);
  assert.equal(table.warnings.length, 3);
  assert.match(table.warnings[0]!, /entry 0 at offset 0x20: unknown resource type 4, skipped/);
  assert.match(table.warnings[2]!, /entry 2 .*out-of-range resource type 513/);
});

test('header checks: truncated, version, reserved, offset array', () => {
  rejects(new Uint8Array(12), /fw\.elf: resource table header at offset 0x0: truncated: 12 bytes/);
  rejects(setU32(LINUX_GENERIC_TABLE, 0, 2), /unsupported version 2/, undefined, 0);
  rejects(setU32(LINUX_GENERIC_TABLE, 12, 1), /reserved words must be zero/, undefined, 8);
  rejects(setU32(LINUX_GENERIC_TABLE, 4, 1000), /offset array of 1000 entries .* does not fit the 88-byte section/, undefined, 4);
  rejects(setU32(LINUX_GENERIC_TABLE, 16, 86), /resource table entry 0 at offset 0x10: entry offset 0x56 is outside the 88-byte table/, 0, 16);
  rejects(setU32(LINUX_GENERIC_TABLE, 16, 0xfffffffe), /entry offset 0xfffffffe is outside/, 0);
});

test('entry checks name the entry index and the offset of the faulty field', () => {
  const carveout = buildResourceTable([{ kind: 'carveout', da: 0, len: 4, name: 'c' }]);
  rejects(carveout.subarray(0, carveout.length - 1), /entry 0 at offset 0x14: carveout entry needs 56 bytes but only 55 remain/, 0, 20);
  rejects(setU32(carveout, 20 + 20, 5), /entry 0 at offset 0x28: carveout has non-zero reserved field 0x5/, 0, 40);
  const unterminated = carveout.slice();
  unterminated.fill(0x41, 20 + 24, 20 + 56);
  rejects(unterminated, /entry 0 at offset 0x2c: carveout name is not NUL-terminated within 32 bytes/, 0, 44);

  const trace = buildResourceTable([{ kind: 'trace', da: 0, len: 4, name: 't' }]);
  rejects(setU32(trace, 20 + 12, 1), /trace has non-zero reserved field/, 0, 32);

  const two = buildRpmsgResourceTable();
  rejects(setU32(two, 20 + 24, 0x00000300), /entry 0 at offset 0x2d: vdev has 3 vrings, at most 2 are supported/, 0, 45);
  rejects(setU32(two, 20 + 24, 0x00010200), /vdev has non-zero reserved bytes/, 0, 46);
  rejects(setU32(two, 20 + 20, 1), /vdev entry with 2 vring\(s\) and 1 config byte\(s\) needs 69 bytes but only 68 remain/, 0, 20);
  rejects(setU32(two, 48 + 8, 0), /entry 0 at offset 0x38: vring 0 num 0 is not a power of two between 1 and 32768/, 0, 56);
  rejects(setU32(two, 68 + 8, 96), /vring 1 num 96 is not a power of two/, 0, 76);
  rejects(setU32(two, 68 + 8, 65536), /vring 1 num 65536/, 0);
  rejects(setU32(two, 48 + 4, 0), /vring 0 align 0x0 is not a power of two/, 0, 52);
  rejects(setU32(two, 48 + 4, 0x1800), /vring 0 align 0x1800 is not a power of two/, 0);

  const vendor = buildResourceTable([{ kind: 'vendor', type: 300 }]);
  rejects(setU32(vendor, 24, 9), /vendor entry length 9 runs past the 28-byte table/, 0, 24);
});

test('a vdev with one vring and num 32768 is accepted', () => {
  const table = parseResourceTable(buildResourceTable([{ kind: 'vdev', vrings: [{ align: 4, num: 32768 }] }]), 'fw.elf');
  assert.equal(table.vdevs[0]!.vrings[0]!.num, 32768);
});

test('patch functions write assigned addresses into a byte copy', () => {
  const bytes = buildResourceTable([
    { kind: 'carveout', da: FW_RSC_ADDR_ANY, len: 0x1000, name: 'c' },
    { kind: 'vdev', notifyid: FW_RSC_ADDR_ANY, vrings: [{ align: 16, num: 4 }, { align: 16, num: 4 }] },
  ]);
  const before = parseResourceTable(bytes, 'fw.elf');
  patchCarveout(bytes, before.carveouts[0]!, { da: 0x1000, pa: 0x8000_1000, len: 0x2000 });
  patchVring(bytes, before.vdevs[0]!.vrings[1]!, { da: 0x3000, pa: 0x8000_3000, notifyid: 7 });
  patchVdevNotifyId(bytes, before.vdevs[0]!, 9);
  const after = parseResourceTable(bytes, 'fw.elf');
  assert.deepEqual([after.carveouts[0]!.da, after.carveouts[0]!.pa, after.carveouts[0]!.len], [0x1000, 0x8000_1000, 0x2000]);
  assert.deepEqual([after.vdevs[0]!.vrings[1]!.da, after.vdevs[0]!.vrings[1]!.pa, after.vdevs[0]!.vrings[1]!.notifyid], [0x3000, 0x8000_3000, 7]);
  assert.equal(after.vdevs[0]!.vrings[0]!.da, FW_RSC_ADDR_ANY);
  assert.equal(after.vdevs[0]!.notifyid, 9);
  assert.throws(() => patchCarveout(bytes.subarray(0, 30), before.carveouts[0]!, { len: 1 }), ResourceTableError);
});

test('patch functions write into a table living in shared memory', () => {
  const memory = SabMemory.allocate(4096, 'sab:test');
  memory.write(0x100, LINUX_GENERIC_TABLE);
  const table = parseResourceTable(LINUX_GENERIC_TABLE, 'fw');
  patchVring({ memory, offset: 0x100 }, table.vdevs[0]!.vrings[0]!, { da: 0x5000, notifyid: 0 });
  assert.equal(memory.getU32(0x100 + 48), 0x5000);
  assert.equal(memory.getU32(0x100 + 48 + 12), 0);
  assert.equal(u32(memory.read(0x100, 88), 68), 0x8000);
});
