import { join } from 'node:path';
import { ConsoleBuffer } from '../console-buffer.js';
import { firmwareImageFromFile } from '../firmware-image.js';
import { OpenAmpHost } from '../openamp-host/openamp-host.js';
import type { SimulatedSocResource } from '../resources/simulated-soc.js';
import { OrderedStrategy, formatStrategyStep } from '../strategies/ordered-strategy.js';
import type { TargetContext } from '../kind.js';
import { SUITE_NAMES, type FirmwareImage, type SuiteName, type Target, type TargetCapabilities, type TargetLog } from '../target.js';
import { SIM_PROGRAM_FOR_SUITE, writeSimFirmware } from './sim-firmware.js';
import { SIM_DDR_BASE } from './sim-machine.js';
import type { SimParams } from './sim-params.js';
import { SimSoc } from './sim-soc.js';

/** Console stream name of the remote core's UART in reports. */
export const SIM_CONSOLE_STREAM = 'uart0';

/** The sim's states: images written (or checked), the simulated SoC on with the OpenAMP host ready. */
export type SimState = 'off' | 'firmware-ready' | 'host-ready';

/**
 * The simulated AMP SoC as a farm target, from parts: the simulated SoC (resource), the SimSoc
 * (memory, doorbells, a core thread: the remoteproc ops) and our OpenAmpHost as the Host
 * driver. The strategy: off -> firmware-ready (images generated into the target's work
 * directory unless farm.yaml names others) -> host-ready (a SoC that can boot them). Crash and
 * hang can be injected.
 */
export class SimTarget implements Target {
  readonly kind = 'sim';
  readonly capabilities: TargetCapabilities = { suites: SUITE_NAMES, restartable: true, faults: ['crash', 'hang'] };
  readonly strategy: OrderedStrategy<SimState>;
  /** The place: the simulated SoC's shape from farm.yaml. */
  readonly resource: SimulatedSocResource;
  private openAmpHost!: OpenAmpHost;
  private simSoc!: SimSoc;
  /** The SoC was shut down ('off'): the next host-ready builds a fresh one. */
  private socShutDown = false;
  private log: TargetLog | undefined;
  private readonly consoleBuffer = new ConsoleBuffer((stream, text) => this.log?.console(stream, text));
  /** By suite; generated images are shared by the suites that run the same program. */
  private readonly images = new Map<SuiteName, Promise<FirmwareImage>>();
  private readonly generated = new Map<string, Promise<FirmwareImage>>();

  constructor(
    readonly name: string,
    readonly params: SimParams,
    private readonly context: TargetContext,
  ) {
    this.log = context.log;
    this.resource = { name, memorySize: params.memorySize, vringNum: params.vringNum, bufferSize: params.bufferSize, remoteSpinMicros: params.remoteSpinMicros };
    this.buildSoc();
    this.strategy = new OrderedStrategy<SimState>({
      target: name,
      states: ['off', 'firmware-ready', 'host-ready'],
      ready: 'host-ready',
      log: (step) => this.log?.info(formatStrategyStep(step)),
      steps: {
        'firmware-ready': {
          detail: 'generate (or check) the image of every suite',
          up: () => this.prepareImages(),
          // The images live in the work directory, which the farm removes.
          down: async () => {},
        },
        'host-ready': {
          detail: `the simulated SoC (${params.memorySize} bytes DDR, Atomics doorbell) and the OpenAMP host`,
          up: async () => {
            if (this.socShutDown) this.buildSoc();
          },
          down: async () => {
            try {
              await this.openAmpHost.stop();
            } finally {
              await this.simSoc.shutdown();
              this.socShutDown = true;
            }
          },
        },
      },
    });
  }

  /** The Host driver: our OpenAmpHost over the SimSoc. */
  get host(): OpenAmpHost {
    return this.openAmpHost;
  }

  /** The simulated SoC (tests read its core thread). */
  get soc(): SimSoc {
    return this.simSoc;
  }

  async setup(log: TargetLog): Promise<void> {
    this.log = log;
    await this.strategy.transition(this.strategy.ready);
  }

  async teardown(): Promise<void> {
    await this.strategy.transition('off');
  }

  private buildSoc(): void {
    const resource = this.resource;
    const soc = new SimSoc({
      name: resource.name,
      memorySize: resource.memorySize,
      remoteSpinMicros: resource.remoteSpinMicros,
      replyDelayUs: this.params.replyDelayUs,
      onConsole: (line) => this.consoleBuffer.write(SIM_CONSOLE_STREAM, line + '\n'),
    });
    const host = new OpenAmpHost({
      ops: soc,
      doorbell: () => soc.hostDoorbell,
      name: resource.name,
      bufferSize: resource.bufferSize,
      stallTimeoutMs: this.params.stallTimeoutMs,
      spinAfterSendUs: this.params.hostSpinMicros,
      log: (line) => this.log?.info(line),
    });
    soc.onCrash = (reason) => host.remoteproc.reportCrash(reason);
    this.simSoc = soc;
    this.openAmpHost = host;
    this.socShutDown = false;
  }

  private async prepareImages(): Promise<void> {
    const images = await Promise.all(SUITE_NAMES.map(async (suite) => [suite, await this.firmwareFor(suite)] as const));
    // Suites share images (lifecycle runs echo's): one line per image, naming its suites.
    const suitesOf = new Map<string, SuiteName[]>();
    for (const [suite, image] of images) {
      const key = `${image.label} sha256 ${image.sha256}`;
      suitesOf.set(key, [...(suitesOf.get(key) ?? []), suite]);
    }
    for (const [key, suites] of suitesOf) this.log?.info(`${this.name}: firmware ${key} (${suites.join(', ')})`);
  }

  firmwareFor(suite: SuiteName): Promise<FirmwareImage> {
    let image = this.images.get(suite);
    if (!image) {
      image = this.resolveFirmware(suite);
      this.images.set(suite, image);
      image.catch(() => this.images.delete(suite));
    }
    return image;
  }

  takeConsole(): string {
    return this.consoleBuffer.take();
  }

  properties(): Record<string, string> {
    return {
      'target.kind': this.kind,
      'sim.machine': 'riscv32 (ELF32 EM_RISCV), simulated in a worker thread',
      'sim.memory': `DDR ${this.params.memorySize} bytes at 0x${SIM_DDR_BASE.toString(16)}, SharedArrayBuffer`,
      'sim.vringNum': String(this.params.vringNum),
      'sim.bufferSize': String(this.params.bufferSize),
      'sim.doorbell': 'atomics',
    };
  }

  private async resolveFirmware(suite: SuiteName): Promise<FirmwareImage> {
    const configured = this.context.firmware[suite];
    if (configured) return firmwareImageFromFile(this.name, suite, configured);
    const program = SIM_PROGRAM_FOR_SUITE[suite];
    let image = this.generated.get(program);
    if (!image) {
      image = writeSimFirmware(join(this.context.workDir, 'firmware', 'sim'), {
        program,
        vringNum: this.resource.vringNum,
        bufferSize: this.resource.bufferSize,
      });
      this.generated.set(program, image);
      image.catch(() => this.generated.delete(program));
    }
    return image;
  }
}
