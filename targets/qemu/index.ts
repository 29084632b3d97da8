import { firmwareBuildTools } from '../../firmware/build.js';
import { QEMU_MACHINES, type QemuMachineName } from '../../qemu/machines.js';
import { toolPrerequisite as tool } from '../tool-prerequisite.js';
import type { TargetKindDefinition } from '../kind.js';
import { SUITE_NAMES, type Prerequisite } from '../target.js';
import { parseQemuParams, type QemuParams } from './qemu-params.js';
import { containerPrerequisites } from '../drivers/container-prerequisites.js';
import { QemuTarget } from './qemu-target.js';
import { referenceProgramsNeeded } from '../reference-firmware.js';

export { QemuTarget } from './qemu-target.js';
export { QemuRemoteprocOps, SegmentOutsideRamError } from './qemu-remoteproc-ops.js';

function qemuKind(machine: QemuMachineName): TargetKindDefinition<QemuParams> {
  const profile = QEMU_MACHINES[machine];
  return {
    kind: `qemu-${machine}`,
    description: `QEMU ${profile.description}; reference firmware from firmware/`,
    suites: SUITE_NAMES,
    parseParams: parseQemuParams,
    machine: { elfMachine: profile.elfMachine, elfClass: profile.elfClass },
    async prerequisites(params, context): Promise<Prerequisite[]> {
      // What setup builds: the boot stub and the programs of suites farm.yaml gives no image for.
      const build = firmwareBuildTools(machine, { programs: referenceProgramsNeeded(context.firmware ?? {}), bootStub: true });
      return [
        // In a container, QEMU comes with the image: the host needs the engine, not QEMU.
        ...(params.container ? await containerPrerequisites(params.container) : [tool(`${profile.binary} (QEMU)`, profile.binary, profile.debianPackage)]),
        ...build.map(({ binary, debianPackage }) => tool(`${binary} (firmware build)`, binary, debianPackage)),
        tool('setpriv (children die with the farm)', 'setpriv', 'util-linux'),
      ];
    },
    create: (name, params, context) => new QemuTarget(name, `qemu-${machine}`, profile, params, context),
  };
}

export const qemuKinds: readonly TargetKindDefinition<QemuParams>[] = [qemuKind('riscv64-virt'), qemuKind('cortex-m4'), qemuKind('versal-r5'), qemuKind('zynqmp-r5')];
export const kinds = qemuKinds;
