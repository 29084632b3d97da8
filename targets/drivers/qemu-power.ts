import { InfrastructureError } from '../../base/errors.js';
import { QemuInstance } from '../../qemu/qemu-instance.js';
import type { PowerProtocol, PowerState } from '../protocols.js';
import type { QemuMachineResource } from '../resources/qemu-machine.js';
import { qemuContainerRunner } from './qemu-container-runner.js';

export interface QemuPowerOptions {
  readonly machine: QemuMachineResource;
  /** UART text as it arrives (kick bytes stripped). */
  readonly onConsole?: (text: string) => void;
  /** The firmware's kick byte arrived on the UART. */
  readonly onKick?: () => void;
  /** QEMU's stderr. */
  readonly onStderr?: (text: string) => void;
}

/**
 * The Power driver of a QEMU machine, and the one owner of its QEMU process: `on` launches
 * QEMU (paused, -S), `off` quits it and removes its files, `cycle` replaces it by a fresh
 * paused one. Everything else (remoteproc ops, crash watch, benchmarks) reaches the running
 * QEMU through `current()` and asks this driver for a new one; none of them holds a process.
 *
 * `off` while a launch is under way (Ctrl-C during the power cycle of a remoteproc stop) wins:
 * the QEMU that comes up afterwards is closed at once and the launch fails.
 */
export class QemuPowerDriver implements PowerProtocol {
  private qemu: QemuInstance | undefined;
  private launching: Promise<QemuInstance> | undefined;
  /** Bumped by `off`: a launch started before it does not survive it. */
  private generation = 0;
  private readonly failureListeners = new Set<(reason: string) => void>();

  constructor(private readonly options: QemuPowerOptions) {}

  /** The running QEMU, if any (tests and benchmarks read it). */
  get instance(): QemuInstance | undefined {
    return this.qemu;
  }

  /** The running QEMU; an InfrastructureError when the machine is off. */
  current(): QemuInstance {
    if (!this.qemu) throw new InfrastructureError(`${this.options.machine.name}: QEMU is not running (the machine is off)`);
    return this.qemu;
  }

  /** Called when the running QEMU stops without being asked (QMP event, exit); never for one we closed. */
  onFailure(listener: (reason: string) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  async on(): Promise<void> {
    if (this.qemu) return;
    await (this.launching ?? this.startLaunch(this.generation));
  }

  async off(): Promise<void> {
    this.generation++;
    await this.closeCurrent();
  }

  /**
   * A fresh, paused QEMU. TCG keeps translated code across a machine reset and never sees our
   * writes to the RAM file, so a remoteproc stop power-cycles instead of resetting. An `off`
   * during the cycle ends it: no QEMU is started after it.
   */
  async cycle(): Promise<void> {
    const generation = ++this.generation;
    await this.closeCurrent();
    await this.startLaunch(generation);
  }

  async state(): Promise<PowerState> {
    return this.qemu ? 'on' : 'off';
  }

  /** One launch at a time: `on` during a launch joins it. */
  private startLaunch(generation: number): Promise<QemuInstance> {
    const launch: Promise<QemuInstance> = this.launch(generation).finally(() => {
      if (this.launching === launch) this.launching = undefined;
    });
    this.launching = launch;
    return launch;
  }

  private async closeCurrent(): Promise<void> {
    const qemu = this.qemu;
    this.qemu = undefined;
    await qemu?.close();
  }

  private poweredOff(): InfrastructureError {
    return new InfrastructureError(`${this.options.machine.name}: the machine was powered off while QEMU was starting`);
  }

  private async launch(generation: number): Promise<QemuInstance> {
    if (generation !== this.generation) throw this.poweredOff();
    const { machine } = this.options;
    const qemu = await QemuInstance.launch({
      profile: machine.profile,
      stubDir: machine.stubDir,
      name: machine.name,
      uart: machine.uart,
      ...(machine.container ? { container: qemuContainerRunner(machine.container, machine.name) } : {}),
      kick: { byte: machine.kickByte, onKick: () => this.options.onKick?.() },
      ...(this.options.onConsole ? { onConsole: this.options.onConsole } : {}),
      ...(this.options.onStderr ? { onStderr: this.options.onStderr } : {}),
    });
    if (generation !== this.generation) {
      // Powered off while QEMU started: `off` closed what it saw, so this one is ours to close.
      await qemu.close();
      throw this.poweredOff();
    }
    this.qemu = qemu;
    qemu.onFailure((reason) => {
      if (this.qemu !== qemu) return;
      for (const listener of [...this.failureListeners]) listener(reason);
    });
    return qemu;
  }
}
