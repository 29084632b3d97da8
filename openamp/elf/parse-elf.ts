import {
  ELF_LAYOUT,
  ELF_MAGIC,
  ELFCLASS32,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFDATA2MSB,
  EV_CURRENT,
  PN_XNUM,
  PT_LOAD,
  SHN_UNDEF,
  SHN_XINDEX,
  SHT_NOBITS,
  SHT_NULL,
  machineName,
} from './elf-constants.js';
import { ElfFormatError, hexWide } from './elf-error.js';

export type ElfClass = 32 | 64;

/** One PT_LOAD program header. Addresses and sizes are exact integers (checked <= 2^53). */
export interface ElfLoadSegment {
  /** Index of the program header in the file (as `readelf -l` counts). */
  readonly index: number;
  readonly offset: number;
  readonly vaddr: number;
  /** Linux remoteproc loads each segment at its physical address (the device address). */
  readonly paddr: number;
  readonly filesz: number;
  readonly memsz: number;
  /** PF_R | PF_W | PF_X. */
  readonly flags: number;
  readonly align: number;
  /** A copy of the segment's `filesz` bytes from the file. */
  bytes(): Uint8Array;
}

export interface ElfSection {
  readonly index: number;
  /** '' when the file has no section-name string table. */
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  /** Load address (sh_addr): where an ALLOC section sits once the image is loaded. */
  readonly addr: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
  /** A copy of the section's bytes; empty for SHT_NOBITS and SHT_NULL. */
  bytes(): Uint8Array;
}

export interface ElfImage {
  /** Where the bytes came from (file name), used in every message about this image. */
  readonly source: string;
  readonly class: ElfClass;
  readonly machine: number;
  /** "EM_ARM", "EM_AARCH64", ... or "EM_<n>" for machines without a name here. */
  readonly machineName: string;
  /** e_type: ET_EXEC, ET_DYN, ... */
  readonly type: number;
  readonly entry: number;
  readonly flags: number;
  readonly loadSegments: readonly ElfLoadSegment[];
  readonly sections: readonly ElfSection[];
  /** The first section called `name`, if any. */
  section(name: string): ElfSection | undefined;
}

/**
 * Parses a little-endian ELF32 or ELF64 file. Nothing in the file is trusted: every table,
 * string and range is checked against the file size before use, and every failure is an
 * ElfFormatError naming the field and its file offset. The input is not retained beyond
 * the returned image's `bytes()` accessors.
 */
export function parseElf(bytes: Uint8Array, source: string): ElfImage {
  return new ElfParser(bytes, source).parse();
}

/** Largest address-space end for a class: 32-bit images may not wrap past 4 GiB. */
function addressLimit(elfClass: ElfClass): number {
  return elfClass === 32 ? 2 ** 32 : Number.MAX_SAFE_INTEGER;
}

class ElfParser {
  private readonly view: DataView;
  private elfClass: ElfClass = 32;

  constructor(
    private readonly file: Uint8Array,
    private readonly source: string,
  ) {
    this.view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  }

  parse(): ElfImage {
    const { file } = this;
    if (file.length < 16) this.fail(0, `file is ${file.length} bytes, too short for an ELF identification (16 bytes)`);
    for (let i = 0; i < ELF_MAGIC.length; i++) {
      if (file[i] !== ELF_MAGIC[i]) this.fail(0, 'not an ELF file (bad magic, expected 7f 45 4c 46)');
    }
    const classByte = file[4]!;
    if (classByte === ELFCLASS32) this.elfClass = 32;
    else if (classByte === ELFCLASS64) this.elfClass = 64;
    else this.fail(4, `unknown ELF class ${classByte} (EI_CLASS must be 1 for ELF32 or 2 for ELF64)`);
    const data = file[5]!;
    if (data === ELFDATA2MSB) this.fail(5, 'big-endian ELF (EI_DATA=2) is not supported: OpenAMP images here are little-endian');
    if (data !== ELFDATA2LSB) this.fail(5, `unknown ELF data encoding ${data} (EI_DATA must be 1, little-endian)`);
    if (file[6] !== EV_CURRENT) this.fail(6, `unknown ELF identification version ${file[6]} (EI_VERSION must be 1)`);

    const layout = ELF_LAYOUT[this.elfClass];
    if (file.length < layout.ehdr) {
      this.fail(0, `file is ${file.length} bytes, too short for the ELF${this.elfClass} header (${layout.ehdr} bytes)`);
    }
    const is64 = this.elfClass === 64;
    const type = this.u16(16, 'e_type');
    const machine = this.u16(18, 'e_machine');
    const version = this.u32(20, 'e_version');
    if (version !== EV_CURRENT) this.fail(20, `unknown e_version ${version} (must be 1)`);
    const entry = this.word(24, 'e_entry');
    const phoff = this.word(is64 ? 32 : 28, 'e_phoff');
    const shoff = this.word(is64 ? 40 : 32, 'e_shoff');
    const flags = this.u32(is64 ? 48 : 36, 'e_flags');
    const base = is64 ? 52 : 40;
    const ehsize = this.u16(base, 'e_ehsize');
    const phentsize = this.u16(base + 2, 'e_phentsize');
    let phnum = this.u16(base + 4, 'e_phnum');
    const shentsize = this.u16(base + 6, 'e_shentsize');
    let shnum = this.u16(base + 8, 'e_shnum');
    let shstrndx = this.u16(base + 10, 'e_shstrndx');
    if (ehsize < layout.ehdr) this.fail(base, `e_ehsize ${ehsize} is smaller than the ELF${this.elfClass} header (${layout.ehdr} bytes)`);

    // Section 0 carries the real counts when they do not fit the 16-bit header fields.
    if (shoff !== 0) {
      if (shentsize < layout.shdr) {
        this.fail(base + 6, `e_shentsize ${shentsize} is smaller than an ELF${this.elfClass} section header (${layout.shdr} bytes)`);
      }
      this.checkFileRange(shoff, layout.shdr, 'section header 0');
      if (shnum === 0) shnum = this.extendedCount(shoff + (is64 ? 32 : 20), 'section 0 sh_size (extended e_shnum)');
      if (shstrndx === SHN_XINDEX) shstrndx = this.u32(shoff + (is64 ? 40 : 24), 'section 0 sh_link (extended e_shstrndx)');
      if (phnum === PN_XNUM) phnum = this.u32(shoff + (is64 ? 44 : 28), 'section 0 sh_info (extended e_phnum)');
    } else if (shnum !== 0) {
      this.fail(base + 8, `e_shnum is ${shnum} but e_shoff is 0 (no section header table)`);
    }

    const loadSegments = this.parseProgramHeaders(phoff, phnum, phentsize, base + 2);
    const sections = shoff === 0 ? [] : this.parseSectionHeaders(shoff, shnum, shentsize, shstrndx, base + 10);
    const source = this.source;
    return {
      source,
      class: this.elfClass,
      machine,
      machineName: machineName(machine),
      type,
      entry,
      flags,
      loadSegments,
      sections,
      section: (name: string) => sections.find((s) => s.name === name),
    };
  }

  private parseProgramHeaders(phoff: number, phnum: number, phentsize: number, phentsizeField: number): ElfLoadSegment[] {
    if (phnum === 0) return [];
    const layout = ELF_LAYOUT[this.elfClass];
    if (phentsize < layout.phdr) {
      this.fail(phentsizeField, `e_phentsize ${phentsize} is smaller than an ELF${this.elfClass} program header (${layout.phdr} bytes)`);
    }
    this.checkFileRange(phoff, phnum * phentsize, `program header table (${phnum} x ${phentsize} bytes)`);
    const is64 = this.elfClass === 64;
    const segments: ElfLoadSegment[] = [];
    for (let index = 0; index < phnum; index++) {
      const at = phoff + index * phentsize;
      const what = `program header ${index}`;
      if (this.u32(at, `${what} p_type`) !== PT_LOAD) continue;
      const offset = this.word(at + (is64 ? 8 : 4), `${what} p_offset`);
      const vaddr = this.word(at + (is64 ? 16 : 8), `${what} p_vaddr`);
      const paddr = this.word(at + (is64 ? 24 : 12), `${what} p_paddr`);
      const filesz = this.word(at + (is64 ? 32 : 16), `${what} p_filesz`);
      const memsz = this.word(at + (is64 ? 40 : 20), `${what} p_memsz`);
      const flags = this.u32(at + (is64 ? 4 : 24), `${what} p_flags`);
      const align = this.word(at + (is64 ? 48 : 28), `${what} p_align`);
      if (filesz > memsz) {
        this.fail(at, `${what} p_filesz ${hexWide(filesz)} is larger than p_memsz ${hexWide(memsz)}`);
      }
      if (offset + filesz > this.file.length) {
        this.fail(at, `${what} file range ${hexWide(offset)}+${hexWide(filesz)} runs past end of file (${hexWide(this.file.length)} bytes)`);
      }
      const limit = addressLimit(this.elfClass);
      if (paddr + memsz > limit || vaddr + memsz > limit) {
        this.fail(at, `${what} memory range (paddr ${hexWide(paddr)}, vaddr ${hexWide(vaddr)}, memsz ${hexWide(memsz)}) wraps past the end of the ${this.elfClass}-bit address space`);
      }
      const file = this.file;
      segments.push({ index, offset, vaddr, paddr, filesz, memsz, flags, align, bytes: () => file.slice(offset, offset + filesz) });
    }
    return segments;
  }

  private parseSectionHeaders(shoff: number, shnum: number, shentsize: number, shstrndx: number, shstrndxField: number): ElfSection[] {
    this.checkFileRange(shoff, shnum * shentsize, `section header table (${shnum} x ${shentsize} bytes)`);
    const is64 = this.elfClass === 64;
    const raw: Omit<ElfSection, 'name' | 'bytes'>[] = [];
    const nameOffsets: number[] = [];
    for (let index = 0; index < shnum; index++) {
      const at = shoff + index * shentsize;
      const what = `section header ${index}`;
      nameOffsets.push(this.u32(at, `${what} sh_name`));
      const type = this.u32(at + 4, `${what} sh_type`);
      const flags = this.word(at + 8, `${what} sh_flags`);
      const addr = this.word(at + (is64 ? 16 : 12), `${what} sh_addr`);
      const offset = this.word(at + (is64 ? 24 : 16), `${what} sh_offset`);
      const size = this.word(at + (is64 ? 32 : 20), `${what} sh_size`);
      const link = this.u32(at + (is64 ? 40 : 24), `${what} sh_link`);
      const info = this.u32(at + (is64 ? 44 : 28), `${what} sh_info`);
      const addralign = this.word(at + (is64 ? 48 : 32), `${what} sh_addralign`);
      const entsize = this.word(at + (is64 ? 56 : 36), `${what} sh_entsize`);
      if (index > 0 && type !== SHT_NULL && type !== SHT_NOBITS && offset + size > this.file.length) {
        this.fail(at, `${what} file range ${hexWide(offset)}+${hexWide(size)} runs past end of file (${hexWide(this.file.length)} bytes)`);
      }
      if (index > 0 && addr + size > addressLimit(this.elfClass)) {
        this.fail(at, `${what} address range ${hexWide(addr)}+${hexWide(size)} wraps past the end of the ${this.elfClass}-bit address space`);
      }
      raw.push({ index, type, flags, addr, offset, size, link, info, addralign, entsize });
    }

    let strtab: { offset: number; size: number } | undefined;
    if (shstrndx !== SHN_UNDEF) {
      if (shstrndx >= shnum) this.fail(shstrndxField, `e_shstrndx ${shstrndx} is not a section (the file has ${shnum})`);
      const s = raw[shstrndx]!;
      if (s.type === SHT_NOBITS || s.type === SHT_NULL) {
        this.fail(shoff + shstrndx * shentsize + 4, `section-name string table (section ${shstrndx}) has no file contents (type ${s.type})`);
      }
      strtab = { offset: s.offset, size: s.size };
    }

    const file = this.file;
    return raw.map((section, i) => {
      const name = strtab ? this.stringAt(strtab, nameOffsets[i]!, shoff + i * shentsize, i) : '';
      const hasBytes = section.type !== SHT_NOBITS && section.type !== SHT_NULL && section.index > 0;
      const { offset, size } = section;
      return { ...section, name, bytes: () => (hasBytes ? file.slice(offset, offset + size) : new Uint8Array(0)) };
    });
  }

  private stringAt(table: { offset: number; size: number }, nameOffset: number, headerAt: number, index: number): string {
    if (nameOffset >= table.size) {
      this.fail(headerAt, `section header ${index} sh_name ${hexWide(nameOffset)} is outside the section-name string table (${hexWide(table.size)} bytes)`);
    }
    const start = table.offset + nameOffset;
    const end = this.file.subarray(start, table.offset + table.size).indexOf(0);
    if (end < 0) this.fail(start, `section header ${index} name is not NUL-terminated inside the section-name string table`);
    return new TextDecoder('latin1').decode(this.file.subarray(start, start + end));
  }

  /** Section 0's sh_size, which holds the section count when e_shnum is 0. */
  private extendedCount(offset: number, what: string): number {
    const value = this.word(offset, what);
    if (value > 0xffffffff) this.fail(offset, `${what} ${hexWide(value)} is not a plausible section count`);
    return value;
  }

  private checkFileRange(offset: number, length: number, what: string): void {
    if (offset + length > this.file.length) {
      this.fail(offset, `${what} at ${hexWide(offset)}+${hexWide(length)} runs past end of file (${hexWide(this.file.length)} bytes)`);
    }
  }

  private u16(offset: number, what: string): number {
    this.checkFileRange(offset, 2, what);
    return this.view.getUint16(offset, true);
  }

  private u32(offset: number, what: string): number {
    this.checkFileRange(offset, 4, what);
    return this.view.getUint32(offset, true);
  }

  /** A class-sized field (Elf32_Addr/Off/Word or Elf64_Addr/Off/Xword). */
  private word(offset: number, what: string): number {
    if (this.elfClass === 32) return this.u32(offset, what);
    this.checkFileRange(offset, 8, what);
    const value = this.view.getBigUint64(offset, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      this.fail(offset, `${what} 0x${value.toString(16)} is above 2^53 and cannot be handled exactly`);
    }
    return Number(value);
  }

  private fail(offset: number, detail: string): never {
    throw new ElfFormatError(this.source, offset, detail);
  }
}
