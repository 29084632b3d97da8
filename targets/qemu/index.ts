import { APU_STUB_COMPILER, QEMU_MACHINES, type QemuMachineName } from '../../qemu/machines.js';
import { findExecutable } from '../process/managed-process.js';
import type { TargetKindDefinition } from '../registry.js';
import { SUITE_NAMES, type Prerequisite } from '../target.js';
import { parseQemuParams, type QemuParams } from './qemu-params.js';
import { QemuTarget } from './qemu-target.js';

export { QemuTarget } from './qemu-target.js';
export { QemuRemoteprocOps, SegmentOutsideRamError } from './qemu-remoteproc-ops.js';

function tool(name: string, binary: string, debianPackage: string): Prerequisite {
  const found = findExecutable(binary);
  return { name, ok: found !== undefined, detail: found ?? `${binary} not found (Debian package ${debianPackage})`, debianPackages: [debianPackage] };
}

function qemuKind(machine: QemuMachineName): TargetKindDefinition<QemuParams> {
  const profile = QEMU_MACHINES[machine];
  return {
    kind: `qemu-${machine}`,
    description: `QEMU ${profile.description}; reference firmware from firmware/`,
    suites: SUITE_NAMES,
    parseParams: parseQemuParams,
    async prerequisites(): Promise<Prerequisite[]> {
      const list = [
        tool(`${profile.binary} (QEMU)`, profile.binary, profile.debianPackage),
        tool(`${profile.compiler.binary} (firmware build)`, profile.compiler.binary, profile.compiler.debianPackage),
        tool('make (firmware build)', 'make', 'make'),
        tool('setpriv (children die with the farm)', 'setpriv', 'util-linux'),
      ];
      if (machine === 'versal-r5') list.push(tool(`${APU_STUB_COMPILER.binary} (APU boot stub)`, APU_STUB_COMPILER.binary, APU_STUB_COMPILER.debianPackage));
      return list;
    },
    create: (name, params, context) => new QemuTarget(name, `qemu-${machine}`, profile, params, context),
  };
}

export const qemuKinds: readonly TargetKindDefinition<QemuParams>[] = [qemuKind('riscv64-virt'), qemuKind('cortex-m4'), qemuKind('versal-r5')];
export const kinds = qemuKinds;
