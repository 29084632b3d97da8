/**
 * Which firmware a suite runs on a target: a built-in suite asks the target (its kind's
 * reference firmware, or farm.yaml's image for it); a user suite runs the image farm.yaml gives
 * the target for it (`targets[].firmware.<suite>`), else the reference firmware of the built-in
 * suite its entry names (`suites[].firmware`).
 */
import { InfrastructureError } from '../base/errors.js';
import { firmwareImageFromFile } from '../targets/firmware-image.js';
import { SUITE_NAMES, type FirmwareImage, type SuiteName, type Target, type TargetCapabilities } from '../targets/target.js';
import type { SuiteDefinition, TargetConfig } from './config.js';

/** The target's `firmware:` images of built-in suites (what its kind runs instead of its reference firmware). */
export function builtinFirmware(target: Pick<TargetConfig, 'firmware'>): Partial<Record<SuiteName, string>> {
  return Object.fromEntries(Object.entries(target.firmware).filter(([suite]) => (SUITE_NAMES as readonly string[]).includes(suite)));
}

type SuiteRef = Pick<SuiteDefinition, 'name' | 'builtin' | 'firmware'>;

export async function firmwareForSuite(target: Target, suite: SuiteRef, images: Readonly<Record<string, string>>): Promise<FirmwareImage> {
  if (suite.builtin) return target.firmwareFor(suite.name as Parameters<Target['firmwareFor']>[0]);
  const image = images[suite.name];
  if (image !== undefined) return firmwareImageFromFile(target.name, suite.name, image);
  if (suite.firmware) return target.firmwareFor(suite.firmware);
  throw new InfrastructureError(`${target.name}: no firmware for suite ${suite.name} (set targets.${target.name}.firmware.${suite.name}, or firmware: <built-in suite> in its suites: entry)`);
}

/** Why the target cannot run the suite, or undefined when it can. */
export function cannotRun(target: Pick<Target, 'name' | 'kind'> & { capabilities: TargetCapabilities }, suite: SuiteRef, images: Readonly<Record<string, string>>): string | undefined {
  const runs = (name: string) => (target.capabilities.suites as readonly string[]).includes(name);
  const because = target.capabilities.notApplicableBecause ? ` (not applicable: ${target.capabilities.notApplicableBecause})` : '';
  if (suite.builtin) return runs(suite.name) ? undefined : `target ${target.name} (${target.kind}) cannot run suite ${suite.name}${because}`;
  if (images[suite.name] !== undefined) return undefined;
  if (suite.firmware && runs(suite.firmware)) return undefined;
  return `target ${target.name} (${target.kind}) has no firmware for suite ${suite.name}`;
}
