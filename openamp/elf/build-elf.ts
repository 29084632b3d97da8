import {
  ELF_LAYOUT,
  ELF_MAGIC,
  ELFCLASS32,
  ELFCLASS64,
  ELFDATA2LSB,
  ET_EXEC,
  EV_CURRENT,
  PF_R,
  PF_W,
  PF_X,
  PT_LOAD,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHF_WRITE,
  SHT_PROGBITS,
  SHT_STRTAB,
} from './elf-constants.js';
import { ElfBuildError, hexWide } from './elf-error.js';
import type { ElfClass } from './parse-elf.js';

export interface ElfSegmentSpec {
  /** Physical (= device) address: where remoteproc copies the segment. */
  paddr: number;
  /** Virtual address; defaults to `paddr`. */
  vaddr?: number;
  /** The file bytes (p_filesz = data.length). */
  data: Uint8Array;
  /** Defaults to data.length; the loader zero-fills memsz - filesz. */
  memsz?: number;
  /** PF_R | PF_W | PF_X; defaults to PF_R | PF_W | PF_X. */
  flags?: number;
  /** p_align, a power of two; defaults to 4. */
  align?: number;
}

export interface ElfSectionSpec {
  name: string;
  /** sh_addr: the (virtual) address the section has once loaded. */
  addr: number;
  data: Uint8Array;
  /**
   * The PT_LOAD segment that holds this section: its bytes are written into that segment's
   * file image at `addr - vaddr`, so loading the segment loads the section (as a linker puts
   * `.resource_table` inside a loaded segment). When omitted, the segment whose file bytes
   * cover [addr, addr + data.length) is used; when none does, the section is written on its
   * own, outside every segment, without SHF_ALLOC.
   */
  segmentIndex?: number;
}

export interface BuildElfOptions {
  class?: ElfClass;
  machine: number;
  entry: number;
  /** e_type; ET_EXEC by default. */
  type?: number;
  /** e_flags (e.g. 0x05000200 for an ARM EABI5 hard-float image); 0 by default. */
  flags?: number;
  segments: readonly ElfSegmentSpec[];
  sections?: readonly ElfSectionSpec[];
}

const DEFAULT_SEGMENT_ALIGN = 4;

/**
 * Writes a little-endian ELF executable with one PT_LOAD per segment and a section header
 * table (null section, the given sections, .shstrtab). For the simulated targets' firmware
 * images and for tests; the output reads back through parseElf and `readelf -lS`.
 */
export function buildElf(options: BuildElfOptions): Uint8Array {
  const elfClass: ElfClass = options.class ?? 32;
  const is64 = elfClass === 64;
  const layout = ELF_LAYOUT[elfClass];
  const limit = is64 ? Number.MAX_SAFE_INTEGER : 2 ** 32;
  checkWord(options.entry, limit, 'entry');

  const segments = options.segments.map((spec, index) => {
    const vaddr = spec.vaddr ?? spec.paddr;
    const memsz = spec.memsz ?? spec.data.length;
    const align = spec.align ?? DEFAULT_SEGMENT_ALIGN;
    checkWord(spec.paddr, limit, `segment ${index} paddr`);
    checkWord(vaddr, limit, `segment ${index} vaddr`);
    if (!Number.isInteger(memsz) || memsz < spec.data.length) {
      throw new ElfBuildError(`buildElf: segment ${index} memsz ${memsz} is smaller than its ${spec.data.length} data bytes`);
    }
    if (spec.paddr + memsz > limit || vaddr + memsz > limit) {
      throw new ElfBuildError(`buildElf: segment ${index} (${hexWide(spec.paddr)}+${hexWide(memsz)}) wraps past the address space`);
    }
    if (!Number.isInteger(align) || align < 1 || (align & (align - 1)) !== 0) {
      throw new ElfBuildError(`buildElf: segment ${index} align ${align} is not a power of two`);
    }
    return { paddr: spec.paddr, vaddr, memsz, align, flags: spec.flags ?? PF_R | PF_W | PF_X, data: spec.data.slice(), offset: 0 };
  });

  const sections = (options.sections ?? []).map((spec, index) => {
    checkWord(spec.addr, limit, `section ${index} (${spec.name}) addr`);
    if (spec.name.includes('\0')) throw new ElfBuildError(`buildElf: section ${index} name contains a NUL`);
    const segmentIndex = spec.segmentIndex ?? segments.findIndex((s) => covers(s.vaddr, s.data.length, spec.addr, spec.data.length));
    if (segmentIndex >= 0) {
      const segment = segments[segmentIndex];
      if (!segment || !covers(segment.vaddr, segment.data.length, spec.addr, spec.data.length)) {
        throw new ElfBuildError(
          `buildElf: section ${spec.name} (${hexWide(spec.addr)}+${hexWide(spec.data.length)}) is not inside the file bytes of segment ${segmentIndex}`,
        );
      }
      segment.data.set(spec.data, spec.addr - segment.vaddr);
    }
    return { name: spec.name, addr: spec.addr, data: spec.data, segmentIndex, offset: 0, flags: 0 };
  });

  // File layout: header, program headers, segment bytes, stand-alone sections, .shstrtab, section headers.
  let cursor = layout.ehdr + segments.length * layout.phdr;
  for (const segment of segments) {
    // Keep offset and vaddr congruent modulo p_align, as the gABI requires of loadable segments.
    cursor += (((segment.vaddr - cursor) % segment.align) + segment.align) % segment.align;
    segment.offset = cursor;
    cursor += segment.data.length;
  }
  for (const section of sections) {
    const segment = segments[section.segmentIndex];
    if (segment) {
      section.offset = segment.offset + (section.addr - segment.vaddr);
      section.flags = SHF_ALLOC | (segment.flags & PF_W ? SHF_WRITE : 0) | (segment.flags & PF_X ? SHF_EXECINSTR : 0);
    } else {
      section.offset = cursor;
      cursor += section.data.length;
    }
  }
  const names = ['', ...sections.map((s) => s.name), '.shstrtab'];
  const nameOffsets: number[] = [];
  const encoder = new TextEncoder();
  const stringParts: Uint8Array[] = [];
  let stringSize = 0;
  for (const name of names) {
    nameOffsets.push(stringSize);
    const encoded = encoder.encode(name + '\0');
    stringParts.push(encoded);
    stringSize += encoded.length;
  }
  const shstrtabOffset = cursor;
  cursor += stringSize;
  cursor = alignUp(cursor, is64 ? 8 : 4);
  const shoff = cursor;
  const shnum = sections.length + 2;
  const total = shoff + shnum * layout.shdr;

  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  const word = (at: number, value: number) => {
    if (is64) view.setBigUint64(at, BigInt(value), true);
    else view.setUint32(at, value, true);
  };

  out.set(ELF_MAGIC, 0);
  out[4] = is64 ? ELFCLASS64 : ELFCLASS32;
  out[5] = ELFDATA2LSB;
  out[6] = EV_CURRENT;
  view.setUint16(16, options.type ?? ET_EXEC, true);
  view.setUint16(18, options.machine, true);
  view.setUint32(20, EV_CURRENT, true);
  word(24, options.entry);
  word(is64 ? 32 : 28, segments.length ? layout.ehdr : 0);
  word(is64 ? 40 : 32, shoff);
  view.setUint32(is64 ? 48 : 36, options.flags ?? 0, true);
  const base = is64 ? 52 : 40;
  view.setUint16(base, layout.ehdr, true);
  view.setUint16(base + 2, layout.phdr, true);
  view.setUint16(base + 4, segments.length, true);
  view.setUint16(base + 6, layout.shdr, true);
  view.setUint16(base + 8, shnum, true);
  view.setUint16(base + 10, shnum - 1, true);

  segments.forEach((segment, index) => {
    const at = layout.ehdr + index * layout.phdr;
    view.setUint32(at, PT_LOAD, true);
    view.setUint32(at + (is64 ? 4 : 24), segment.flags, true);
    word(at + (is64 ? 8 : 4), segment.offset);
    word(at + (is64 ? 16 : 8), segment.vaddr);
    word(at + (is64 ? 24 : 12), segment.paddr);
    word(at + (is64 ? 32 : 16), segment.data.length);
    word(at + (is64 ? 40 : 20), segment.memsz);
    word(at + (is64 ? 48 : 28), segment.align);
    out.set(segment.data, segment.offset);
  });
  for (const section of sections) {
    if (!segments[section.segmentIndex]) out.set(section.data, section.offset);
  }
  let stringCursor = shstrtabOffset;
  for (const part of stringParts) {
    out.set(part, stringCursor);
    stringCursor += part.length;
  }

  const sectionHeader = (index: number, h: { name: number; type: number; flags: number; addr: number; offset: number; size: number; align: number }) => {
    const at = shoff + index * layout.shdr;
    view.setUint32(at, h.name, true);
    view.setUint32(at + 4, h.type, true);
    word(at + 8, h.flags);
    word(at + (is64 ? 16 : 12), h.addr);
    word(at + (is64 ? 24 : 16), h.offset);
    word(at + (is64 ? 32 : 20), h.size);
    word(at + (is64 ? 48 : 32), h.align);
  };
  sections.forEach((section, i) => {
    sectionHeader(i + 1, {
      name: nameOffsets[i + 1]!,
      type: SHT_PROGBITS,
      flags: section.flags,
      addr: section.addr,
      offset: section.offset,
      size: section.data.length,
      align: 1,
    });
  });
  sectionHeader(shnum - 1, { name: nameOffsets[names.length - 1]!, type: SHT_STRTAB, flags: 0, addr: 0, offset: shstrtabOffset, size: stringSize, align: 1 });
  return out;
}

function covers(base: number, size: number, address: number, length: number): boolean {
  return address >= base && address + length <= base + size;
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

function checkWord(value: number, limit: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= limit) {
    throw new ElfBuildError(`buildElf: ${what} ${value} does not fit the ELF class`);
  }
}
