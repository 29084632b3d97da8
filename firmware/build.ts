import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { InfrastructureError } from '../openamp/errors.js';
import { MissingToolError, findExecutable } from '../targets/process/managed-process.js';

/** The machines the reference firmware is built for (firmware/platform/<machine>). */
export type FirmwareMachine = 'linux-process' | 'riscv64-virt' | 'cortex-m4' | 'versal-r5';
export const FIRMWARE_MACHINES: readonly FirmwareMachine[] = ['linux-process', 'riscv64-virt', 'cortex-m4', 'versal-r5'];

/** The three programs (firmware/apps), named as their ELF files. */
export type FirmwareProgram = 'echo' | 'matrix-multiply' | 'multi-services';
export const FIRMWARE_PROGRAMS: readonly FirmwareProgram[] = ['echo', 'matrix-multiply', 'multi-services'];

/** Tools each machine's build needs, with the Debian package that provides each. */
export const FIRMWARE_TOOLCHAINS: Readonly<Record<FirmwareMachine, readonly { binary: string; debianPackage: string }[]>> = {
  'linux-process': [{ binary: 'gcc', debianPackage: 'gcc' }],
  'riscv64-virt': [{ binary: 'riscv64-unknown-elf-gcc', debianPackage: 'gcc-riscv64-unknown-elf' }],
  'cortex-m4': [{ binary: 'arm-none-eabi-gcc', debianPackage: 'gcc-arm-none-eabi' }],
  'versal-r5': [
    { binary: 'arm-none-eabi-gcc', debianPackage: 'gcc-arm-none-eabi' },
    { binary: 'aarch64-linux-gnu-gcc', debianPackage: 'gcc-aarch64-linux-gnu' },
  ],
};

/** The firmware/ source directory (found from this module, whatever the build output dir is). */
export function firmwareSourceDir(): string {
  // This file compiles to <outDir>/firmware/build.js; the sources stay in <repo>/firmware.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const repo = process.env.FARM_REPO_DIR ?? findRepoRoot(here);
  return path.join(repo, 'firmware');
}

function findRepoRoot(start: string): string {
  let dir = start;
  for (let i = 0; i < 8; i++) {
    if (isFile(path.join(dir, 'firmware', 'Makefile'))) return dir;
    dir = path.dirname(dir);
  }
  throw new InfrastructureError(`cannot find the repository's firmware/Makefile above ${start} (set FARM_REPO_DIR)`);
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export function firmwareBuildDir(machine: FirmwareMachine): string {
  return path.join(firmwareSourceDir(), 'build', machine);
}

export function firmwarePath(machine: FirmwareMachine, program: FirmwareProgram): string {
  return path.join(firmwareBuildDir(machine), `${program}.elf`);
}

/** Missing build tools for `machine`: empty when it can be built. */
export function missingFirmwareTools(machine: FirmwareMachine): { binary: string; debianPackage: string }[] {
  return [...FIRMWARE_TOOLCHAINS[machine], { binary: 'make', debianPackage: 'make' }].filter((tool) => !findExecutable(tool.binary));
}

/** A compiler error or a failed make. */
export class FirmwareBuildError extends InfrastructureError {}

const building = new Map<FirmwareMachine, Promise<string>>();

/**
 * Builds (or finds up to date: make decides) every program of `machine`; returns the build
 * directory. One build per machine at a time in this process; make's own dependency check
 * keeps repeated calls cheap.
 */
export function ensureFirmwareBuilt(machine: FirmwareMachine): Promise<string> {
  let pending = building.get(machine);
  if (!pending) {
    pending = build(machine).finally(() => building.delete(machine));
    building.set(machine, pending);
  }
  return pending;
}

async function build(machine: FirmwareMachine): Promise<string> {
  const missing = missingFirmwareTools(machine);
  if (missing.length > 0) throw new MissingToolError(missing[0]!.binary, missing[0]!.debianPackage);
  const dir = firmwareSourceDir();
  const result = await execa('make', ['-C', dir, `MACHINES=${machine}`], { reject: false, all: true, stdin: 'ignore' });
  if (result.exitCode !== 0) {
    throw new FirmwareBuildError(`building the ${machine} firmware failed (make exit ${result.exitCode}):\n${String(result.all ?? '').slice(-3000)}`);
  }
  return firmwareBuildDir(machine);
}
