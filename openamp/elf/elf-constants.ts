/** ELF constants the loader needs (System V gABI). */

export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const;

export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;
export const EV_CURRENT = 1;

export const ET_NONE = 0;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

export const EM_NONE = 0;
export const EM_X86_64 = 62;
export const EM_ARM = 40;
export const EM_AARCH64 = 183;
export const EM_RISCV = 243;

export const MACHINE_NAMES: Readonly<Record<number, string>> = {
  [EM_NONE]: 'EM_NONE',
  [EM_ARM]: 'EM_ARM',
  [EM_X86_64]: 'EM_X86_64',
  [EM_AARCH64]: 'EM_AARCH64',
  [EM_RISCV]: 'EM_RISCV',
};

/** "EM_ARM" for known machines, "EM_<number>" otherwise. */
export function machineName(machine: number): string {
  return MACHINE_NAMES[machine] ?? `EM_${machine}`;
}

export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_STRTAB = 3;
export const SHT_NOBITS = 8;
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

export const SHN_UNDEF = 0;
/** e_shstrndx value meaning "the real index is in section 0's sh_link". */
export const SHN_XINDEX = 0xffff;
/** e_phnum value meaning "the real count is in section 0's sh_info". */
export const PN_XNUM = 0xffff;

/** Sizes of the fixed-layout records, per class. */
export const ELF_LAYOUT = {
  32: { ehdr: 52, phdr: 32, shdr: 40 },
  64: { ehdr: 64, phdr: 56, shdr: 64 },
} as const;

export const RESOURCE_TABLE_SECTION = '.resource_table';
