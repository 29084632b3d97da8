import { ensureFirmwareBuilt, firmwarePath } from '../../firmware/build.js';
import { InfrastructureError } from '../../openamp/errors.js';
import { ConsoleBuffer } from '../console-buffer.js';
import { firmwareImageFromFile } from '../firmware-image.js';
import { ToolFlasher } from '../flasher/flasher-drivers.js';
import { createPower } from '../power/power-drivers.js';
import type { FlasherProtocol, PowerProtocol, Strategy } from '../protocols.js';
import { PROGRAM_FOR_SUITE } from '../qemu/qemu-target.js';
import type { TargetContext } from '../registry.js';
import { SshShell, shellQuote } from '../ssh/ssh-shell.js';
import { resolveSshPaths, type SshParams } from '../ssh/ssh-params.js';
import { SUITE_NAMES, type FirmwareImage, type Host, type SuiteName, type Target, type TargetCapabilities, type TargetLog } from '../target.js';
import { LinuxRemoteprocHost } from './linux-remoteproc-host.js';
import type { LinuxRemoteprocParams } from './linux-remoteproc-params.js';

export type BoardState = 'off' | 'powered' | 'shell' | 'ready';
export const BOARD_STATES: readonly BoardState[] = ['off', 'powered', 'shell', 'ready'];

/** The board answered, but is not the board farm.yaml names. */
export class WrongBoardError extends InfrastructureError {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Brings a Linux remoteproc board up step by step: off -> powered (power driver, when there is
 * one) -> shell (SSH session; a board that stays silent is power-cycled once) -> ready (identity
 * checked, remoteproc instance found, rpmsg helper running). Down: the helper and the session
 * are released; the supply is left as it is (a lab's boards stay on between runs).
 */
export class LinuxBoardStrategy implements Strategy<BoardState> {
  readonly states = BOARD_STATES;
  private current: BoardState = 'off';
  shell: SshShell | undefined;
  host: LinuxRemoteprocHost | undefined;

  constructor(
    private readonly target: string,
    private readonly params: LinuxRemoteprocParams,
    private readonly ssh: SshParams,
    readonly power: PowerProtocol | undefined,
    private readonly log: () => TargetLog | undefined,
    private readonly onKernelLog: (line: string) => void,
  ) {}

  get state(): BoardState {
    return this.current;
  }

  private info(line: string): void {
    this.log()?.info(line);
  }

  async transition(state: BoardState): Promise<void> {
    const to = BOARD_STATES.indexOf(state);
    while (BOARD_STATES.indexOf(this.current) !== to) {
      const from = this.current;
      const up = BOARD_STATES.indexOf(from) < to;
      const next = BOARD_STATES[BOARD_STATES.indexOf(from) + (up ? 1 : -1)] as BoardState;
      const detail = up ? await this.stepUp(next) : await this.stepDown(from);
      this.current = next;
      this.info(`${this.target}: ${from} -> ${next}: ${detail}`);
    }
  }

  private async stepUp(next: BoardState): Promise<string> {
    if (next === 'powered') {
      if (!this.power) return 'no power control configured: the board is assumed on';
      await this.power.on();
      return 'power on';
    }
    if (next === 'shell') return this.connect();
    return this.ready();
  }

  private async stepDown(from: BoardState): Promise<string> {
    if (from === 'ready') {
      await this.host?.detach();
      this.host = undefined;
      return 'rpmsg helper and polling stopped';
    }
    if (from === 'shell') {
      await this.shell?.close();
      this.shell = undefined;
      return 'SSH session closed';
    }
    return 'released (the supply is left as it is)';
  }

  /** SSH until bootTimeoutMs; a board still silent then is power-cycled once (when it can be). */
  private async connect(): Promise<string> {
    try {
      this.shell = await this.connectUntil(Date.now() + this.params.bootTimeoutMs);
    } catch (error) {
      if (!this.power || !isSilence(error)) throw error;
      this.info(`${this.target}: board silent (${(error as Error).message}); power-cycling it`);
      await this.power.cycle();
      this.shell = await this.connectUntil(Date.now() + this.params.bootTimeoutMs);
    }
    const swept = await this.shell.sweepStaleProcesses();
    return `SSH session ${this.shell.address}${swept ? `, ${swept} processes of an earlier session ended` : ''}`;
  }

  private async connectUntil(deadline: number): Promise<SshShell> {
    for (;;) {
      try {
        return await SshShell.connect(this.target, this.ssh, { log: (line) => this.info(line) });
      } catch (error) {
        // Wrong keys are not cured by waiting; a board still booting is.
        if (!isSilence(error) || Date.now() + 1000 > deadline) throw error;
        await sleep(1000);
      }
    }
  }

  private async ready(): Promise<string> {
    const shell = this.shell as SshShell;
    const identity = await checkIdentity(this.target, shell, this.params.identity);
    const host = new LinuxRemoteprocHost({
      target: this.target,
      shell,
      rprocName: this.params.remoteproc,
      firmwareDir: this.params.firmwareDir,
      helperAbi: this.params.helperAbi,
      helperDir: this.params.helperDir,
      rpmsgCtrl: this.params.rpmsgCtrl,
      startTimeoutMs: this.params.startTimeoutMs,
      pollMs: this.params.pollMs,
      log: (line) => this.info(line),
      onKernelLog: this.onKernelLog,
    });
    await host.attach();
    this.host = host;
    return `${identity}; remoteproc ${this.params.remoteproc} found, rpmsg helper running`;
  }
}

/** Refused / reset / no answer: what a board that is off or still booting gives. */
function isSilence(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ETIMEDOUT|no SSH session|closed|Timed out/i.test(message) && !/authentication|host key/i.test(message);
}

/** Reads the board's identity and compares it with farm.yaml's: a different board is refused before any test. */
export async function checkIdentity(target: string, shell: SshShell, expected: LinuxRemoteprocParams['identity']): Promise<string> {
  const checks: [string, string, string | undefined][] = [
    ['machine id', 'cat /etc/machine-id', expected.machineId],
    ['serial number', "tr -d '\\0' < /proc/device-tree/serial-number", expected.serialNumber],
  ];
  const seen: string[] = [];
  for (const [what, command, want] of checks) {
    if (want === undefined) continue;
    const got = (await shell.run(command)).stdout.trim();
    if (got !== want) {
      throw new WrongBoardError(`${target}: wrong board at ${shell.address}: its ${what} is ${got ? JSON.stringify(got) : '(unreadable)'}, farm.yaml expects ${JSON.stringify(want)}`);
    }
    seen.push(`${what} ${got}`);
  }
  return seen.length ? `identity checked (${seen.join(', ')})` : 'no identity configured (farm.yaml identity: machineId / serialNumber)';
}

export class LinuxRemoteprocTarget implements Target {
  readonly capabilities: TargetCapabilities = { suites: SUITE_NAMES, restartable: true, faults: ['crash'], kernelClientSample: true, hostAnnouncedChannels: false };
  readonly strategy: LinuxBoardStrategy;
  readonly flasher: FlasherProtocol | undefined;
  private log: TargetLog | undefined;
  private readonly consoleBuffer = new ConsoleBuffer((stream, text) => this.log?.console(stream, text));

  constructor(
    readonly name: string,
    readonly kind: string,
    private readonly params: LinuxRemoteprocParams,
    private readonly context: TargetContext,
  ) {
    const power: PowerProtocol | undefined = params.power ? createPower(name, params.power) : undefined;
    this.flasher = params.flasher ? new ToolFlasher(name, params.flasher) : undefined;
    this.strategy = new LinuxBoardStrategy(name, params, resolveSshPaths(params.ssh, context.configDir), power, () => this.log, (line) => this.consoleBuffer.write('kmsg', `${line}\n`));
  }

  get host(): Host {
    if (!this.strategy.host) throw new InfrastructureError(`${this.name}: the target is not set up`);
    return this.strategy.host;
  }

  async setup(log: TargetLog): Promise<void> {
    this.log = log;
    await this.strategy.transition('ready');
  }

  async firmwareFor(suite: SuiteName): Promise<FirmwareImage> {
    const configured = this.context.firmware[suite];
    // Without farm.yaml images: the project's Cortex-M4 reference firmware (what the board double runs).
    const path = configured ?? firmwarePath('cortex-m4', PROGRAM_FOR_SUITE[suite]);
    if (!configured) await ensureFirmwareBuilt('cortex-m4', { programs: [PROGRAM_FOR_SUITE[suite]] });
    return firmwareImageFromFile(this.name, suite, path);
  }

  takeConsole(): string {
    return this.consoleBuffer.take();
  }

  properties(): Record<string, string> {
    const { ssh } = this.params;
    return {
      'target.kind': this.kind,
      'board.preset': this.params.preset ?? '(none)',
      'board.ssh': `${ssh.user}@${ssh.host}:${ssh.port}`,
      'board.remoteproc': this.params.remoteproc,
      'board.helper': `rpmsg-helper (${this.params.helperAbi}) on ${this.params.rpmsgCtrl}`,
      ...(this.params.identity.machineId ? { 'board.machineId': this.params.identity.machineId } : {}),
      ...(this.params.identity.serialNumber ? { 'board.serialNumber': this.params.identity.serialNumber } : {}),
    };
  }

  async teardown(): Promise<void> {
    try {
      if (this.strategy.host && this.strategy.host.state !== 'offline') await this.strategy.host.stop().catch(() => {});
    } finally {
      await this.strategy.transition('off');
    }
  }
}

export { shellQuote };
