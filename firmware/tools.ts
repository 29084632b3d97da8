import * as path from 'node:path';
import { execa } from 'execa';
import { MissingToolError, findExecutable } from '../base/process/managed-process.js';
import { FirmwareBuildError, firmwareSourceDir, requirePrebuilt } from './build.js';

/** ABIs the rpmsg helper is built for: the board's userland (armhf: STM32MP1's A7; aarch64: ZynqMP, i.MX8), or this machine. */
export type ToolAbi = 'host' | 'armhf' | 'aarch64';
export const TOOL_ABIS: readonly ToolAbi[] = ['host', 'armhf', 'aarch64'];

export const TOOL_COMPILERS: Readonly<Record<ToolAbi, { readonly binary: string; readonly debianPackage: string }>> = {
  host: { binary: 'gcc', debianPackage: 'gcc' },
  armhf: { binary: 'arm-linux-gnueabihf-gcc', debianPackage: 'gcc-arm-linux-gnueabihf' },
  aarch64: { binary: 'aarch64-linux-gnu-gcc', debianPackage: 'gcc-aarch64-linux-gnu' },
};

function toolsDir(): string {
  return path.join(firmwareSourceDir(), 'tools');
}

function toolPath(abi: ToolAbi, tool: string): string {
  return path.join(firmwareSourceDir(), 'build', 'tools', abi, tool);
}

const building = new Map<string, Promise<string>>();

async function make(goal: string, abi: ToolAbi, file: string): Promise<string> {
  if (requirePrebuilt([file], `make -C firmware/tools ABIS=${abi} ${goal}`)) return file;
  const compiler = TOOL_COMPILERS[abi];
  if (!findExecutable(compiler.binary)) throw new MissingToolError(compiler.binary, compiler.debianPackage);
  const result = await execa('make', ['-C', toolsDir(), `ABIS=${abi}`, goal], { reject: false, all: true, stdin: 'ignore' });
  if (result.exitCode !== 0) throw new FirmwareBuildError(`building ${goal} failed (make exit ${result.exitCode}):\n${String(result.all ?? '').slice(-3000)}`);
  return file;
}

function once(key: string, run: () => Promise<string>): Promise<string> {
  let pending = building.get(key);
  if (!pending) {
    pending = run().finally(() => building.delete(key));
    building.set(key, pending);
  }
  return pending;
}

/** The rpmsg helper for `abi`, built (or found up to date) by firmware/tools/Makefile; a static binary. */
export function ensureRpmsgHelper(abi: ToolAbi): Promise<string> {
  const file = toolPath(abi, 'rpmsg-helper');
  return once(`helper:${abi}`, () => make(path.relative(toolsDir(), file), abi, file));
}

/** The FUSE bridge of the board double (this machine only; needs libfuse3-dev). */
export function ensureFuseBridge(): Promise<string> {
  const file = toolPath('host', 'fuse-bridge');
  return once('fuse-bridge', () => make('fuse-bridge', 'host', file));
}

/** The serial console of the board double (a pty whose master side runs a login program). */
export function ensureConsoleDouble(): Promise<string> {
  const file = toolPath('host', 'console-double');
  return once('console-double', () => make('console-double', 'host', file));
}

/**
 * Native helpers of this machine: the process-tree reaper every linux-process remote runs under,
 * the hostile test remote (issue 14), and the C ping host of `npm run bench:c-host` (open-amp's
 * host role on its Linux generic machine).
 */
export type HostTool = 'farm-reaper' | 'hostile-remote' | 'ping-host';

/** Where `tool` is once built (firmware/build/tools/host/<tool>). */
export function hostToolPath(tool: HostTool): string {
  return toolPath('host', tool);
}

/** Builds `tool` (or finds it up to date) with firmware/tools/Makefile; needs gcc and make. */
export function ensureHostTool(tool: HostTool): Promise<string> {
  const file = hostToolPath(tool);
  return once(`host-tool:${tool}`, () => make(tool, 'host', file));
}
