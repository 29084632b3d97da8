import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { InfrastructureError } from '../base/errors.js';
import { MissingToolError, findExecutable } from '../base/process/managed-process.js';

/** The machines the reference firmware is built for (firmware/platform/<machine>). */
export type FirmwareMachine = 'linux-process' | 'riscv64-virt' | 'cortex-m4' | 'versal-r5' | 'zynqmp-r5';
export const FIRMWARE_MACHINES: readonly FirmwareMachine[] = ['linux-process', 'riscv64-virt', 'cortex-m4', 'versal-r5', 'zynqmp-r5'];

/** The three programs (firmware/apps), named as their ELF files. */
export type FirmwareProgram = 'echo' | 'matrix-multiply' | 'multi-services';
export const FIRMWARE_PROGRAMS: readonly FirmwareProgram[] = ['echo', 'matrix-multiply', 'multi-services'];

export interface BuildTool {
  readonly binary: string;
  readonly debianPackage: string;
}

/** The compiler of each machine's programs. */
const PROGRAM_COMPILERS: Readonly<Record<FirmwareMachine, BuildTool>> = {
  'linux-process': { binary: 'gcc', debianPackage: 'gcc' },
  'riscv64-virt': { binary: 'riscv64-unknown-elf-gcc', debianPackage: 'gcc-riscv64-unknown-elf' },
  'cortex-m4': { binary: 'arm-none-eabi-gcc', debianPackage: 'gcc-arm-none-eabi' },
  'versal-r5': { binary: 'arm-none-eabi-gcc', debianPackage: 'gcc-arm-none-eabi' },
  'zynqmp-r5': { binary: 'arm-none-eabi-gcc', debianPackage: 'gcc-arm-none-eabi' },
};

/**
 * The boot stub QEMU loads itself on machines that have one (firmware/build/<machine>/<file>),
 * and its compiler: the Versal and ZynqMP stubs run on the APU (A72 / A53), not on the R5.
 */
export const FIRMWARE_BOOT_STUBS: Readonly<Partial<Record<FirmwareMachine, { readonly file: string; readonly compiler: BuildTool }>>> = {
  'cortex-m4': { file: 'boot-stub.elf', compiler: PROGRAM_COMPILERS['cortex-m4'] },
  'versal-r5': { file: 'apu-stub.elf', compiler: { binary: 'aarch64-linux-gnu-gcc', debianPackage: 'gcc-aarch64-linux-gnu' } },
  'zynqmp-r5': { file: 'apu-stub.elf', compiler: { binary: 'aarch64-linux-gnu-gcc', debianPackage: 'gcc-aarch64-linux-gnu' } },
};

const MAKE: BuildTool = { binary: 'make', debianPackage: 'make' };

/** What to build for one machine; by default everything (every program and the boot stub). */
export interface FirmwareBuildRequest {
  readonly programs?: readonly FirmwareProgram[];
  /** The machine's boot stub, if it has one. */
  readonly bootStub?: boolean;
}

const EVERYTHING: FirmwareBuildRequest = { programs: FIRMWARE_PROGRAMS, bootStub: true };

/** Compilers each machine's whole build needs (programs and boot stub), with the Debian package of each. */
export const FIRMWARE_TOOLCHAINS: Readonly<Record<FirmwareMachine, readonly BuildTool[]>> = {
  'linux-process': compilersFor('linux-process', EVERYTHING),
  'riscv64-virt': compilersFor('riscv64-virt', EVERYTHING),
  'cortex-m4': compilersFor('cortex-m4', EVERYTHING),
  'versal-r5': compilersFor('versal-r5', EVERYTHING),
  'zynqmp-r5': compilersFor('zynqmp-r5', EVERYTHING),
};

/** The compilers `request` needs (none when it asks for nothing), without make. */
function compilersFor(machine: FirmwareMachine, request: FirmwareBuildRequest): BuildTool[] {
  const tools: BuildTool[] = [];
  if ((request.programs ?? []).length > 0) tools.push(PROGRAM_COMPILERS[machine]);
  const stub = FIRMWARE_BOOT_STUBS[machine];
  if (request.bootStub && stub && !tools.some((tool) => tool.binary === stub.compiler.binary)) tools.push(stub.compiler);
  return tools;
}

/** Every tool building `request` needs (compilers, then make); empty when there is nothing to build. */
export function firmwareBuildTools(machine: FirmwareMachine, request: FirmwareBuildRequest = EVERYTHING): BuildTool[] {
  const compilers = compilersFor(machine, request);
  return compilers.length > 0 ? [...compilers, MAKE] : [];
}

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

/** Missing build tools for `request` on `machine` (default: everything): empty when it can be built. */
export function missingFirmwareTools(machine: FirmwareMachine, request: FirmwareBuildRequest = EVERYTHING): BuildTool[] {
  return firmwareBuildTools(machine, request).filter((tool) => !findExecutable(tool.binary));
}

/** A compiler error or a failed make. */
export class FirmwareBuildError extends InfrastructureError {}

/** make goals (relative to firmware/) for `request`, sorted. */
function makeGoals(machine: FirmwareMachine, request: FirmwareBuildRequest): string[] {
  const files = new Set((request.programs ?? []).map((program) => `${program}.elf`));
  const stub = FIRMWARE_BOOT_STUBS[machine];
  if (request.bootStub && stub) files.add(stub.file);
  return [...files].sort().map((file) => `build/${machine}/${file}`);
}

/** Builds running or queued, by machine and goals: an identical request joins the pending one. */
const building = new Map<string, Promise<string>>();
/** The last build queued per machine: builds of one machine run one after another (one build dir). */
const machineQueue = new Map<FirmwareMachine, Promise<unknown>>();

/**
 * Builds (or finds up to date: make decides) what `request` asks for on `machine` (default:
 * every program and the boot stub) and returns the build directory. Asking for nothing builds
 * nothing and needs no tool (prebuilt images from farm.yaml). One build per machine at a time
 * in this process; make's own dependency check keeps repeated calls cheap.
 */
export function ensureFirmwareBuilt(machine: FirmwareMachine, request: FirmwareBuildRequest = EVERYTHING): Promise<string> {
  const goals = makeGoals(machine, request);
  if (goals.length === 0) return Promise.resolve(firmwareBuildDir(machine));
  const key = `${machine}:${goals.join(',')}`;
  let pending = building.get(key);
  if (!pending) {
    const previous = machineQueue.get(machine) ?? Promise.resolve();
    pending = previous
      .catch(() => {})
      .then(() => build(machine, request, goals))
      .finally(() => {
        if (building.get(key) === pending) building.delete(key);
      });
    building.set(key, pending);
    machineQueue.set(machine, pending);
    const queued = pending;
    queued.then(
      () => machineQueue.get(machine) === queued && machineQueue.delete(machine),
      () => machineQueue.get(machine) === queued && machineQueue.delete(machine),
    );
  }
  return pending;
}

/**
 * FARM_PREBUILT_ONLY=1: use what firmware/build already holds and never run make (a read-only
 * checkout with no compilers, e.g. bind-mounted into a container: the board double's image).
 */
export const PREBUILT_ONLY_ENV = 'FARM_PREBUILT_ONLY';

/** In prebuilt-only mode: `files` (absolute) must all exist; throws naming the missing ones and how to build them. */
export function requirePrebuilt(files: readonly string[], how: string): boolean {
  if (process.env[PREBUILT_ONLY_ENV] !== '1') return false;
  const missing = files.filter((file) => !isFile(file));
  if (missing.length > 0) throw new FirmwareBuildError(`${missing.join(', ')} not built, and ${PREBUILT_ONLY_ENV}=1 forbids building here: build it where the tools are (${how})`);
  return true;
}

async function build(machine: FirmwareMachine, request: FirmwareBuildRequest, goals: readonly string[]): Promise<string> {
  if (requirePrebuilt(goals.map((goal) => path.join(firmwareSourceDir(), goal)), `make -C firmware MACHINES=${machine}`)) return firmwareBuildDir(machine);
  const missing = missingFirmwareTools(machine, request);
  if (missing.length > 0) throw new MissingToolError(missing[0]!.binary, missing[0]!.debianPackage);
  const dir = firmwareSourceDir();
  const result = await execa('make', ['-C', dir, `MACHINES=${machine}`, ...goals], { reject: false, all: true, stdin: 'ignore' });
  if (result.exitCode !== 0) {
    throw new FirmwareBuildError(`building the ${machine} firmware failed (make exit ${result.exitCode}):\n${String(result.all ?? '').slice(-3000)}`);
  }
  return firmwareBuildDir(machine);
}
