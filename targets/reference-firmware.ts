/**
 * Which reference program (firmware/) each suite runs, for the kinds that run the reference
 * firmware (QEMU kinds, linux-process). Here, not in a kind, so kinds share it without
 * importing each other.
 */
import { ensureFirmwareBuilt, firmwarePath, type FirmwareMachine, type FirmwareProgram } from '../firmware/build.js';
import { firmwareImageFromFile } from './firmware-image.js';
import { SUITE_NAMES, type FirmwareImage, type SuiteName } from './target.js';

export const PROGRAM_FOR_SUITE: Readonly<Record<SuiteName, FirmwareProgram>> = {
  echo: 'echo',
  'matrix-multiply': 'matrix-multiply',
  'multi-endpoint': 'multi-services',
  lifecycle: 'echo',
  flood: 'echo',
};

/** Reference programs needed for the suites whose image farm.yaml does not give. */
export function referenceProgramsNeeded(firmware: Readonly<Partial<Record<SuiteName, string>>>): FirmwareProgram[] {
  return [...new Set(SUITE_NAMES.filter((suite) => !firmware[suite]).map((suite) => PROGRAM_FOR_SUITE[suite]))];
}

/**
 * The image `target` runs for `suite`: the one farm.yaml gives (`configured`), or else the
 * reference program for the suite built for `machine` (built now if it is not yet).
 */
export async function suiteFirmware(target: string, suite: SuiteName, configured: string | undefined, machine: FirmwareMachine): Promise<FirmwareImage> {
  if (configured) return firmwareImageFromFile(target, suite, configured);
  await ensureFirmwareBuilt(machine, { programs: [PROGRAM_FOR_SUITE[suite]] });
  return firmwareImageFromFile(target, suite, firmwarePath(machine, PROGRAM_FOR_SUITE[suite]));
}
