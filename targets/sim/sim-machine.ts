import { EM_RISCV } from '../../openamp/elf/elf-constants.js';

/**
 * The simulated AMP SoC: a host core (the test worker's thread) and one remote core (a worker
 * thread running the TypeScript remote), sharing one DDR region (a SharedArrayBuffer) and one
 * doorbell (Atomics counters). The remote core is declared a 32-bit RISC-V core: its images
 * are ELF32 EM_RISCV files, and an image for any other machine is refused before the core
 * starts, as Linux refuses an image whose e_machine does not match the core.
 *
 * Memory map (da == pa, one region):
 *   0x10000000  .text   boot record at the entry point (see openamp/remote/boot-record.ts)
 *   0x10010000  .data   .resource_table, then the trace buffer (zero-filled, not in the file)
 *   0x10100000  ...end  carveout pool: vrings and the vdev buffer pool, allocated at load
 */
export const SIM_ELF_MACHINE = EM_RISCV;
export const SIM_ELF_CLASS = 32;
export const SIM_DDR_NAME = 'sim-ddr';
export const SIM_DDR_BASE = 0x1000_0000;
/** Default DDR size; the `memorySize` parameter changes it. */
export const SIM_DEFAULT_MEMORY_SIZE = 4 * 1024 * 1024;
export const SIM_MIN_MEMORY_SIZE = 2 * 1024 * 1024;
export const SIM_MAX_MEMORY_SIZE = 256 * 1024 * 1024;
/** Images load below this offset; the carveout pool starts here. */
export const SIM_CARVEOUT_POOL_OFFSET = 0x10_0000;

export const SIM_TEXT_DA = SIM_DDR_BASE;
export const SIM_DATA_DA = SIM_DDR_BASE + 0x1_0000;
export const SIM_TRACE_SIZE = 0x1000;
export const SIM_VRING_ALIGN = 0x1000;
export const SIM_DEFAULT_VRING_NUM = 256;
export const SIM_DEFAULT_BUFFER_SIZE = 512;
/** The name Linux gives the vdev's buffer carveout; the host finds its buffer pool by it. */
export const VDEV_BUFFER_CARVEOUT = 'vdev0buffer';
export const SIM_TRACE_NAME = 'trace0';

/** Linux's buffer count: min(2 * num, 512). */
export function simBufferCount(vringNum: number): number {
  return Math.min(2 * vringNum, 512);
}
