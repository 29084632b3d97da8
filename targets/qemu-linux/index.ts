import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { findExecutable } from '../../base/process/managed-process.js';
import type { TargetKindDefinition } from '../kind.js';
import { SUITE_NAMES, type Prerequisite } from '../target.js';
import { parseQemuLinuxParams, type QemuLinuxParams } from './qemu-linux-params.js';
import { QemuLinuxTarget } from './qemu-linux-target.js';

export { QemuLinuxTarget } from './qemu-linux-target.js';

function fileCheck(name: string, file: string | undefined, configDir: string, hint: string): Prerequisite[] {
  if (file === undefined) return [];
  const path = isAbsolute(file) ? file : resolve(configDir, file);
  const found = existsSync(path);
  return [{ name, ok: found, detail: found ? path : `${path} does not exist`, hint }];
}

export const qemuLinuxKind: TargetKindDefinition<QemuLinuxParams> = {
  kind: 'qemu-linux',
  description: "A Linux system booted by the farm in the user's QEMU (kernel, initrd/rootfs: e.g. a buildroot output), reached over SSH on a forwarded port; its tests are the board's own commands and their verdict lines",
  // The byte-level suites are reported per target as not applicable (capabilities), never dropped unseen.
  suites: SUITE_NAMES,
  parseParams: (raw, path) => parseQemuLinuxParams(raw, path),
  async prerequisites(params, context): Promise<Prerequisite[]> {
    const qemu = params.qemu.binary;
    const checks: Prerequisite[] = [
      {
        name: `QEMU ${qemu}`,
        ok: findExecutable(qemu) !== undefined,
        detail: findExecutable(qemu) ?? 'not found',
        ...(qemu.startsWith('qemu-system-') && !qemu.includes('/') ? { debianPackages: ['qemu-system-misc'] } : { hint: 'install your QEMU build or fix qemu.binary' }),
      },
      ...fileCheck('kernel', params.kernel, context.configDir, 'build the image (buildroot: output/images/Image) or fix kernel'),
      ...fileCheck('initrd', params.initrd, context.configDir, 'fix initrd'),
      ...fileCheck('root filesystem', params.rootfs, context.configDir, 'fix rootfs'),
      ...fileCheck('SSH private key', params.ssh.privateKey, context.configDir, 'fix ssh.privateKey'),
    ];
    if (params.qemu.bios !== undefined && params.qemu.bios !== 'default' && params.qemu.bios !== 'none') checks.push(...fileCheck('firmware (-bios)', params.qemu.bios, context.configDir, 'fix qemu.bios'));
    return checks;
  },
  create: (name, params, context) => new QemuLinuxTarget(name, 'qemu-linux', params, context),
};

export const kinds = [qemuLinuxKind];
