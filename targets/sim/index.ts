import type { Prerequisite } from '../target.js';
import { SUITE_NAMES } from '../target.js';
import type { TargetKindDefinition } from '../kind.js';
import { parseSimParams, type SimParams } from './sim-params.js';
import { SimTarget } from './sim-target.js';
import { SIM_ELF_CLASS, SIM_ELF_MACHINE } from './sim-machine.js';

export { SimTarget } from './sim-target.js';
export { SimSoc, type SimSocOptions } from './sim-soc.js';
export { parseSimParams, SIM_PARAM_DEFAULTS, type SimParams } from './sim-params.js';
export { buildSimFirmware, writeSimFirmware, SIM_PROGRAM_FOR_SUITE, type SimFirmwareOptions } from './sim-firmware.js';

const MIN_NODE_MAJOR = 20;

/** `kind: sim`: the simulated AMP SoC (host and TypeScript remote as threads of one process). */
export const simKind: TargetKindDefinition<SimParams> = {
  kind: 'sim',
  description: 'Simulated AMP SoC: TypeScript remote core in a worker thread, SharedArrayBuffer DDR, Atomics doorbell',
  suites: SUITE_NAMES,
  parseParams: parseSimParams,
  machine: { elfMachine: SIM_ELF_MACHINE, elfClass: SIM_ELF_CLASS },
  async prerequisites(): Promise<Prerequisite[]> {
    const major = Number(process.versions.node.split('.')[0]);
    return [
      {
        name: 'Node.js >= 20 (worker threads, SharedArrayBuffer, Atomics.waitAsync)',
        ok: major >= MIN_NODE_MAJOR && typeof SharedArrayBuffer === 'function',
        detail: `node ${process.version}`,
        hint: 'install Node.js 20 or later',
      },
    ];
  },
  create: (name, params, context) => new SimTarget(name, params, context),
};

export default simKind;
