import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildElf } from './build-elf.js';
import { EM_ARM, EM_RISCV, PF_R, PF_W, PF_X, SHF_ALLOC, SHF_WRITE } from './elf-constants.js';
import { ElfBuildError } from './elf-error.js';
import { parseElf } from './parse-elf.js';

function firmware(elfClass: 32 | 64): Uint8Array {
  const table = new Uint8Array(88).fill(0x11);
  return buildElf({
    class: elfClass,
    machine: elfClass === 32 ? EM_ARM : EM_RISCV,
    entry: 0x3ed00000,
    segments: [
      { paddr: 0x3ed00000, data: new Uint8Array(0x200).fill(0xe1), flags: PF_R | PF_X },
      { paddr: 0x3ed40000, vaddr: 0x3ed40000, data: new Uint8Array(0x100), memsz: 0x1000, flags: PF_R | PF_W },
    ],
    sections: [
      { name: '.text', addr: 0x3ed00000, data: new Uint8Array(0x200).fill(0xe1), segmentIndex: 0 },
      { name: '.resource_table', addr: 0x3ed40020, data: table, segmentIndex: 1 },
      { name: '.comment', addr: 0, data: new TextEncoder().encode('farm\0') },
    ],
  });
}

function readelfPath(): string | undefined {
  try {
    return execFileSync('which', ['readelf'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

for (const elfClass of [32, 64] as const) {
  test(`ELF${elfClass} writer output reads back through parseElf`, () => {
    const image = parseElf(firmware(elfClass), 'built.elf');
    assert.equal(image.class, elfClass);
    assert.equal(image.entry, 0x3ed00000);
    const [text, data] = image.loadSegments;
    assert.equal(text!.filesz, 0x200);
    assert.equal(data!.memsz, 0x1000);
    assert.equal(data!.filesz, 0x100);
    // Loadable segments keep file offset and address congruent modulo p_align.
    for (const segment of image.loadSegments) assert.equal(Math.abs((segment.offset - segment.vaddr) % segment.align), 0);
    const rsc = image.section('.resource_table')!;
    assert.equal(rsc.addr, 0x3ed40020);
    assert.equal(rsc.offset, data!.offset + 0x20);
    assert.equal(rsc.flags, SHF_ALLOC | SHF_WRITE);
    assert.deepEqual(rsc.bytes(), new Uint8Array(88).fill(0x11));
    assert.deepEqual(data!.bytes().subarray(0x20, 0x20 + 88), new Uint8Array(88).fill(0x11));
    const comment = image.section('.comment')!;
    assert.equal(comment.flags, 0);
    assert.equal(new TextDecoder().decode(comment.bytes()), 'farm\0');
    assert.equal(image.sections.at(-1)!.name, '.shstrtab');
  });

  test(`ELF${elfClass} writer output is accepted by readelf -lSW`, (t) => {
    const readelf = readelfPath();
    if (!readelf) {
      t.skip('readelf (binutils) is not on PATH: the writer was checked through parseElf only');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'farm-elf-'));
    try {
      const file = join(dir, 'fw.elf');
      writeFileSync(file, firmware(elfClass));
      const out = execFileSync(readelf, ['-hlSW', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      assert.match(out, new RegExp(`Class:\\s+ELF${elfClass}`));
      assert.match(out, /Data:\s+2's complement, little endian/);
      assert.match(out, elfClass === 32 ? /Machine:\s+ARM/ : /Machine:\s+RISC-V/);
      assert.match(out, /Entry point address:\s+0x3ed00000/);
      const loads = out.split('\n').filter((line) => /^\s+LOAD\s/.test(line));
      assert.equal(loads.length, 2, out);
      assert.match(loads[1]!, /0x0*3ed40000 0x0*3ed40000 0x0*100 0x0*1000 RW /);
      assert.match(out, /\.resource_table\s+PROGBITS\s+0*3ed40020 [0-9a-f]+ 0*58 00\s+WA/);
      // readelf maps sections to segments: the table must be listed inside segment 01.
      assert.match(out, /^\s+01\s+\.resource_table\s*$/m);
      assert.doesNotMatch(out, /[Ww]arning|[Ee]rror/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a section that does not fit its segment is refused', () => {
  assert.throws(
    () =>
      buildElf({
        machine: EM_ARM,
        entry: 0,
        segments: [{ paddr: 0x1000, data: new Uint8Array(16) }],
        sections: [{ name: '.resource_table', addr: 0x1008, data: new Uint8Array(16), segmentIndex: 0 }],
      }),
    (e: unknown) => e instanceof ElfBuildError && /not inside the file bytes of segment 0/.test(e.message),
  );
  assert.throws(() => buildElf({ machine: EM_ARM, entry: 0, segments: [{ paddr: 0, data: new Uint8Array(8), memsz: 4 }] }), ElfBuildError);
  assert.throws(() => buildElf({ machine: EM_ARM, entry: 2 ** 32, segments: [] }), ElfBuildError);
});

test('an image with no segments has no program header table', () => {
  const image = parseElf(buildElf({ machine: EM_ARM, entry: 0, segments: [] }), 'empty.elf');
  assert.equal(image.loadSegments.length, 0);
  assert.deepEqual(image.sections.map((s) => s.name), ['', '.shstrtab']);
});
