import { machineName } from './elf-constants.js';
import { ElfMachineMismatchError } from './elf-error.js';
import type { ElfClass, ElfImage } from './parse-elf.js';

/**
 * For RemoteprocOps.checkImage: throws unless the image was built for one of `machines`
 * (and, when given, for `elfClass`), naming both so a wrong image is obvious in the report.
 */
export function assertMachine(image: ElfImage, machines: number | readonly number[], elfClass?: ElfClass): void {
  const expected = typeof machines === 'number' ? [machines] : [...machines];
  const wanted = expected.map((m) => `${machineName(m)} (${m})`).join(' or ');
  if (!expected.includes(image.machine)) {
    throw new ElfMachineMismatchError(
      image.source,
      image.machine,
      expected,
      `${image.source}: built for ${image.machineName} (${image.machine}), but this core runs ${wanted}`,
    );
  }
  if (elfClass !== undefined && image.class !== elfClass) {
    throw new ElfMachineMismatchError(
      image.source,
      image.machine,
      expected,
      `${image.source}: ELF${image.class} image, but this core loads ELF${elfClass} images`,
    );
  }
}
