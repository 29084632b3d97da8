import { InfrastructureError } from '../../base/errors.js';
import { AdaptivePollingDoorbell } from '../../openamp/doorbell/adaptive-polling-doorbell.js';
import type { Doorbell } from '../../openamp/doorbell/doorbell.js';
import { ForwardedKickDoorbell } from '../../openamp/doorbell/forwarded-kick-doorbell.js';
import { ensureFirmwareBuilt, firmwareBuildDir } from '../../firmware/build.js';
import { FIRMWARE_KICK_BYTE } from '../../firmware/uart-kick.js';
import type { QemuMachineProfile } from '../../qemu/machines.js';
import type { QemuInstance } from '../../qemu/qemu-instance.js';
import { resolveImageReference } from '../../containers/farm-container.js';
import { ConsoleBuffer } from '../console-buffer.js';
import { QemuPowerDriver } from '../drivers/qemu-power.js';
import type { TargetContext } from '../kind.js';
import { CrashRecordReader, RemoteWatch } from '../openamp-host/crash-record.js';
import { OpenAmpHost } from '../openamp-host/openamp-host.js';
import { referenceProgramsNeeded, suiteFirmware } from '../reference-firmware.js';
import type { QemuMachineResource } from '../resources/qemu-machine.js';
import { OrderedStrategy, formatStrategyStep } from '../strategies/ordered-strategy.js';
import { SUITE_NAMES, type FirmwareImage, type Host, type SuiteName, type Target, type TargetCapabilities, type TargetLog } from '../target.js';
import type { QemuParams } from './qemu-params.js';
import { QemuRemoteprocOps } from './qemu-remoteproc-ops.js';

const CONSOLE_STREAM = 'uart0';

/** The QEMU kinds' states: images built, QEMU up (paused), the OpenAMP host ready to start firmware. */
export type QemuState = 'off' | 'firmware-built' | 'powered' | 'host-ready';

/**
 * A remote core emulated by QEMU, from parts: the QEMU machine (resource), the QEMU power
 * driver that owns the QEMU process (on = launched paused, cycle = a fresh one), the UART read
 * through SerialConsole (a pty with serialport like a board's, or with params uart 'socket' a
 * socket chardev), and our OpenAmpHost as the Host driver over QemuRemoteprocOps. The
 * strategy: off -> firmware-built (the boot stub and the reference programs farm.yaml does not
 * replace) -> powered (QEMU up, paused) -> host-ready. Each start loads the image through the
 * guest RAM file and resumes the machine; stop power-cycles it. With doorbell 'uart' the
 * firmware's kick bytes on the UART ring the host's doorbell; crashes come from QMP events,
 * the firmware's crash record and its heartbeat (see targets/openamp-host/crash-record.ts).
 */
export class QemuTarget implements Target {
  readonly capabilities: TargetCapabilities = { suites: SUITE_NAMES, restartable: true, faults: ['crash', 'hang'] };
  readonly strategy: OrderedStrategy<QemuState>;
  readonly machine: QemuMachineResource;
  readonly power: QemuPowerDriver;
  private openAmpHost: OpenAmpHost | undefined;
  private watch: RemoteWatch | undefined;
  private log: TargetLog | undefined;
  private readonly consoleBuffer = new ConsoleBuffer((stream, text) => this.log?.console(stream, text));
  /** doorbell 'uart': rung by the firmware's kick bytes on the console UART (one per host-ready). */
  private uartDoorbell: ForwardedKickDoorbell | undefined;

  constructor(
    readonly name: string,
    readonly kind: string,
    readonly profile: QemuMachineProfile,
    readonly params: QemuParams,
    private readonly context: TargetContext,
  ) {
    this.log = context.log;
    this.machine = {
      name,
      profile,
      stubDir: firmwareBuildDir(profile.name),
      uart: params.uart,
      kickByte: FIRMWARE_KICK_BYTE,
      ...(params.container ? { container: params.container } : {}),
    };
    this.power = new QemuPowerDriver({
      machine: this.machine,
      onConsole: (text) => this.consoleBuffer.write(CONSOLE_STREAM, text),
      onKick: () => this.uartDoorbell?.ring(),
      onStderr: (text) => this.log?.info(`${this.name}: qemu: ${text.trim()}`),
    });
    this.power.onFailure((reason) => this.openAmpHost?.remoteproc.reportCrash(reason));
    this.strategy = new OrderedStrategy<QemuState>({
      target: name,
      states: ['off', 'firmware-built', 'powered', 'host-ready'],
      ready: 'host-ready',
      log: (step) => this.log?.info(formatStrategyStep(step)),
      steps: {
        'firmware-built': {
          detail: 'build the boot stub and the reference programs farm.yaml gives no image for',
          // Only what farm.yaml does not give: a target whose images are all given needs no
          // cross compiler, except for a boot stub QEMU loads itself.
          up: async () => {
            await ensureFirmwareBuilt(profile.name, { programs: referenceProgramsNeeded(context.firmware), bootStub: true });
          },
          down: async () => {},
        },
        powered: {
          detail: `launch ${profile.binary} (${profile.description})${params.container ? ` in a container of ${params.container}` : ''}, paused`,
          up: async () => {
            await this.power.on();
            const qemu = this.power.current();
            const where = params.container ? ` in a container of ${params.container}` : '';
            this.log?.info(`${this.name}: QEMU ${qemu.qmp.version} (${profile.binary}${where}) up, UART on ${qemu.console.path}, RAM ${qemu.files[0]}`);
          },
          down: () => this.power.off(),
        },
        'host-ready': {
          detail: `the OpenAMP host over the guest RAM (doorbell ${params.doorbell})`,
          up: async () => this.connectHost(),
          down: async () => this.disconnectHost(),
        },
      },
    });
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
    return this.power.instance;
  }

  async setup(log: TargetLog): Promise<void> {
    this.log = log;
    await this.strategy.transition(this.strategy.ready);
  }

  async teardown(): Promise<void> {
    await this.strategy.transition('off');
  }

  firmwareFor(suite: SuiteName): Promise<FirmwareImage> {
    return suiteFirmware(this.name, suite, this.context.firmware[suite], this.profile.name);
  }

  takeConsole(): string {
    return this.consoleBuffer.take();
  }

  properties(): Record<string, string> {
    return {
      'target.kind': this.kind,
      'qemu.binary': this.profile.binary,
      'qemu.version': this.power.instance?.qmp.version ?? 'not started',
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

  private connectHost(): void {
    if (this.params.doorbell === 'uart') this.uartDoorbell = new ForwardedKickDoorbell({ kind: 'uart-kick', safetyPollMs: this.params.uartSafetyPollMs, burstMs: this.params.uartBurstMs });
    const doorbell: Doorbell = this.uartDoorbell ?? new AdaptivePollingDoorbell({ intervalMs: this.params.pollIntervalMs, burstMs: this.params.pollBurstMs });
    const ops = new QemuRemoteprocOps(this.power, {
      onStarted: () => this.startWatch(),
      onStopping: () => this.stopWatch(),
      doorbell,
    });
    this.openAmpHost = new OpenAmpHost({
      ops,
      doorbell: () => doorbell,
      name: this.name,
      stallTimeoutMs: this.params.stallTimeoutMs,
      log: (line) => this.log?.info(line),
    });
  }

  private async disconnectHost(): Promise<void> {
    this.stopWatch();
    const host = this.openAmpHost;
    try {
      if (host && host.state !== 'offline') await host.stop().catch((error: unknown) => this.log?.info(`${this.name}: stopping the remote: ${String(error)}`));
    } finally {
      this.uartDoorbell?.close();
    }
  }

  private startWatch(): void {
    this.stopWatch();
    const trace = this.openAmpHost?.remoteproc.resourceTable?.table.traces[0];
    const qemu = this.power.instance;
    if (!trace || !qemu) return; // not our reference firmware: QMP events only
    const reader = new CrashRecordReader(qemu.memory, trace);
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
