import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FirmwareError } from '../../base/errors.js';
import { buildElf } from './build-elf.js';
import { EM_AARCH64, EM_ARM, EM_RISCV, PF_R, PF_W, PF_X } from './elf-constants.js';
import { ElfFormatError, ElfMachineMismatchError } from './elf-error.js';
import { parseElf } from './parse-elf.js';
import { assertMachine } from './check-machine.js';

function sample(elfClass: 32 | 64 = 32): Uint8Array {
  const text = new Uint8Array(64).map((_, i) => i);
  const data = new Uint8Array(0x40).fill(0xaa);
  return buildElf({
    class: elfClass,
    machine: elfClass === 32 ? EM_ARM : EM_AARCH64,
    entry: 0x10000101,
    segments: [
      { paddr: 0x10000000, data: text, flags: PF_R | PF_X },
      { paddr: 0x10040000, data, memsz: 0x100, flags: PF_R | PF_W },
    ],
    sections: [
      { name: '.text', addr: 0x10000000, data: text },
      { name: '.resource_table', addr: 0x10040010, data: new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) },
    ],
  });
}

/** Patches a little-endian field of a copy of `bytes`. */
function patch(bytes: Uint8Array, offset: number, value: number | bigint, size: 1 | 2 | 4 | 8): Uint8Array {
  const copy = bytes.slice();
  const view = new DataView(copy.buffer);
  if (size === 1) view.setUint8(offset, Number(value));
  else if (size === 2) view.setUint16(offset, Number(value), true);
  else if (size === 4) view.setUint32(offset, Number(value), true);
  else view.setBigUint64(offset, BigInt(value), true);
  return copy;
}

function assertElfError(fn: () => unknown, pattern: RegExp, offset?: number): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ElfFormatError, `expected ElfFormatError, got ${String(error)}`);
    assert.ok(error instanceof FirmwareError);
    assert.equal(error.failureClass, 'firmware');
    assert.match(error.message, pattern);
    if (offset !== undefined) assert.equal(error.offset, offset);
    return true;
  });
}

for (const elfClass of [32, 64] as const) {
  test(`ELF${elfClass}: header, PT_LOAD segments and named sections read back`, () => {
    const image = parseElf(sample(elfClass), 'fw.elf');
    assert.equal(image.class, elfClass);
    assert.equal(image.machine, elfClass === 32 ? 40 : 183);
    assert.equal(image.machineName, elfClass === 32 ? 'EM_ARM' : 'EM_AARCH64');
    assert.equal(image.entry, 0x10000101);
    assert.equal(image.type, 2);
    assert.equal(image.loadSegments.length, 2);
    const [text, data] = image.loadSegments;
    assert.equal(text!.paddr, 0x10000000);
    assert.equal(text!.vaddr, 0x10000000);
    assert.equal(text!.filesz, 64);
    assert.equal(text!.flags, PF_R | PF_X);
    assert.deepEqual([...text!.bytes().subarray(0, 4)], [0, 1, 2, 3]);
    assert.equal(data!.memsz, 0x100);
    assert.equal(data!.filesz, 0x40);
    assert.deepEqual(image.sections.map((s) => s.name), ['', '.text', '.resource_table', '.shstrtab']);
    const table = image.section('.resource_table')!;
    assert.equal(table.addr, 0x10040010);
    assert.equal(table.size, 16);
    assert.equal(table.offset, data!.offset + 0x10);
    assert.deepEqual([...table.bytes().subarray(0, 4)], [1, 0, 0, 0]);
    // The section lives inside the loaded segment: the segment's bytes carry the table.
    assert.deepEqual([...data!.bytes().subarray(0x10, 0x14)], [1, 0, 0, 0]);
    assert.equal(image.section('.nope'), undefined);
  });
}

test('bytes() returns copies: changing them does not change the image', () => {
  const image = parseElf(sample(), 'fw.elf');
  image.loadSegments[0]!.bytes().fill(0xff);
  assert.equal(image.loadSegments[0]!.bytes()[1], 1);
});

test('rejects big-endian images clearly', () => {
  assertElfError(() => parseElf(patch(sample(), 5, 2, 1), 'be.elf'), /^be\.elf: big-endian ELF \(EI_DATA=2\) is not supported/, 5);
});

test('rejects bad magic, class, version and short files', () => {
  assertElfError(() => parseElf(new Uint8Array(8), 'x.elf'), /x\.elf: file is 8 bytes, too short/);
  assertElfError(() => parseElf(patch(sample(), 1, 0x46, 1), 'x.elf'), /not an ELF file/);
  assertElfError(() => parseElf(patch(sample(), 4, 3, 1), 'x.elf'), /unknown ELF class 3/, 4);
  assertElfError(() => parseElf(patch(sample(), 6, 0, 1), 'x.elf'), /EI_VERSION/, 6);
  assertElfError(() => parseElf(sample().slice(0, 40), 'x.elf'), /too short for the ELF32 header \(52 bytes\)/);
  assertElfError(() => parseElf(sample(64).slice(0, 60), 'x.elf'), /too short for the ELF64 header \(64 bytes\)/);
});

test('a program header whose file range runs past the end names header, range and file size', () => {
  // Three segments; make header 2 claim offset 0x1000 + 0x5000 in a file that is shorter.
  const bytes = buildElf({
    machine: EM_ARM,
    entry: 0,
    segments: [0, 1, 2].map((i) => ({ paddr: 0x1000 * i, data: new Uint8Array(16) })),
  });
  const phdr2 = 52 + 2 * 32;
  let bad = patch(bytes, phdr2 + 4, 0x1000, 4);
  bad = patch(bad, phdr2 + 16, 0x5000, 4);
  bad = patch(bad, phdr2 + 20, 0x5000, 4);
  const padded = new Uint8Array(0x3000);
  padded.set(bad);
  assertElfError(
    () => parseElf(padded, 'fw.elf'),
    /^fw\.elf: program header 2 file range 0x1000\+0x5000 runs past end of file \(0x3000 bytes\)$/,
    phdr2,
  );
});

test('p_filesz larger than p_memsz is rejected', () => {
  const phdr0 = 52;
  assertElfError(() => parseElf(patch(sample(), phdr0 + 20, 4, 4), 'fw.elf'), /program header 0 p_filesz 0x40 is larger than p_memsz 0x4/);
});

test('a 32-bit segment that wraps past 4 GiB is rejected', () => {
  const phdr1 = 52 + 32;
  assertElfError(() => parseElf(patch(sample(), phdr1 + 12, 0xffffff80, 4), 'fw.elf'), /program header 1 memory range .* wraps/);
});

test('program and section header tables must fit the file and have sane entry sizes', () => {
  assertElfError(() => parseElf(patch(sample(), 28, 0xfffff0, 4), 'fw.elf'), /program header table \(2 x 32 bytes\) at 0xfffff0\+0x40 runs past end of file/);
  assertElfError(() => parseElf(patch(sample(), 42, 8, 2), 'fw.elf'), /e_phentsize 8 is smaller than an ELF32 program header \(32 bytes\)/, 42);
  assertElfError(() => parseElf(patch(sample(), 32, 0xfffff0, 4), 'fw.elf'), /section header 0 at 0xfffff0\+0x28 runs past end of file/);
  assertElfError(() => parseElf(patch(sample(), 46, 20, 2), 'fw.elf'), /e_shentsize 20 is smaller/);
  assertElfError(() => parseElf(patch(sample(), 48, 200, 2), 'fw.elf'), /section header table \(200 x 40 bytes\)/);
  assertElfError(() => parseElf(patch(sample(), 40, 10, 2), 'fw.elf'), /e_ehsize 10/);
});

test('section names: index, offset and NUL termination are checked', () => {
  const bytes = sample();
  const image = parseElf(bytes, 'fw.elf');
  assertElfError(() => parseElf(patch(bytes, 50, 9, 2), 'fw.elf'), /e_shstrndx 9 is not a section \(the file has 4\)/, 50);
  const shoff = new DataView(bytes.buffer).getUint32(32, true);
  assertElfError(() => parseElf(patch(bytes, shoff + 40, 0x7fff, 4), 'fw.elf'), /section header 1 sh_name 0x7fff is outside the section-name string table/);
  // Overwrite the terminating NUL of the last name (".shstrtab") with a letter.
  const strtab = image.sections[3]!;
  assertElfError(() => parseElf(patch(bytes, strtab.offset + strtab.size - 1, 0x41, 1), 'fw.elf'), /section header 3 name is not NUL-terminated/);
  // A section whose contents run past the file.
  assertElfError(() => parseElf(patch(bytes, shoff + 40 + 20, 0x100000, 4), 'fw.elf'), /section header 1 file range 0x[0-9a-f]+\+0x100000 runs past end of file/);
});

test('ELF64 values above 2^53 are rejected with the field name', () => {
  const bytes = sample(64);
  assertElfError(() => parseElf(patch(bytes, 24, 0xffff_0000_0000_0000n, 8), 'fw64.elf'), /e_entry 0xffff000000000000 is above 2\^53/, 24);
  const phdr0 = 64;
  assertElfError(() => parseElf(patch(bytes, phdr0 + 24, 2n ** 60n, 8), 'fw64.elf'), /program header 0 p_paddr/, phdr0 + 24);
});

test('ELF64 addresses between 2^32 and 2^53 are exact', () => {
  const bytes = buildElf({ class: 64, machine: EM_RISCV, entry: 0x8_0000_0000, segments: [{ paddr: 0x8_0000_0000, data: new Uint8Array(8) }] });
  const image = parseElf(bytes, 'rv.elf');
  assert.equal(image.entry, 0x8_0000_0000);
  assert.equal(image.loadSegments[0]!.paddr, 0x8_0000_0000);
  assert.equal(image.machineName, 'EM_RISCV');
});

test('non-PT_LOAD program headers are not exposed as load segments', () => {
  const bytes = patch(sample(), 52, 4 /* PT_NOTE */, 4);
  const image = parseElf(bytes, 'fw.elf');
  assert.deepEqual(image.loadSegments.map((s) => s.index), [1]);
});

test('extended section numbering (e_shnum 0, count in section 0 sh_size) is followed', () => {
  const bytes = sample();
  const shoff = new DataView(bytes.buffer).getUint32(32, true);
  let extended = patch(bytes, 48, 0, 2);
  extended = patch(extended, shoff + 20, 4, 4);
  extended = patch(extended, 50, 0xffff, 2);
  extended = patch(extended, shoff + 24, 3, 4);
  const image = parseElf(extended, 'fw.elf');
  assert.equal(image.sections.length, 4);
  assert.ok(image.section('.resource_table'));
});

test('an image without a section header table parses with no sections', () => {
  let bytes = patch(sample(), 32, 0, 4);
  bytes = patch(bytes, 48, 0, 2);
  const image = parseElf(bytes, 'fw.elf');
  assert.equal(image.sections.length, 0);
  assert.equal(image.section('.resource_table'), undefined);
  assertElfError(() => parseElf(patch(sample(), 32, 0, 4), 'fw.elf'), /e_shnum is 4 but e_shoff is 0/);
});

test('assertMachine accepts the right machine and names both on mismatch', () => {
  const image = parseElf(sample(), 'fw.elf');
  assertMachine(image, EM_ARM);
  assertMachine(image, [EM_RISCV, EM_ARM], 32);
  assert.throws(
    () => assertMachine(image, EM_RISCV),
    (e: unknown) => e instanceof ElfMachineMismatchError && e.failureClass === 'firmware' && /fw\.elf: built for EM_ARM \(40\), but this core runs EM_RISCV \(243\)/.test(e.message),
  );
  assert.throws(() => assertMachine(image, EM_ARM, 64), /ELF32 image, but this core loads ELF64 images/);
});
