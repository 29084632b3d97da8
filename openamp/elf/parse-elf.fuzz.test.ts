import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { propertyRuns } from '../testing/fuzz-runs.js';
import { buildElf } from './build-elf.js';
import { EM_AARCH64, EM_ARM, SHT_NOBITS, SHT_NULL } from './elf-constants.js';
import { ElfFormatError } from './elf-error.js';
import { parseElf, type ElfImage } from './parse-elf.js';

const seeds: Uint8Array[] = [32, 64].map((elfClass) =>
  buildElf({
    class: elfClass as 32 | 64,
    machine: elfClass === 32 ? EM_ARM : EM_AARCH64,
    entry: 0x100,
    segments: [
      { paddr: 0x100, data: new Uint8Array(48).fill(1) },
      { paddr: 0x2000, data: new Uint8Array(40).fill(2), memsz: 0x80 },
    ],
    sections: [
      { name: '.text', addr: 0x100, data: new Uint8Array(16).fill(3) },
      { name: '.resource_table', addr: 0x2000, data: new Uint8Array(24).fill(4) },
    ],
  }),
);

/** Parses and, when the parse succeeds, checks that everything it reports lies inside the file. */
function parseChecked(bytes: Uint8Array): boolean {
  let image: ElfImage;
  try {
    image = parseElf(bytes, 'fuzz.elf');
  } catch (error) {
    if (error instanceof ElfFormatError) {
      assert.ok(error.message.startsWith('fuzz.elf: '), error.message);
      return false;
    }
    throw error;
  }
  const limit = image.class === 32 ? 2 ** 32 : Number.MAX_SAFE_INTEGER;
  for (const segment of image.loadSegments) {
    assert.ok(segment.filesz <= segment.memsz);
    assert.ok(segment.offset + segment.filesz <= bytes.length);
    assert.ok(segment.paddr + segment.memsz <= limit);
    assert.equal(segment.bytes().length, segment.filesz);
  }
  for (const section of image.sections) {
    const contents = section.bytes();
    if (section.index > 0 && section.type !== SHT_NOBITS && section.type !== SHT_NULL) {
      assert.ok(section.offset + section.size <= bytes.length);
      assert.equal(contents.length, section.size);
    } else {
      assert.equal(contents.length, 0);
    }
    assert.equal(image.section(section.name)?.name, section.name);
  }
  return true;
}

const interesting = fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 0x10000, 0x28, 0x34, 0x38, 0x40);

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('word' as const), at: fc.nat(), value: interesting }),
);

function mutate(seed: Uint8Array, mutations: readonly { kind: 'byte' | 'word'; at: number; value: number }[], truncateTo?: number): Uint8Array {
  const bytes = seed.slice();
  const view = new DataView(bytes.buffer);
  for (const m of mutations) {
    if (m.kind === 'byte') {
      bytes[m.at % bytes.length] = m.value;
    } else {
      const at = (m.at % (bytes.length / 4)) * 4;
      view.setUint32(Math.min(at, bytes.length - 4), m.value >>> 0, true);
    }
  }
  return truncateTo === undefined ? bytes : bytes.subarray(0, truncateTo % (bytes.length + 1));
}

test('garbage input only ever fails with ElfFormatError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => void parseChecked(bytes)), { numRuns: propertyRuns('elf: garbage input') });
});

test('garbage behind a valid ELF identification only ever fails with ElfFormatError', () => {
  const ident = fc.constantFrom(...seeds.map((s) => s.subarray(0, 16)));
  fc.assert(
    fc.property(ident, fc.uint8Array({ maxLength: 400 }), (head, tail) => {
      const bytes = new Uint8Array(head.length + tail.length);
      bytes.set(head);
      bytes.set(tail, head.length);
      void parseChecked(bytes);
    }),
    { numRuns: propertyRuns('elf: garbage behind a valid identification') },
  );
});

test('mutated and truncated valid images parse in bounds or fail with ElfFormatError', () => {
  const outcomes = { parsed: 0, rejected: 0 };
  fc.assert(
    fc.property(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.option(fc.nat(), { nil: undefined }), (seed, mutations, cut) => {
      outcomes[parseChecked(mutate(seed, mutations, cut)) ? 'parsed' : 'rejected']++;
    }),
    { numRuns: propertyRuns('elf: mutated and truncated images') },
  );
  // Both paths must be exercised, or the property says nothing about one of them.
  if (propertyRuns('elf: mutated and truncated images') >= 1000) {
    assert.ok(outcomes.parsed > 0 && outcomes.rejected > 0, JSON.stringify(outcomes));
  }
});
