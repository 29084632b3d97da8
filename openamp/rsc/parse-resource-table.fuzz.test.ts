import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { propertyRuns } from '../testing/fuzz-runs.js';
import { buildResourceTable, buildRpmsgResourceTable } from './build-resource-table.js';
import { parseResourceTable, type ResourceTable } from './parse-resource-table.js';
import { FW_RSC_ADDR_ANY, RSC_MAX_VRINGS, RSC_NAME_SIZE } from './rsc-layout.js';
import { ResourceTableError } from './rsc-error.js';

const seeds: Uint8Array[] = [
  buildRpmsgResourceTable({ num: 256, align: 0x1000, vringDa: [0x4000, 0x8000] }),
  buildRpmsgResourceTable({ num: 8, align: 16, trace: { da: 0x100, len: 64 }, carveouts: [{ da: FW_RSC_ADDR_ANY, len: 0x100, name: 'vdev0buffer' }] }),
  buildResourceTable([
    { kind: 'devmem', da: 0, pa: 0, len: 4, name: 'd' },
    { kind: 'vdev', config: new Uint8Array(6).fill(7), vrings: [{ align: 4, num: 2 }] },
    { kind: 'vendor', type: 129, body: new Uint8Array(12) },
    { kind: 'raw', bytes: new Uint8Array([5, 0, 0, 0]) },
  ]),
];

const SIZES = { carveout: 56, devmem: 56, trace: 48, vendor: 8 } as const;

function parseChecked(bytes: Uint8Array): boolean {
  let table: ResourceTable;
  try {
    table = parseResourceTable(bytes, 'fuzz');
  } catch (error) {
    if (error instanceof ResourceTableError) {
      assert.ok(error.message.startsWith('fuzz: resource table '), error.message);
      assert.ok(error.offset >= 0 && error.offset <= bytes.length, `offset ${error.offset} outside ${bytes.length}`);
      return false;
    }
    throw error;
  }
  for (const entry of table.entries) {
    if (entry.kind === 'vdev') {
      assert.ok(entry.vrings.length <= RSC_MAX_VRINGS);
      assert.ok(entry.configOffset + entry.configLen <= bytes.length);
      assert.equal(entry.config.length, entry.configLen);
      for (const vring of entry.vrings) {
        assert.ok(vring.offset + 20 <= bytes.length);
        assert.ok(vring.num >= 1 && vring.num <= 32768 && (vring.num & (vring.num - 1)) === 0);
      }
    } else {
      assert.ok(entry.offset + SIZES[entry.kind] <= bytes.length);
      if (entry.kind === 'vendor') assert.ok(entry.offset + entry.len <= bytes.length);
      else assert.ok(entry.name.length < RSC_NAME_SIZE);
    }
  }
  return true;
}

function mutate(seed: Uint8Array, mutations: readonly { at: number; value: number; word: boolean }[], cut?: number): Uint8Array {
  const bytes = seed.slice();
  const view = new DataView(bytes.buffer);
  for (const m of mutations) {
    if (m.word) view.setUint32(Math.min((m.at % (bytes.length >> 2)) * 4, bytes.length - 4), m.value >>> 0, true);
    else bytes[m.at % bytes.length] = m.value & 0xff;
  }
  return cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
}

const value = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 1, 2, 3, 4, 127, 128, 512, 513, 16, 20, 88, 0x7fffffff, 0xffffffff, 0x10000));

test('garbage only ever fails with ResourceTableError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => void parseChecked(bytes)), { numRuns: propertyRuns('rsc: garbage input') });
});

test('garbage behind a plausible header only ever fails with ResourceTableError', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 8 }), fc.array(fc.integer({ min: 0, max: 160 }), { maxLength: 8 }), fc.uint8Array({ maxLength: 200 }), (num, offsets, tail) => {
      const head = new Uint8Array(16 + 4 * num);
      const view = new DataView(head.buffer);
      view.setUint32(0, 1, true);
      view.setUint32(4, num, true);
      for (let i = 0; i < num; i++) view.setUint32(16 + 4 * i, offsets[i] ?? 0, true);
      const bytes = new Uint8Array(head.length + tail.length);
      bytes.set(head);
      bytes.set(tail, head.length);
      void parseChecked(bytes);
    }),
    { numRuns: propertyRuns('rsc: garbage behind a plausible header') },
  );
});

test('mutated and truncated valid tables parse in bounds or fail with ResourceTableError', () => {
  const outcomes = { parsed: 0, rejected: 0 };
  const mutation = fc.record({ at: fc.nat(), value, word: fc.boolean() });
  fc.assert(
    fc.property(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.option(fc.nat(), { nil: undefined, freq: 4 }), (seed, mutations, cut) => {
      outcomes[parseChecked(mutate(seed, mutations, cut)) ? 'parsed' : 'rejected']++;
    }),
    { numRuns: propertyRuns('rsc: mutated and truncated tables') },
  );
  if (propertyRuns('rsc: mutated and truncated tables') >= 1000) assert.ok(outcomes.parsed > 0 && outcomes.rejected > 0, JSON.stringify(outcomes));
});
