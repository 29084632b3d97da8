import { join } from 'node:path';
import { InfrastructureError } from '../../base/errors.js';
import { ConsoleBuffer } from '../console-buffer.js';
import { firmwareImageFromFile } from '../firmware-image.js';
import { OpenAmpHost } from '../openamp-host.js';
import type { TargetContext } from '../kind.js';
import { SUITE_NAMES, type FirmwareImage, type SuiteName, type Target, type TargetCapabilities, type TargetLog } from '../target.js';
import { SIM_PROGRAM_FOR_SUITE, writeSimFirmware } from './sim-firmware.js';
import { SIM_DDR_BASE } from './sim-machine.js';
import type { SimParams } from './sim-params.js';
import { SimSoc } from './sim-soc.js';

/** Console stream name of the remote core's UART in reports. */
export const SIM_CONSOLE_STREAM = 'uart0';

/**
 * The simulated AMP SoC as a farm target: nothing to provision but the firmware images
 * (generated into the target's work directory unless farm.yaml names others); the host is our
 * OpenAmpHost over the SimSoc's remoteproc ops; crash and hang can be injected.
 */
export class SimTarget implements Target {
  readonly kind = 'sim';
  readonly capabilities: TargetCapabilities = { suites: SUITE_NAMES, restartable: true, faults: ['crash', 'hang'] };
  readonly host: OpenAmpHost;
  readonly soc: SimSoc;
  private log: TargetLog | undefined;
  private readonly consoleBuffer = new ConsoleBuffer((stream, text) => this.log?.console(stream, text));
  /** By suite; generated images are shared by the suites that run the same program. */
  private readonly images = new Map<SuiteName, Promise<FirmwareImage>>();
  private readonly generated = new Map<string, Promise<FirmwareImage>>();
  private tornDown = false;

  constructor(
    readonly name: string,
    readonly params: SimParams,
    private readonly context: TargetContext,
  ) {
    this.soc = new SimSoc({
      name,
      memorySize: params.memorySize,
      remoteSpinMicros: params.remoteSpinMicros,
      onConsole: (line) => this.consoleBuffer.write(SIM_CONSOLE_STREAM, line + '\n'),
    });
    this.host = new OpenAmpHost({
      ops: this.soc,
      doorbell: () => this.soc.hostDoorbell,
      name,
      bufferSize: params.bufferSize,
      stallTimeoutMs: params.stallTimeoutMs,
      log: (line) => this.log?.info(line),
    });
    this.soc.onCrash = (reason) => this.host.remoteproc.reportCrash(reason);
  }

  async setup(log: TargetLog): Promise<void> {
    if (this.tornDown) throw new InfrastructureError(`${this.name}: setup after teardown`);
    this.log = log;
    const images = await Promise.all(SUITE_NAMES.map(async (suite) => [suite, await this.firmwareFor(suite)] as const));
    // Suites share images (lifecycle runs echo's): one line per image, naming its suites.
    const suitesOf = new Map<string, SuiteName[]>();
    for (const [suite, image] of images) {
      const key = `${image.label} sha256 ${image.sha256}`;
      suitesOf.set(key, [...(suitesOf.get(key) ?? []), suite]);
    }
    for (const [key, suites] of suitesOf) log.info(`${this.name}: firmware ${key} (${suites.join(', ')})`);
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

  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    try {
      await this.host.stop();
    } finally {
      await this.soc.shutdown();
    }
  }

  private async resolveFirmware(suite: SuiteName): Promise<FirmwareImage> {
    const configured = this.context.firmware[suite];
    if (configured) return firmwareImageFromFile(this.name, suite, configured);
    const program = SIM_PROGRAM_FOR_SUITE[suite];
    let image = this.generated.get(program);
    if (!image) {
      image = writeSimFirmware(join(this.context.workDir, 'firmware', 'sim'), {
        program,
        vringNum: this.params.vringNum,
        bufferSize: this.params.bufferSize,
      });
      this.generated.set(program, image);
      image.catch(() => this.generated.delete(program));
    }
    return image;
  }
}
