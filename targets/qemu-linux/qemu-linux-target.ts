import * as net from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { InfrastructureError, TimeoutError } from '../../base/errors.js';
import { escapeRemoteText, quoteRemote } from '../../base/remote-text.js';
import { ConsoleBuffer } from '../console-buffer.js';
import { firmwareImageFromFile } from '../firmware-image.js';
import type { TargetContext } from '../kind.js';
import { OrderedStrategy, formatStrategyStep } from '../strategies/ordered-strategy.js';
import { HostKeyMismatchError, SshAuthenticationError, SshShell } from '../ssh/ssh-shell.js';
import type { BoardCommandReport, FirmwareImage, Host, SuiteName, Target, TargetCapabilities, TargetLog } from '../target.js';
import type { BoardCommand, QemuLinuxParams } from './qemu-linux-params.js';
import { QemuLinuxSystem } from './qemu-linux-system.js';
import { allVerdictLinesSeen, checkVerdicts } from './verdicts.js';

export type QemuLinuxState = 'off' | 'qemu' | 'ready';

/** Progress while Linux boots: a line this often (a TCG boot takes tens of seconds). */
const PROGRESS_EVERY_MS = 10_000;
/** One probe for sshd's banner on the forwarded port, ms. */
const BANNER_PROBE_MS = 1000;
/** Most output of one command kept for its report. */
const MAX_REPORT_OUTPUT = 200_000;

/** Relative paths of the parsed params resolved against farm.yaml's folder. */
export function resolveQemuLinuxPaths(params: QemuLinuxParams, configDir: string): QemuLinuxParams {
  const at = (file: string | undefined) => (file === undefined || isAbsolute(file) ? file : resolve(configDir, file));
  const bios = params.qemu.bios === undefined || params.qemu.bios === 'default' || params.qemu.bios === 'none' ? params.qemu.bios : at(params.qemu.bios);
  const privateKey = at(params.ssh.privateKey);
  return {
    ...params,
    qemu: { ...params.qemu, bios },
    kernel: at(params.kernel) as string,
    initrd: at(params.initrd),
    rootfs: at(params.rootfs),
    ssh: { ...params.ssh, ...(privateKey ? { privateKey } : {}) },
  };
}

/** True when something on 127.0.0.1:`port` greets like sshd ("SSH-...") within `timeoutMs`. */
function sshBanner(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let seen = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (seen.length >= 4) done(seen.startsWith('SSH-'));
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((line) => line.replace(/\r$/, '').trim()).filter(Boolean);
  return (lines.at(-1) ?? '').slice(0, 160);
}

/**
 * A Linux system booted by the farm in the user's QEMU (kind qemu-linux): off -> qemu (QEMU
 * running the user's kernel / initrd / rootfs, consoles captured) -> ready (an SSH session on
 * the forwarded port, the host key pinned, waited for with progress lines up to bootTimeoutMs).
 * Its tests are the board's own commands (`boardCommand`); the byte-level suites need a
 * remoteproc in the guest, which this kind does not drive: they are reported not applicable.
 */
export class QemuLinuxTarget implements Target {
  readonly strategy: OrderedStrategy<QemuLinuxState>;
  private readonly params: QemuLinuxParams;
  private system: QemuLinuxSystem | undefined;
  private shell: SshShell | undefined;
  private log: TargetLog | undefined;
  private remoteprocs: string[] | undefined;
  /** Remote console position where the last console step ended. */
  private consoleMark = 0;
  private readonly consoleBuffer = new ConsoleBuffer((stream, text) => this.log?.console(stream, text));

  constructor(
    readonly name: string,
    readonly kind: string,
    params: QemuLinuxParams,
    private readonly context: TargetContext,
  ) {
    this.params = resolveQemuLinuxPaths(params, context.configDir);
    this.log = context.log;
    const p = this.params;
    this.strategy = new OrderedStrategy<QemuLinuxState>({
      target: name,
      states: ['off', 'qemu', 'ready'],
      ready: 'ready',
      log: (step) => this.log?.info(formatStrategyStep(step)),
      steps: {
        qemu: {
          detail: `${p.qemu.binary} -M ${p.qemu.machine} with ${p.kernel}${p.initrd ? ` + ${p.initrd}` : ''}${p.rootfs ? ` + disk ${p.rootfs}` : ''}, guest SSH port ${p.guestSshPort} forwarded from 127.0.0.1`,
          up: async () => {
            const system = await QemuLinuxSystem.start({
              name,
              params: p,
              onConsole: (stream, text) => this.consoleBuffer.write(stream, text),
              log: (line) => this.log?.info(line),
            });
            this.system = system;
            void system.exited.then((exit) => {
              if (this.system === system) this.log?.info(`${name}: QEMU exited while in use (${exit.signal ?? `code ${exit.code}`}): the guest powered off, panicked or was killed`);
            });
          },
          down: async () => {
            const system = this.system;
            this.system = undefined;
            await system?.close();
          },
        },
        ready: {
          detail: `SSH as ${p.ssh.user} with the pinned host key, within ${p.bootTimeoutMs} ms of QEMU's start`,
          up: async () => {
            this.shell = await this.connectWhenBooted(this.system as QemuLinuxSystem);
            const listing = await this.shell.run('ls /sys/class/remoteproc 2>/dev/null', { timeoutMs: 10_000 });
            // Names from the guest: only what sysfs names look like (remoteproc0) is kept.
            this.remoteprocs = listing.stdout.split(/\s+/).filter((entry) => /^[\w.-]{1,64}$/.test(entry));
            this.log?.info(`${name}: remoteproc in the guest: ${this.remoteprocs.length ? this.remoteprocs.join(', ') : 'none'}`);
          },
          down: async () => {
            const shell = this.shell;
            this.shell = undefined;
            await shell?.close();
          },
        },
      },
    });
  }

  get capabilities(): TargetCapabilities {
    const because =
      this.remoteprocs === undefined
        ? 'the guest is probed for remoteproc at boot'
        : this.remoteprocs.length === 0
          ? 'the guest has no remoteproc (/sys/class/remoteproc is empty); its tests are the board\'s own commands'
          : `the guest has ${this.remoteprocs.join(', ')}, but kind qemu-linux runs only the board's own commands; point a linux-remoteproc target's ssh at the forwarded port for the byte-level suites`;
    return { suites: [], restartable: false, faults: [], notApplicableBecause: because };
  }

  get host(): Host {
    throw new InfrastructureError(`${this.name}: kind qemu-linux has no OpenAMP host of the farm's (${this.capabilities.notApplicableBecause})`);
  }

  /** Retries SSH until the guest's sshd answers, with progress lines; never past bootTimeoutMs or QEMU's exit. */
  private async connectWhenBooted(system: QemuLinuxSystem): Promise<SshShell> {
    const { ssh, bootTimeoutMs } = this.params;
    const started = Date.now();
    const deadline = started + bootTimeoutMs;
    let exited: string | undefined;
    void system.exited.then((exit) => (exited = exit.signal ?? `code ${exit.code}`));
    let nextProgress = started + PROGRESS_EVERY_MS;
    let lastProblem = '';
    for (;;) {
      if (exited !== undefined) {
        throw new InfrastructureError(`${this.name}: QEMU exited (${exited}) before Linux answered SSH; last console line: ${quoteRemote(lastLine(system.uart.text()))}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TimeoutError(`${this.name}: no SSH session on 127.0.0.1:${system.sshPort} within ${bootTimeoutMs} ms of boot (${lastProblem}); last console line: ${quoteRemote(lastLine(system.uart.text()))}`);
      }
      // QEMU's user network accepts on the forwarded port before the guest listens, and holds
      // such a connection without a word: look for sshd's banner with short probes first, then
      // log in with the full connect timeout (a loaded TCG guest's key exchange takes seconds).
      const banner = await sshBanner(system.sshPort, Math.min(BANNER_PROBE_MS, left));
      if (banner) {
        try {
          return await SshShell.connect(this.name, { ...ssh, host: '127.0.0.1', port: system.sshPort, connectTimeoutMs: Math.max(1000, Math.min(ssh.connectTimeoutMs, left)) }, { log: (line) => this.log?.info(line) });
        } catch (error) {
          // A wrong host key or refused credentials do not get better by waiting.
          if (error instanceof HostKeyMismatchError || error instanceof SshAuthenticationError) throw error;
          lastProblem = (error as Error).message;
        }
      } else {
        lastProblem = 'no SSH banner yet';
      }
      if (Date.now() >= nextProgress) {
        this.log?.info(`${this.name}: Linux booting (${Math.round((Date.now() - started) / 1000)} s): ${escapeRemoteText(lastLine(system.uart.text())) || 'no console output yet'}`);
        nextProgress += PROGRESS_EVERY_MS;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async setup(log: TargetLog): Promise<void> {
    this.log = log;
    await this.strategy.transition(this.strategy.ready);
  }

  /** The images farm.yaml gives; without one, a suite has nothing to run here (the suites are skipped as not applicable before any image is used). */
  async firmwareFor(suite: SuiteName): Promise<FirmwareImage> {
    const given = this.context.firmware[suite];
    if (given !== undefined) return firmwareImageFromFile(this.name, suite, given);
    return { label: `${suite}: none (${this.kind} runs the board's own commands)`, sha256: '' };
  }

  takeConsole(): string {
    return this.consoleBuffer.take();
  }

  properties(): Record<string, string> {
    const p = this.params;
    return {
      'qemu.binary': p.qemu.binary,
      'qemu.machine': p.qemu.machine,
      'linux.kernel': p.kernel,
      ...(p.initrd ? { 'linux.initrd': p.initrd } : {}),
      ...(p.rootfs ? { 'linux.rootfs': p.rootfs } : {}),
      ...(this.system ? { 'linux.ssh': `${p.ssh.user}@127.0.0.1:${this.system.sshPort} (guest port ${p.guestSshPort})` } : {}),
    };
  }

  async teardown(): Promise<void> {
    await this.strategy.transition('off');
  }

  async boardCommand(name: string): Promise<BoardCommandReport> {
    const command = this.params.commands.find((candidate) => candidate.name === name);
    if (!command) throw new InfrastructureError(`${this.name}: no command named ${JSON.stringify(name)} in its params.commands`);
    if (!this.system || !this.shell) throw new InfrastructureError(`${this.name}: the target is not set up`);
    const started = Date.now();
    this.log?.info(`${this.name}: ${command.name}: ${command.on === 'ssh' ? '$' : this.params.remoteConsole?.prompt} ${command.run ?? '(waiting for its lines)'}`);
    let output: string;
    let exitCode: number | undefined;
    const failures: string[] = [];
    if (command.on === 'ssh') {
      const result = await this.shell.run(command.run as string, { timeoutMs: command.timeoutMs });
      output = result.stdout + (result.stderr ? `${result.stdout.endsWith('\n') || !result.stdout ? '' : '\n'}${result.stderr}` : '');
      exitCode = result.exitCode;
      if (command.exitCode !== undefined && exitCode !== command.exitCode) failures.push(`exit status ${exitCode}, expected ${command.exitCode}`);
    } else {
      output = await this.onRemoteConsole(command);
    }
    const verdicts = checkVerdicts(output, command.expect);
    for (const verdict of verdicts) if (!verdict.ok) failures.push(verdict.detail);
    const report: BoardCommandReport = { name: command.name, on: command.on, command: command.run, output: escapeRemoteText(output.slice(-MAX_REPORT_OUTPUT)), exitCode, durationMs: Date.now() - started, verdicts, failures };
    this.log?.info(`${this.name}: ${command.name}: ${failures.length ? `FAILED: ${failures.join('; ')}` : `passed (${verdicts.map((verdict) => verdict.detail).join('; ') || `exit ${exitCode}`})`}`);
    return report;
  }

  /**
   * Types the command on the remote console (or only watches it) and returns what the console
   * printed until every expected line appeared (or, with none, the prompt came back); a
   * TimeoutError with the text so far after the command's timeout.
   */
  private async onRemoteConsole(command: BoardCommand): Promise<string> {
    const console = (this.system as QemuLinuxSystem).remoteConsole;
    if (!console) throw new InfrastructureError(`${this.name}: no remote console`);
    const prompt = this.params.remoteConsole?.prompt ?? '';
    // A step that only watches also sees what the console printed since the previous console
    // step ended (the remote's lines often come while a Linux-side command runs).
    const history = console.text();
    const historyStart = console.position - history.length;
    let output = command.run === undefined ? history.slice(Math.max(0, this.consoleMark - historyStart)) : '';
    const done = (): boolean => {
      if (command.expect.length > 0) return allVerdictLinesSeen(output, command.expect);
      const echoed = command.run === undefined ? -1 : output.indexOf(command.run);
      return echoed >= 0 && output.indexOf(prompt, echoed + (command.run as string).length) >= 0;
    };
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      const finish = (error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unsubscribe();
        this.consoleMark = console.position;
        if (error) reject(error);
        else resolve(output);
      };
      const timer = setTimeout(() => {
        const waitedFor = command.expect.length ? command.expect.map((verdict) => `/${verdict.pattern}/`).join(', ') : `the prompt ${JSON.stringify(prompt)}`;
        finish(new TimeoutError(`${this.name}: ${command.name}: the remote console did not print ${waitedFor} within ${command.timeoutMs} ms; it printed: ${quoteRemote(output.slice(-500))}`));
      }, command.timeoutMs);
      const unsubscribe = console.onData((text) => {
        output += text;
        if (output.length > 4 * MAX_REPORT_OUTPUT) output = output.slice(-2 * MAX_REPORT_OUTPUT);
        if (done()) finish();
      });
      if (done()) finish();
      else if (command.run !== undefined) console.write(`${command.run}\n`).catch((error: Error) => finish(error));
    });
  }
}
