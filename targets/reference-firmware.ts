/**
 * Which reference program (firmware/) each suite runs, for the kinds that run the reference
 * firmware (QEMU kinds, linux-process). Here, not in a kind, so kinds share it without
 * importing each other.
 */
import type { FirmwareProgram } from '../firmware/build.js';
import { SUITE_NAMES, type SuiteName } from './target.js';

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
