import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildElf } from '../../openamp/elf/build-elf.js';
import { PF_R, PF_W, PF_X, RESOURCE_TABLE_SECTION } from '../../openamp/elf/elf-constants.js';
import { FirmwareError } from '../../base/errors.js';
import { BOOT_RECORD_SIZE, encodeBootRecord } from '../../openamp/remote/boot-record.js';
import type { RemoteProgramName } from '../../openamp/remote/program.js';
import { buildRpmsgResourceTable } from '../../openamp/rsc/build-resource-table.js';
import { FW_RSC_ADDR_ANY } from '../../openamp/rsc/rsc-layout.js';
import { checkVringGeometry } from '../../openamp/virtio/vring-layout.js';
import { sha256Hex } from '../firmware-image.js';
import type { FirmwareImage, SuiteName } from '../target.js';
import {
  SIM_DATA_DA,
  SIM_DEFAULT_BUFFER_SIZE,
  SIM_DEFAULT_VRING_NUM,
  SIM_ELF_CLASS,
  SIM_ELF_MACHINE,
  SIM_TEXT_DA,
  SIM_TRACE_NAME,
  SIM_TRACE_SIZE,
  SIM_VRING_ALIGN,
  VDEV_BUFFER_CARVEOUT,
  simBufferCount,
} from './sim-machine.js';

export interface SimFirmwareOptions {
  program: RemoteProgramName;
  /** Entries per vring (power of two); 256 by default. */
  vringNum?: number;
  /** RPMsg buffer size including the header; 512 by default. */
  bufferSize?: number;
  /** e_machine; the sim's (EM_RISCV) by default. Tests set another to get an image the sim must refuse. */
  machine?: number;
}

/** The program each suite runs on the sim. */
export const SIM_PROGRAM_FOR_SUITE: Readonly<Record<SuiteName, RemoteProgramName>> = {
  echo: 'echo',
  'matrix-multiply': 'matrix-multiply',
  'multi-endpoint': 'multi-services',
  lifecycle: 'echo',
  flood: 'echo',
};

const TRACE_ALIGN = 0x100;

/**
 * A simulated-core firmware image: an ELF32 with a text segment holding the boot record at the
 * entry point and a data segment holding `.resource_table` (one carveout `vdev0buffer` for the
 * RPMsg buffers, the RPMsg vdev with two host-allocated vrings, a trace buffer) followed by the
 * zero-filled trace buffer. Same options, same bytes.
 */
export function buildSimFirmware(options: SimFirmwareOptions): Uint8Array {
  const vringNum = options.vringNum ?? SIM_DEFAULT_VRING_NUM;
  const bufferSize = options.bufferSize ?? SIM_DEFAULT_BUFFER_SIZE;
  checkVringGeometry(vringNum, SIM_VRING_ALIGN, `sim firmware vring`);
  if (!Number.isInteger(bufferSize) || bufferSize < 64 || bufferSize > 0x10000 || bufferSize % 16 !== 0) {
    throw new FirmwareError(`sim firmware: buffer size ${bufferSize} must be a multiple of 16 between 64 and 65536`);
  }
  const table = (traceDa: number): Uint8Array =>
    buildRpmsgResourceTable({
      num: vringNum,
      align: SIM_VRING_ALIGN,
      carveouts: [{ da: FW_RSC_ADDR_ANY, pa: FW_RSC_ADDR_ANY, len: simBufferCount(vringNum) * bufferSize, name: VDEV_BUFFER_CARVEOUT }],
      trace: { da: traceDa, len: SIM_TRACE_SIZE, name: SIM_TRACE_NAME },
    });
  // The table's length does not depend on the addresses in it.
  const traceDa = SIM_DATA_DA + Math.ceil(table(0).length / TRACE_ALIGN) * TRACE_ALIGN;
  const resourceTable = table(traceDa);
  const boot = encodeBootRecord({ program: options.program, resourceTableDa: SIM_DATA_DA, resourceTableSize: resourceTable.length, bufferSize });
  const text = new Uint8Array(Math.ceil(BOOT_RECORD_SIZE / 16) * 16);
  text.set(boot, 0);
  return buildElf({
    class: SIM_ELF_CLASS,
    machine: options.machine ?? SIM_ELF_MACHINE,
    entry: SIM_TEXT_DA,
    segments: [
      { paddr: SIM_TEXT_DA, data: text, flags: PF_R | PF_X, align: 0x1000 },
      { paddr: SIM_DATA_DA, data: resourceTable, memsz: traceDa + SIM_TRACE_SIZE - SIM_DATA_DA, flags: PF_R | PF_W, align: 0x1000 },
    ],
    sections: [
      { name: '.text', addr: SIM_TEXT_DA, data: text, segmentIndex: 0 },
      { name: RESOURCE_TABLE_SECTION, addr: SIM_DATA_DA, data: resourceTable, segmentIndex: 1 },
    ],
  });
}

/** File name of an image: `<program>.elf` with the default geometry, else with it spelled out. */
export function simFirmwareFileName(options: SimFirmwareOptions): string {
  const num = options.vringNum ?? SIM_DEFAULT_VRING_NUM;
  const size = options.bufferSize ?? SIM_DEFAULT_BUFFER_SIZE;
  const geometry = num === SIM_DEFAULT_VRING_NUM && size === SIM_DEFAULT_BUFFER_SIZE ? '' : `-n${num}-b${size}`;
  const machine = options.machine === undefined || options.machine === SIM_ELF_MACHINE ? '' : `-em${options.machine}`;
  return `${options.program}${geometry}${machine}.elf`;
}

/** Writes the image into `<dir>/<program>.elf` (atomically) and describes it. */
export async function writeSimFirmware(dir: string, options: SimFirmwareOptions): Promise<FirmwareImage> {
  const bytes = buildSimFirmware(options);
  const name = simFirmwareFileName(options);
  const path = join(dir, name);
  await mkdir(dir, { recursive: true });
  // Unique per call: two suites may write the same image at once.
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
  return { label: name, path, sha256: sha256Hex(bytes) };
}
