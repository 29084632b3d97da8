import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { resolve } from 'node:path';
import { EM_ARM } from '../../openamp/elf/elf-constants.js';
import { TOOL_COMPILERS } from '../../firmware/tools.js';
import { findExecutable } from '../../base/process/managed-process.js';
import { toolPrerequisite as tool } from '../tool-prerequisite.js';
import type { TargetKindDefinition } from '../kind.js';
import { knownHostKeys, knownHostsName } from '../ssh/host-key.js';
import { resolveSshPaths, type SshParams } from '../ssh/ssh-params.js';
import { SUITE_NAMES, type Prerequisite } from '../target.js';
import { parseLinuxRemoteprocParams, type LinuxRemoteprocParams } from './linux-remoteproc-params.js';
import { LinuxRemoteprocTarget } from './linux-remoteproc-target.js';
import { LinuxContainerTarget } from './linux-container-target.js';
import { containerPrerequisites } from '../drivers/container-prerequisites.js';

export { LinuxRemoteprocTarget } from './linux-remoteproc-target.js';

function reachable(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (problem: string | undefined) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (error) => done(error.message));
  });
}

async function sshPrerequisites(ssh: SshParams): Promise<Prerequisite[]> {
  const checks: Prerequisite[] = [];
  const problem = await reachable(ssh.host, ssh.port, 3000);
  checks.push({ name: `SSH port ${ssh.host}:${ssh.port} reachable`, ok: problem === undefined, detail: problem ?? 'accepts connections', hint: 'power the board and check its network' });
  if (ssh.hostKey !== undefined) checks.push({ name: 'board host key known', ok: true, detail: 'pinned in farm.yaml (ssh.hostKey)' });
  else {
    let detail: string;
    let ok = false;
    try {
      ok = knownHostKeys(ssh.knownHosts as string, ssh.host, ssh.port).keys.length > 0;
      detail = ok ? `listed in ${ssh.knownHosts}` : `${ssh.knownHosts} has no key for ${knownHostsName(ssh.host, ssh.port)}`;
    } catch (error) {
      detail = (error as Error).message;
    }
    checks.push({ name: 'board host key known', ok, detail, hint: `check the key on the board's console, then: ssh-keyscan -p ${ssh.port} ${ssh.host} >> ${ssh.knownHosts}` });
  }
  return checks;
}

export const linuxRemoteprocKind: TargetKindDefinition<LinuxRemoteprocParams> = {
  kind: 'linux-remoteproc',
  description: 'A board running Linux on its application cores (remoteproc + rpmsg_char over SSH, or serial-only), presets stm32mp157c-dk2, zynqmp-petalinux',
  suites: SUITE_NAMES,
  parseParams: parseLinuxRemoteprocParams,
  machine: { elfMachine: EM_ARM, elfClass: 32 },
  async prerequisites(params, context): Promise<Prerequisite[]> {
    const compiler = TOOL_COMPILERS[params.helperAbi];
    const checks: Prerequisite[] = [tool(`${compiler.binary} (rpmsg helper for ${params.helperAbi})`, compiler.binary, compiler.debianPackage), tool('make', 'make', 'make')];
    // A board in a container: the engine and the image; its SSH port exists once the container runs.
    if (params.container) {
      const binds = params.container.binds.map((bind): Prerequisite => {
        const source = resolve(context.configDir, bind.host);
        const found = existsSync(source);
        return { name: `container bind ${bind.host} -> ${bind.container}`, ok: found, detail: found ? source : `${source} does not exist`, hint: 'fix container.binds (a relative path is relative to farm.yaml)' };
      });
      return [...checks, ...binds, ...(await containerPrerequisites(params.container.image))];
    }
    if (params.ssh) checks.push(...(await sshPrerequisites(resolveSshPaths(params.ssh, context.configDir))));
    if (params.helperLine) {
      const found = existsSync(params.helperLine.path);
      checks.push({ name: `rpmsg helper's serial line ${params.helperLine.path}`, ok: found, detail: found ? `present (the board's ${params.helperLine.boardDevice})` : 'no such device', hint: 'plug in the USB-serial adapter wired to the board\'s second UART, or fix helperLine.path' });
    }
    if (params.console) {
      const found = existsSync(params.console.path);
      checks.push({ name: `serial console ${params.console.path}`, ok: found, detail: found ? 'present' : 'no such device', hint: 'plug the board\'s USB console in (the DK2: the ST-LINK port), or fix console.path' });
    }
    if (params.power?.type === 'uhubctl') checks.push(tool('uhubctl (power)', params.power.binary, 'uhubctl'));
    if (params.power?.type === 'command') checks.push({ name: 'power command', ok: findExecutable(params.power.on[0] as string) !== undefined, detail: params.power.on[0] as string });
    if (params.flasher) checks.push({ name: `flasher ${params.flasher.tool}`, ok: findExecutable(params.flasher.binary) !== undefined, detail: params.flasher.binary, hint: 'install the vendor tool (STM32CubeProgrammer is not in Debian)' });
    return checks;
  },
  create: (name, params, context) =>
    params.container && params.ssh ? new LinuxContainerTarget(name, 'linux-remoteproc', { ...params, container: params.container, ssh: params.ssh }, context) : new LinuxRemoteprocTarget(name, 'linux-remoteproc', params, context),
};

export const kinds = [linuxRemoteprocKind];
