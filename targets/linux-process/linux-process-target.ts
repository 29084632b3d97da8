import { readFile } from 'node:fs/promises';
import { basename, isAbsolute, resolve } from 'node:path';
import { InfrastructureError, RemoteCrashedError } from '../../base/errors.js';
import { LINUX_GENERIC } from '../../openamp/machines/linux-generic.js';
import { yieldCpu } from '../../openamp/memory/file-memory.js';
import { ensureFirmwareBuilt, firmwarePath } from '../../firmware/build.js';
import { ensureHostTool, hostToolPath } from '../../firmware/tools.js';
import { CrashRecordReader, describeCrash } from '../openamp-host/crash-record.js';
import { runFileStem, sweepStaleRunFiles } from '../../base/process/run-files.js';
import { ConsoleBuffer } from '../console-buffer.js';
import { sha256Hex } from '../firmware-image.js';
import { OpenAmpHost, RemoteGoneError } from '../openamp-host/openamp-host.js';
import { describeExit, findExecutable, type ProcessExit } from '../../base/process/managed-process.js';
import { PROGRAM_FOR_SUITE } from '../reference-firmware.js';
import type { TargetContext } from '../kind.js';
import { SUITE_NAMES, type FaultKind, type FirmwareImage, type SuiteName, type Target, type TargetCapabilities, type TargetLog } from '../target.js';
import type { LinuxGenericMachineResource } from '../resources/linux-generic-machine.js';
import { OrderedStrategy, formatStrategyStep } from '../strategies/ordered-strategy.js';
import { LinuxProcessOps } from './linux-process-ops.js';
import { PLACEHOLDERS, substitutePlaceholders, type LinuxProcessParams } from './linux-process-params.js';

export const KIND = 'linux-process';

export type LinuxProcessState = 'off' | 'firmware-ready' | 'host-ready';
/** Console streams of the remote process in reports. */
export const STDOUT_STREAM = 'remote-stdout';
export const STDERR_STREAM = 'remote-stderr';

/** The reference firmware's command for `suite`: its ELF, told this start's names. */
export function referenceCommand(suite: SuiteName): string[] {
  return [firmwarePath('linux-process', PROGRAM_FOR_SUITE[suite]), '--shm', PLACEHOLDERS.shm, '--socket', PLACEHOLDERS.socket];
}

/**
 * The remote is a native Linux process speaking open-amp's Linux generic machine (a /dev/shm
 * file, a UNIX-socket kick, the remote as process 0); our OpenAmpHost is process 1. Each start
 * spawns the suite's command with a fresh shm file and socket (unique names unless params fix
 * them), attaches to the table the remote wrote at shm offset 0, and runs RPMsg on its vdev;
 * stop ends the process and removes both files. An exit the host did not ask for other than
 * a clean `exit(0)` is a crash (with the reference firmware's crash record when the table has
 * a trace buffer). Faults are signals, so they work on any remote binary: crash = SIGSEGV,
 * hang = SIGSTOP.
 */
export class LinuxProcessTarget implements Target {
  readonly kind = KIND;
  readonly capabilities: TargetCapabilities = { suites: SUITE_NAMES, restartable: true, faults: ['crash', 'hang'] };
  /** The Host driver: our OpenAmpHost as process 1 of the Linux generic machine. */
  readonly host: OpenAmpHost;
  readonly ops: LinuxProcessOps;
  /**
   * off -> firmware-ready (the remote command of every suite resolved; the reference firmware
   * built when a suite uses it) -> host-ready (the host can start a remote: each start spawns
   * it on fresh files). Down from host-ready ends the remote process and removes its files.
   */
  readonly strategy: OrderedStrategy<LinuxProcessState>;
  /** The place: open-amp's Linux generic machine (fixed or unique names). */
  readonly machine: LinuxGenericMachineResource;
  private log: TargetLog | undefined;
  private readonly consoleBuffer = new ConsoleBuffer((stream, text) => this.log?.console(stream, text));
  private lastNames: { shmPath: string; socketPath: string } | undefined;

  constructor(
    readonly name: string,
    readonly params: LinuxProcessParams,
    private readonly context: TargetContext,
  ) {
    this.log = context.log;
    this.machine = { name, shmPath: params.shmPath, socketPath: params.socketPath };
    this.strategy = new OrderedStrategy<LinuxProcessState>({
      target: name,
      states: ['off', 'firmware-ready', 'host-ready'],
      ready: 'host-ready',
      log: (step) => this.log?.info(formatStrategyStep(step)),
      steps: {
        'firmware-ready': { detail: 'resolve the remote command of every suite', up: () => this.resolveCommands(), down: async () => {} },
        'host-ready': {
          detail: "the OpenAMP host as process 1 of open-amp's Linux generic machine",
          up: async () => {},
          down: async () => {
            try {
              await this.host.stop();
            } finally {
              // Whatever state the host was left in, the process and its files go.
              await this.ops.stop();
            }
          },
        },
      },
    });
    this.ops = new LinuxProcessOps({
      name,
      startTimeoutMs: params.startTimeoutMs,
      stopGraceMs: params.stopGraceMs,
      onOutput: (stream, text) => this.consoleBuffer.write(stream === 'stdout' ? STDOUT_STREAM : STDERR_STREAM, text),
      onExit: (exit) => this.remoteExited(exit),
      log: (line) => this.log?.info(line),
      reaperPath: hostToolPath('farm-reaper'),
    });
    this.host = new OpenAmpHost({
      ops: this.ops,
      doorbell: () => this.ops.doorbell,
      name,
      stallTimeoutMs: params.stallTimeoutMs,
      // A remote that exits closes its socket first; its exit (reaped by farm-reaper, then seen
      // here) is the better verdict, and may take a moment on a loaded machine.
      peerGoneGraceMs: 600,
      spinAfterSendUs: params.hostSpinMicros,
      // The remote is a process the kick often wakes on the host's own core.
      spinYield: yieldCpu,
      launch: (firmware) => this.launch(firmware),
      faultInjector: (kind) => this.injectFault(kind),
      log: (line) => this.log?.info(line),
    });
  }

  async setup(log: TargetLog): Promise<void> {
    this.log = log;
    await this.strategy.transition(this.strategy.ready);
  }

  async teardown(): Promise<void> {
    await this.strategy.transition('off');
  }

  private async resolveCommands(): Promise<void> {
    const images = Object.keys(this.context.firmware);
    if (images.length > 0) {
      throw new InfrastructureError(
        `${this.name}: a linux-process target runs commands, not images: move targets.${this.name}.firmware.${images[0]} to params.commands.${images[0]} (a list: executable, arguments)`,
      );
    }
    // farm-reaper (every remote runs under it), and the reference firmware when a suite uses it.
    await ensureHostTool('farm-reaper');
    if (SUITE_NAMES.some((suite) => !this.params.commands[suite])) await ensureFirmwareBuilt('linux-process');
    for (const suite of SUITE_NAMES) {
      const image = await this.firmwareFor(suite);
      this.log?.info(`${this.name}: ${suite}: ${image.command?.join(' ')} (sha256 ${image.sha256})`);
    }
  }

  async firmwareFor(suite: SuiteName): Promise<FirmwareImage> {
    const configured = this.params.commands[suite];
    if (!configured) await ensureFirmwareBuilt('linux-process');
    const [executable, ...args] = configured ?? referenceCommand(suite);
    const file = this.resolveExecutable(executable!, suite);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      throw new InfrastructureError(`${this.name}: cannot read the ${suite} remote ${file}: ${(error as Error).message}`, { cause: error });
    }
    return { label: basename(file), command: [file, ...args], sha256: sha256Hex(bytes) };
  }

  takeConsole(): string {
    return this.consoleBuffer.take();
  }

  properties(): Record<string, string> {
    const fixed = this.params.shmPath !== undefined || this.params.socketPath !== undefined;
    return {
      'target.kind': this.kind,
      'linux-process.machine':
        `open-amp Linux generic machine: shm 0x${LINUX_GENERIC.shmSize.toString(16)} bytes, resource table at 0, ` +
        `vrings 0x4000/0x8000 (256 entries), buffer pool 0x10000 + 0x40000`,
      'linux-process.names': fixed
        ? `fixed: ${this.params.shmPath ?? '(unique shm)'}, ${this.params.socketPath ?? '(unique socket)'}`
        : `unique per start (last: ${this.lastNames ? `${this.lastNames.shmPath}, ${this.lastNames.socketPath}` : 'none yet'})`,
      'linux-process.doorbell': 'AF_UNIX stream socket, host connects as process 1',
    };
  }

  private resolveExecutable(executable: string, suite: SuiteName): string {
    const candidate = executable.includes('/') && !isAbsolute(executable) ? resolve(this.context.configDir, executable) : executable;
    const found = findExecutable(candidate);
    if (!found) {
      throw new InfrastructureError(
        `${this.name}: the ${suite} remote ${candidate} is not an executable file` +
          (executable.includes('/') ? '' : ' on PATH') +
          (this.params.commands[suite] ? ` (params.commands.${suite})` : ' (the reference firmware: make -C firmware MACHINES=linux-process)'),
      );
    }
    return found;
  }

  private async launch(firmware: FirmwareImage): Promise<void> {
    const command = firmware.command;
    if (!command || command.length === 0) throw new InfrastructureError(`${this.name}: firmware ${firmware.label} has no command`);
    sweepStaleRunFiles();
    const stem = runFileStem(KIND);
    const names = { shmPath: this.machine.shmPath ?? `/dev/shm/${stem}.shm`, socketPath: this.machine.socketPath ?? `/tmp/${stem}.event` };
    this.lastNames = names;
    const [file, ...args] = substitutePlaceholders(command, names);
    this.ops.launch({ file: file!, args, cwd: this.context.configDir, ...names });
  }

  /**
   * The process ended unasked. What it sent just before is delivered first (host.remoteGone
   * looks at the rings one last time), then every operation of the boot fails at once: with
   * RemoteGoneError (firmware) naming the exit status when it exited, with RemoteCrashedError
   * when a signal killed it. A non-zero exit or a signal is also a crash of the core (with the
   * reference firmware's crash record when there is one); a clean exit(0) is not, since
   * open-amp's echo ends so on shutdown or when the host destroys its endpoint.
   */
  private remoteExited(exit: ProcessExit): void {
    const how = describeExit(exit);
    if (exit.signal === undefined && exit.code === 0) {
      this.log?.info(`${this.name}: the remote process ended by itself (${how})`);
      this.consoleBuffer.write(STDERR_STREAM, `[farm] remote process ended (${how})\n`);
      this.host.remoteGone(new RemoteGoneError(`${this.name}: the remote process exited by itself (${how}) while the host was attached`));
      return;
    }
    let reason = `remote process ended unasked (${how})`;
    const trace = this.host.remoteproc.resourceTable?.table.traces[0];
    const memory = this.ops.attachedMemory;
    if (trace && memory) {
      try {
        const record = new CrashRecordReader(memory, trace).read();
        if (record) reason += `: ${describeCrash(record)}`;
      } catch (error) {
        this.log?.info(`${this.name}: no crash record: ${(error as Error).message}`);
      }
    }
    this.consoleBuffer.write(STDERR_STREAM, `[farm] ${reason}\n`);
    this.host.remoteGone(
      exit.signal === undefined
        ? new RemoteGoneError(`${this.name}: the remote process exited by itself (${how}) while the host was attached`)
        : new RemoteCrashedError(`${this.name}: remote crashed: ${reason}`),
    );
    this.host.remoteproc.reportCrash(reason);
  }

  private async injectFault(kind: FaultKind): Promise<void> {
    const process = this.ops.running;
    if (!process) throw new InfrastructureError(`${this.name}: no remote process to ${kind}`);
    process.signal(kind === 'crash' ? 'SIGSEGV' : 'SIGSTOP');
    this.log?.info(`${this.name}: sent ${kind === 'crash' ? 'SIGSEGV' : 'SIGSTOP'} to remote pid ${process.pid}`);
  }
}
