import { InfrastructureError } from '../../openamp/errors.js';
import { AdaptivePollingDoorbell } from '../../openamp/doorbell/adaptive-polling-doorbell.js';
import type { Doorbell } from '../../openamp/doorbell/doorbell.js';
import { ForwardedKickDoorbell } from '../../openamp/doorbell/forwarded-kick-doorbell.js';
import { ensureFirmwareBuilt, firmwareBuildDir, firmwarePath, type FirmwareProgram } from '../../firmware/build.js';
import { CrashRecordReader, RemoteWatch } from '../../firmware/crash-record.js';
import type { QemuMachineProfile } from '../../qemu/machines.js';
import { QemuInstance } from '../../qemu/qemu-instance.js';
import { resolveImageReference } from '../../containers/farm-container.js';
import { ConsoleBuffer } from '../console-buffer.js';
import { firmwareImageFromFile } from '../firmware-image.js';
import { OpenAmpHost } from '../openamp-host.js';
import type { TargetContext } from '../registry.js';
import { SUITE_NAMES, type FirmwareImage, type Host, type SuiteName, type Target, type TargetCapabilities, type TargetLog } from '../target.js';
import { QemuRemoteprocOps } from './qemu-remoteproc-ops.js';
import type { QemuParams } from './qemu-params.js';

export const PROGRAM_FOR_SUITE: Readonly<Record<SuiteName, FirmwareProgram>> = {
  echo: 'echo',
  'matrix-multiply': 'matrix-multiply',
  'multi-endpoint': 'multi-services',
  lifecycle: 'echo',
};

/** Reference programs needed for the suites whose image farm.yaml does not give. */
export function referenceProgramsNeeded(firmware: Readonly<Partial<Record<SuiteName, string>>>): FirmwareProgram[] {
  return [...new Set(SUITE_NAMES.filter((suite) => !firmware[suite]).map((suite) => PROGRAM_FOR_SUITE[suite]))];
}

const CONSOLE_STREAM = 'uart0';

/**
 * A remote core emulated by QEMU, driven by our OpenAmpHost: QEMU is started (paused) in
 * setup; each start loads the image through the guest RAM file and resumes the machine; stop
 * pauses and resets it. The UART (a pty read with serialport like a board's, or with params
 * uart 'socket' a socket chardev) is read through SerialConsole, and with doorbell 'uart' the
 * firmware's kick bytes on it ring the host's doorbell; crashes come from QMP
 * events, the firmware's crash record and its heartbeat (see firmware/crash-record.ts).
 */
export class QemuTarget implements Target {
  readonly capabilities: TargetCapabilities = { suites: SUITE_NAMES, restartable: true, faults: ['crash', 'hang'] };
  private qemu: QemuInstance | undefined;
  private openAmpHost: OpenAmpHost | undefined;
  private watch: RemoteWatch | undefined;
  private log: TargetLog | undefined;
  private readonly consoleBuffer = new ConsoleBuffer((stream, text) => this.log?.console(stream, text));
  /** doorbell 'uart': rung by the firmware's kick bytes on the console UART (every QEMU launch). */
  private readonly uartDoorbell: ForwardedKickDoorbell | undefined;
  private tornDown = false;

  constructor(
    readonly name: string,
    readonly kind: string,
    readonly profile: QemuMachineProfile,
    readonly params: QemuParams,
    private readonly context: TargetContext,
  ) {
    if (params.doorbell === 'uart') this.uartDoorbell = new ForwardedKickDoorbell({ kind: 'uart-kick', safetyPollMs: params.uartSafetyPollMs, burstMs: params.uartBurstMs });
  }

  get host(): Host {
    if (!this.openAmpHost) throw new InfrastructureError(`${this.name}: the target is not set up`);
    return this.openAmpHost;
  }

  /** doorbell 'uart': the doorbell the firmware's kick bytes ring (tests read its stats). */
  get kickDoorbell(): ForwardedKickDoorbell | undefined {
    return this.uartDoorbell;
  }

  /** The running QEMU (benchmarks read spawnedAt). */
  get instance(): QemuInstance | undefined {
    return this.qemu;
  }

  async setup(log: TargetLog): Promise<void> {
    if (this.tornDown) throw new InfrastructureError(`${this.name}: setup after teardown`);
    this.log = log;
    // Only what farm.yaml does not give: a target whose images are all given needs no cross
    // compiler, except for a boot stub QEMU loads itself.
    await ensureFirmwareBuilt(this.profile.name, { programs: referenceProgramsNeeded(this.context.firmware), bootStub: true });
    const qemu = await this.launch();
    const ops = new QemuRemoteprocOps(qemu, {
      onStarted: () => this.startWatch(),
      onStopping: () => this.stopWatch(),
      relaunch: async () => {
        await this.qemu?.close();
        this.qemu = undefined;
        return this.launch();
      },
    });
    const doorbell: Doorbell = this.uartDoorbell ?? new AdaptivePollingDoorbell({ intervalMs: this.params.pollIntervalMs, burstMs: this.params.pollBurstMs });
    this.openAmpHost = new OpenAmpHost({
      ops,
      doorbell: () => doorbell,
      name: this.name,
      stallTimeoutMs: this.params.stallTimeoutMs,
      log: (line) => this.log?.info(line),
    });
    const where = this.params.container ? ` in a container of ${this.params.container}` : '';
    log.info(`${this.name}: QEMU ${qemu.qmp.version} (${this.profile.binary}${where}) up, UART on ${qemu.console.path}, RAM ${qemu.files[0]}`);
  }

  private async launch(): Promise<QemuInstance> {
    const qemu = await QemuInstance.launch({
      profile: this.profile,
      stubDir: firmwareBuildDir(this.profile.name),
      name: this.name,
      onConsole: (text) => this.consoleBuffer.write(CONSOLE_STREAM, text),
      onKick: () => this.uartDoorbell?.ring(),
      uart: this.params.uart,
      container: this.params.container,
      target: this.name,
      onStderr: (text) => this.log?.info(`${this.name}: qemu: ${text.trim()}`),
    });
    // Teardown may have run while QEMU started (Ctrl-C during a relaunch on stop): it closed
    // what it saw, so this one is ours to close, not the exit hook's.
    if (this.tornDown) {
      await qemu.close();
      throw new InfrastructureError(`${this.name}: the target was torn down while QEMU was starting`);
    }
    this.qemu = qemu;
    qemu.onFailure((reason) => {
      if (this.qemu === qemu) this.openAmpHost?.remoteproc.reportCrash(reason);
    });
    return qemu;
  }

  async firmwareFor(suite: SuiteName): Promise<FirmwareImage> {
    const configured = this.context.firmware[suite];
    const path = configured ?? firmwarePath(this.profile.name, PROGRAM_FOR_SUITE[suite]);
    if (!configured) await ensureFirmwareBuilt(this.profile.name, { programs: [PROGRAM_FOR_SUITE[suite]] });
    return firmwareImageFromFile(this.name, suite, path);
  }

  takeConsole(): string {
    return this.consoleBuffer.take();
  }

  properties(): Record<string, string> {
    return {
      'target.kind': this.kind,
      'qemu.binary': this.profile.binary,
      'qemu.version': this.qemu?.qmp.version ?? 'not started',
      'qemu.container': this.params.container ? `${this.params.container} (${resolveImageReference(this.params.container).reference})` : 'none (QEMU on the host)',
      'qemu.machine': this.profile.description,
      'qemu.ram': `0x${this.profile.ram.base.toString(16)} + ${this.profile.ram.size} bytes (memory-backend-file under /dev/shm)`,
      'qemu.uart': this.params.uart === 'pty' ? 'pseudo-terminal read with serialport (as physical boards)' : 'socket chardev read with node:net (not the serialport path)',
      'qemu.doorbell':
        this.params.doorbell === 'uart'
          ? `guest -> host: kick byte 0x05 on the console UART (stripped from the console), safety poll every ${this.params.uartSafetyPollMs} ms` +
            `${this.params.uartBurstMs > 0 ? `, every event-loop turn for ${this.params.uartBurstMs} ms after each notify` : ''}; host -> guest: the guest polls`
          : `shared-memory polling (every ${this.params.pollIntervalMs} ms idle; every event-loop turn for ${this.params.pollBurstMs} ms after each notify)`,
    };
  }

  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    this.stopWatch();
    try {
      if (this.openAmpHost && this.openAmpHost.state !== 'offline') await this.openAmpHost.stop().catch(() => {});
    } finally {
      this.uartDoorbell?.close();
      await this.qemu?.close();
    }
  }

  private startWatch(): void {
    this.stopWatch();
    const trace = this.openAmpHost?.remoteproc.resourceTable?.table.traces[0];
    if (!trace || !this.qemu) return; // not our reference firmware: QMP events only
    const reader = new CrashRecordReader(this.qemu.memory, trace);
    // Twice the host's stall deadline: e9ebd1a gives no reason. What it does: this watch runs for
    // the whole session (the host's ping probe only while a crash is awaited), so it must not
    // call a slow-but-alive remote dead (QEMU vCPUs descheduled on a loaded machine), and when a
    // hang is awaited the probe's reason, which names the silent channel, comes first.
    this.watch = new RemoteWatch({ reader, stallMs: this.params.stallTimeoutMs * 2, onCrash: (reason) => this.openAmpHost?.remoteproc.reportCrash(reason) });
  }

  private stopWatch(): void {
    this.watch?.stop();
    this.watch = undefined;
  }
}
