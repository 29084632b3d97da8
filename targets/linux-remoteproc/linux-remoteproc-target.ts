import { InfrastructureError } from '../../base/errors.js';
import { ConsoleBuffer } from '../console-buffer.js';
import { ToolFlasher } from '../flasher/flasher-drivers.js';
import { createPower } from '../power/power-drivers.js';
import type { FlasherProtocol, PowerProtocol } from '../protocols.js';
import { OrderedStrategy, formatStrategyStep } from '../strategies/ordered-strategy.js';
import { SerialConsole } from '../../base/serial/serial-console.js';
import { SerialShell } from '../serial-shell.js';
import { suiteFirmware } from '../reference-firmware.js';
import type { TargetContext } from '../kind.js';
import { SshShell, shellQuote } from '../ssh/ssh-shell.js';
import { resolveSshPaths, type SshParams } from '../ssh/ssh-params.js';
import { SUITE_NAMES, type FirmwareImage, type Host, type SuiteName, type Target, type TargetCapabilities, type TargetLog } from '../target.js';
import { LinuxRemoteprocHost } from './linux-remoteproc-host.js';
import type { LinuxRemoteprocParams } from './linux-remoteproc-params.js';

export type BoardState = 'off' | 'powered' | 'shell' | 'ready';

/** The board answered, but is not the board farm.yaml names. */
export class WrongBoardError extends InfrastructureError {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The parts of a Linux remoteproc board that its strategy acquires step by step: off -> powered
 * (power driver, when there is one) -> shell (SSH session; a board that stays silent is
 * power-cycled once) -> ready (identity checked, remoteproc instance found, rpmsg helper
 * running). Down: the helper and the session are released; the supply is left as it is (a
 * lab's boards stay on between runs).
 */
export class LinuxBoard {
  shell: SshShell | undefined;
  /** The serial console, open from 'powered' on when farm.yaml has `console:`. */
  console: SerialConsole | undefined;
  host: LinuxRemoteprocHost | undefined;
  readonly strategy: OrderedStrategy<BoardState>;

  constructor(
    private readonly target: string,
    private readonly params: LinuxRemoteprocParams,
    private readonly ssh: SshParams,
    readonly power: PowerProtocol | undefined,
    private readonly log: () => TargetLog | undefined,
    private readonly onKernelLog: (line: string) => void,
    private readonly onConsole: (text: string) => void = () => {},
  ) {
    this.strategy = new OrderedStrategy<BoardState>({
      target,
      states: ['off', 'powered', 'shell', 'ready'],
      ready: 'ready',
      log: (step) => this.info(formatStrategyStep(step)),
      steps: {
        powered: {
          detail: `${power ? 'power on' : 'no power control configured: the board is assumed on'}${params.console ? `; console ${params.console.path} captured` : ''}`,
          up: async () => {
            // The console first: what the board prints while it powers up is in the report.
            if (params.console) {
              this.console = await SerialConsole.open({ path: params.console.path, baudRate: params.console.baudRate, name: 'console', onText: (text) => this.onConsole(text) });
            }
            await this.power?.on();
          },
          down: async () => {
            // The supply is left as it is.
            await this.console?.close();
            this.console = undefined;
          },
        },
        shell: {
          detail: `SSH session ${ssh.user}@${ssh.host}:${ssh.port} (host key verified; a silent board is power-cycled once when it can be)`,
          up: () => this.connect(),
          down: async () => {
            await this.shell?.close();
            this.shell = undefined;
          },
        },
        ready: {
          detail: `board identity checked, remoteproc "${params.remoteproc}" found, rpmsg helper (${params.helperAbi}) running`,
          up: () => this.ready(),
          down: async () => {
            await this.host?.detach();
            this.host = undefined;
          },
        },
      },
    });
  }

  private info(line: string): void {
    this.log()?.info(line);
  }

  /** A shell on the serial console (logs in with farm.yaml's console user and password). */
  async serialShell(env: NodeJS.ProcessEnv = process.env): Promise<SerialShell> {
    const config = this.params.console;
    if (!config || !this.console) throw new InfrastructureError(`${this.target}: no serial console (farm.yaml console:) or the board is not powered`);
    const password = config.passwordEnv ? env[config.passwordEnv] : undefined;
    if (config.passwordEnv && password === undefined) throw new InfrastructureError(`${this.target}: console.passwordEnv names ${config.passwordEnv}, which is not set`);
    return SerialShell.login(this.console, {
      target: this.target,
      user: config.user,
      ...(password !== undefined ? { password } : {}),
      loginTimeoutMs: config.loginTimeoutMs,
      commandTimeoutMs: this.params.startTimeoutMs,
    });
  }

  /** SSH until bootTimeoutMs; a board still silent then is power-cycled once (when it can be). */
  private async connect(): Promise<void> {
    try {
      this.shell = await this.connectUntil(Date.now() + this.params.bootTimeoutMs);
    } catch (error) {
      if (!this.power || !isSilence(error)) throw error;
      this.info(`${this.target}: board silent (${(error as Error).message}); power-cycling it`);
      await this.power.cycle();
      this.shell = await this.connectUntil(Date.now() + this.params.bootTimeoutMs);
    }
    const swept = await this.shell.sweepStaleProcesses();
    if (swept) this.info(`${this.target}: ended ${swept} processes an earlier session left on the board`);
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

  private async ready(): Promise<void> {
    const shell = this.shell as SshShell;
    const identity = await checkIdentity(this.target, shell, this.params.identity);
    this.info(`${this.target}: ${identity}`);
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
      stallTimeoutMs: this.params.stallTimeoutMs,
      log: (line) => this.info(line),
      onKernelLog: this.onKernelLog,
    });
    await host.attach();
    this.host = host;
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
  readonly capabilities: TargetCapabilities;
  readonly board: LinuxBoard;
  readonly flasher: FlasherProtocol | undefined;
  private log: TargetLog | undefined;
  private readonly consoleBuffer = new ConsoleBuffer((stream, text) => this.log?.console(stream, text));

  constructor(
    readonly name: string,
    readonly kind: string,
    private readonly params: LinuxRemoteprocParams,
    private readonly context: TargetContext,
  ) {
    this.capabilities = { suites: SUITE_NAMES, restartable: true, faults: ['crash', 'hang'], kernelClientSample: true, hostAnnouncedChannels: params.hostAnnouncedChannels };
    const power: PowerProtocol | undefined = params.power ? createPower(name, params.power) : undefined;
    this.flasher = params.flasher ? new ToolFlasher(name, params.flasher) : undefined;
    this.log = context.log;
    this.board = new LinuxBoard(
      name,
      params,
      resolveSshPaths(params.ssh, context.configDir),
      power,
      () => this.log,
      (line) => this.consoleBuffer.write('kmsg', `${line}\n`),
      (text) => this.consoleBuffer.write('console', text),
    );
  }

  get strategy(): OrderedStrategy<BoardState> {
    return this.board.strategy;
  }

  get host(): Host {
    if (!this.board.host) throw new InfrastructureError(`${this.name}: the target is not set up`);
    return this.board.host;
  }

  async setup(log: TargetLog): Promise<void> {
    this.log = log;
    await this.strategy.transition(this.strategy.ready);
  }

  firmwareFor(suite: SuiteName): Promise<FirmwareImage> {
    // Without farm.yaml images: the project's reference firmware for the core the board's double
    // emulates (the MP157's M4, the ZynqMP's R5F), which is what the double runs.
    return suiteFirmware(this.name, suite, this.context.firmware[suite], this.params.referenceMachine);
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
      if (this.board.host && this.board.host.state !== 'offline') await this.board.host.stop().catch(() => {});
    } finally {
      await this.strategy.transition('off');
    }
  }
}

export { shellQuote };
