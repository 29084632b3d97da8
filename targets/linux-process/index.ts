import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { FIRMWARE_TOOLCHAINS } from '../../firmware/build.js';
import { findExecutable } from '../../base/process/managed-process.js';
import { toolPrerequisite as tool } from '../tool-prerequisite.js';
import type { TargetKindDefinition } from '../kind.js';
import { SUITE_NAMES, type Prerequisite } from '../target.js';
import { parseLinuxProcessParams, type LinuxProcessParams } from './linux-process-params.js';
import { KIND, LinuxProcessTarget } from './linux-process-target.js';

export { LinuxProcessTarget, referenceCommand, STDOUT_STREAM, STDERR_STREAM } from './linux-process-target.js';
export { LinuxProcessOps, RemoteDidNotStartError } from './linux-process-ops.js';
export { parseLinuxProcessParams, substitutePlaceholders, LINUX_PROCESS_PARAM_DEFAULTS, PLACEHOLDERS, type LinuxProcessParams } from './linux-process-params.js';

const LIBC_HEADER = '/usr/include/stdio.h';

/** `kind: linux-process`: the remote is a Linux process on open-amp's Linux generic machine. */
export const linuxProcessKind: TargetKindDefinition<LinuxProcessParams> = {
  kind: KIND,
  description: "Remote as a Linux process on open-amp's Linux generic machine (/dev/shm file + UNIX-socket kick); reference firmware from firmware/",
  suites: SUITE_NAMES,
  parseParams: parseLinuxProcessParams,
  acceptsFirmwareImages: false,
  remoteParam: { path: 'params.commands', runs: 'commands' },
  async prerequisites(params, context): Promise<Prerequisite[]> {
    const list: Prerequisite[] = [tool('setpriv (the remote dies with the farm)', 'setpriv', 'util-linux')];
    // Always: every remote runs under farm-reaper (firmware/tools), built like the reference firmware.
    {
      for (const { binary, debianPackage } of FIRMWARE_TOOLCHAINS['linux-process']) list.push(tool(`${binary} (reference firmware and farm-reaper build)`, binary, debianPackage));
      list.push(tool('make (reference firmware and farm-reaper build)', 'make', 'make'));
      // gcc only recommends the C library headers; doctor installs without recommends.
      const headers = existsSync(LIBC_HEADER);
      list.push({
        name: 'C library headers (reference firmware and farm-reaper build)',
        ok: headers,
        detail: headers ? LIBC_HEADER : `${LIBC_HEADER} not found (Debian package libc6-dev)`,
        debianPackages: ['libc6-dev'],
      });
    }
    for (const suite of SUITE_NAMES) {
      const command = params.commands[suite];
      if (!command) continue;
      const executable = command[0]!;
      // Relative paths with a '/' are relative to farm.yaml.
      const found = findExecutable(executable.includes('/') && !isAbsolute(executable) ? resolve(context.configDir, executable) : executable);
      list.push({
        name: `${suite} remote ${executable}`,
        ok: found !== undefined,
        detail: found ?? `${executable} is not an executable file${executable.includes('/') ? '' : ' on PATH'}`,
        hint: `fix params.commands.${suite}`,
      });
    }
    return list;
  },
  create: (name, params, context) => new LinuxProcessTarget(name, params, context),
};

export const kinds = [linuxProcessKind];
export default linuxProcessKind;
