import { InfrastructureError } from '../../base/errors.js';
import { ConsoleBuffer } from '../console-buffer.js';
import { ToolFlasher } from '../flasher/flasher-drivers.js';
import { createPower } from '../power/power-drivers.js';
import type { FlasherProtocol, PowerProtocol, ShellProtocol } from '../protocols.js';
import { OrderedStrategy, formatStrategyStep } from '../strategies/ordered-strategy.js';
import { SerialConsole } from '../../base/serial/serial-console.js';
import { ConsoleLoginError, SerialShell } from '../serial-shell.js';
import { suiteFirmware } from '../reference-firmware.js';
import type { TargetContext } from '../kind.js';
import { SshShell, shellQuote } from '../ssh/ssh-shell.js';
import { resolveSshPaths, type SshParams } from '../ssh/ssh-params.js';
import { SUITE_NAMES, type FirmwareImage, type Host, type SuiteName, type Target, type TargetCapabilities, type TargetLog } from '../target.js';
import { LinuxRemoteprocHost, type HelperLauncher } from './linux-remoteproc-host.js';
import { sshHelperLink } from './rpmsg-helper-client.js';
import { SerialHelperLink } from './serial-helper-link.js';
import type { LinuxRemoteprocParams } from './linux-remoteproc-params.js';

export type BoardState = 'off' | 'powered' | 'shell' | 'ready';

/** The board answered, but is not the board farm.yaml names. */
export class WrongBoardError extends InfrastructureError {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The parts of a Linux remoteproc board that its strategy acquires step by step: off -> powered
 * (power driver, when there is one) -> shell (SSH session, or on a serial-only board a login on
 * its console; a board that stays silent is power-cycled once) -> ready (identity checked,
 * remoteproc instance found, rpmsg helper running: on the SSH connection, or on the board's
 * second serial line). Down: the helper and the session are released; the supply is left as it
 * is (a lab's boards stay on between runs).
 */
export class LinuxBoard {
  /** The board's shell: the SSH session, or the console's on a serial-only board. */
  shell: ShellProtocol | undefined;
  private sshShell: SshShell | undefined;
  /** The kernel's console level before a serial-only login quieted it (restored at logout). */
  private consoleLevel: string | undefined;
  /** The serial console, open from 'powered' on when farm.yaml has `console:`. */
  console: SerialConsole | undefined;
  host: LinuxRemoteprocHost | undefined;
  readonly strategy: OrderedStrategy<BoardState>;

  constructor(
    private readonly target: string,
    private readonly params: LinuxRemoteprocParams,
    private readonly ssh: SshParams | undefined,
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
          detail: ssh
            ? `SSH session ${ssh.user}@${ssh.host}:${ssh.port} (host key verified; a silent board is power-cycled once when it can be)`
            : `login on the serial console ${params.console?.path} as ${params.console?.user} (serial-only board; a silent board is power-cycled once when it can be)`,
          up: () => (ssh ? this.connect(ssh) : this.loginOnConsole()),
          down: async () => {
            if (this.consoleLevel !== undefined) await this.shell?.run(`dmesg -n ${this.consoleLevel}`, { timeoutMs: 5000 }).catch(() => {});
            this.consoleLevel = undefined;
            await this.shell?.close();
            this.shell = undefined;
            this.sshShell = undefined;
          },
        },
        ready: {
          detail: `board identity checked, remoteproc "${params.remoteproc}" found, rpmsg helper (${params.helperAbi}) running${params.helperLine ? ` on ${params.helperLine.boardDevice} (${params.helperLine.path} here)` : ''}`,
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

  /**
   * A shell on the serial console (logs in with farm.yaml's console user and password). On a
   * serial-only board: the board's shell itself, once it is up.
   */
  async serialShell(env: NodeJS.ProcessEnv = process.env): Promise<ShellProtocol> {
    if (!this.ssh && this.shell) return this.shell;
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
  private async connect(ssh: SshParams): Promise<void> {
    let shell: SshShell;
    try {
      shell = await this.connectUntil(ssh, Date.now() + this.params.bootTimeoutMs);
    } catch (error) {
      if (!this.power || !isSilence(error)) throw error;
      this.info(`${this.target}: board silent (${(error as Error).message}); power-cycling it`);
      await this.power.cycle();
      shell = await this.connectUntil(ssh, Date.now() + this.params.bootTimeoutMs);
    }
    this.sshShell = shell;
    this.shell = shell;
    const swept = await shell.sweepStaleProcesses();
    if (swept) this.info(`${this.target}: ended ${swept} processes an earlier session left on the board`);
  }

  /**
   * Serial-only: logs in on the console until bootTimeoutMs (a board still booting prints its
   * login prompt when it gets there); a board silent until then is power-cycled once. A refused
   * login is not cured by waiting.
   */
  private async loginOnConsole(): Promise<void> {
    const attempt = async (deadline: number): Promise<ShellProtocol> => {
      for (;;) {
        try {
          return await this.serialShell();
        } catch (error) {
          if (error instanceof ConsoleLoginError || Date.now() + 1000 > deadline) throw error;
          await sleep(500);
        }
      }
    };
    try {
      this.shell = await attempt(Date.now() + this.params.bootTimeoutMs);
    } catch (error) {
      if (!this.power || error instanceof ConsoleLoginError) throw error;
      this.info(`${this.target}: board silent on its console (${(error as Error).message}); power-cycling it`);
      await this.power.cycle();
      this.shell = await attempt(Date.now() + this.params.bootTimeoutMs);
    }
    if (this.params.console?.quietKernel) {
      const level = (await this.shell.run('cut -f1 /proc/sys/kernel/printk', { timeoutMs: 5000 })).stdout.trim();
      const quieted = await this.shell.run('dmesg -n 1', { timeoutMs: 5000 });
      if (quieted.exitCode === 0 && /^\d$/.test(level)) this.consoleLevel = level;
      this.info(`${this.target}: kernel messages ${quieted.exitCode === 0 ? `kept off the console while the farm's shell uses it (dmesg -n 1; level ${level} restored at logout)` : `still go to the console (dmesg -n 1 failed: ${quieted.stderr.trim()}): a kernel line printed during a command becomes part of its output`}`);
    }
  }

  private async connectUntil(ssh: SshParams, deadline: number): Promise<SshShell> {
    for (;;) {
      try {
        return await SshShell.connect(this.target, ssh, { log: (line) => this.info(line) });
      } catch (error) {
        // Wrong keys are not cured by waiting; a board still booting is.
        if (!isSilence(error) || Date.now() + 1000 > deadline) throw error;
        await sleep(1000);
      }
    }
  }

  private async ready(): Promise<void> {
    const shell = this.shell as ShellProtocol;
    const identity = await checkIdentity(this.target, shell, this.address(), this.params.identity);
    this.info(`${this.target}: ${identity}`);
    const host = new LinuxRemoteprocHost({
      target: this.target,
      shell,
      launchHelper: this.helperLauncher(shell),
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

  /** Where the board is, for messages: its SSH address or its console. */
  private address(): string {
    return this.sshShell?.address ?? `console ${this.params.console?.path}`;
  }

  private helperLauncher(shell: ShellProtocol): HelperLauncher {
    const ssh = this.sshShell;
    if (ssh) return async (remote, ctrl) => sshHelperLink(await ssh.openStream(`exec ${shellQuote(remote)} ${shellQuote(ctrl)}`));
    const line = this.params.helperLine;
    if (!line) throw new InfrastructureError(`${this.target}: a serial-only board needs helperLine (the rpmsg helper's own UART)`);
    const device = line.boardDevice;
    const stem = `${this.params.helperDir}/helper-${device.replace(/^\/dev\//, '').replace(/\//g, '_')}`;
    // Only the helper this farm started on this line, by its pid file (and only if that pid is a helper).
    const stop = `p=$(cat ${shellQuote(`${stem}.pid`)} 2>/dev/null); [ -n "$p" ] && grep -q farm-rpmsg-helper /proc/$p/cmdline 2>/dev/null && kill $p; rm -f ${shellQuote(`${stem}.pid`)}; true`;
    return async (remote, ctrl) => {
      // The farm's end first: the helper's ready frame must not be sent into an unopened line.
      const link = await SerialHelperLink.open(this.target, line.path, line.baudRate, async () => {
        await shell.run(stop, { timeoutMs: 5000 });
      });
      try {
        await shell.runCheck(stop, { timeoutMs: 5000 });
        await shell.runCheck(
          `stty -F ${shellQuote(device)} ${line.baudRate} raw -echo -ixon -ixoff && { setsid ${shellQuote(remote)} ${shellQuote(ctrl)} <${shellQuote(device)} >${shellQuote(device)} 2>${shellQuote(`${stem}.err`)} & echo $! > ${shellQuote(`${stem}.pid`)}; }`,
          { timeoutMs: 10_000 },
        );
      } catch (error) {
        link.close();
        throw error;
      }
      link.diagnose = async () => (await shell.run(`cat ${shellQuote(`${stem}.err`)}`, { timeoutMs: 5000 })).stdout;
      return link;
    };
  }
}

/** Refused / reset / no answer: what a board that is off or still booting gives. */
function isSilence(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ETIMEDOUT|no SSH session|closed|Timed out/i.test(message) && !/authentication|host key/i.test(message);
}

/** Reads the board's identity and compares it with farm.yaml's: a different board is refused before any test. */
export async function checkIdentity(target: string, shell: ShellProtocol, address: string, expected: LinuxRemoteprocParams['identity']): Promise<string> {
  const checks: [string, string, string | undefined][] = [
    ['machine id', 'cat /etc/machine-id', expected.machineId],
    ['serial number', "tr -d '\\0' < /proc/device-tree/serial-number", expected.serialNumber],
  ];
  const seen: string[] = [];
  for (const [what, command, want] of checks) {
    if (want === undefined) continue;
    const got = (await shell.run(command)).stdout.trim();
    if (got !== want) {
      throw new WrongBoardError(`${target}: wrong board at ${address}: its ${what} is ${got ? JSON.stringify(got) : '(unreadable)'}, farm.yaml expects ${JSON.stringify(want)}`);
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
      params.ssh ? resolveSshPaths(params.ssh, context.configDir) : undefined,
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
      ...(ssh ? { 'board.ssh': `${ssh.user}@${ssh.host}:${ssh.port}` } : { 'board.console': this.params.console?.path ?? '' }),
      ...(this.params.helperLine ? { 'board.helperLine': `${this.params.helperLine.path} -> ${this.params.helperLine.boardDevice}` } : {}),
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
