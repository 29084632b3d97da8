/**
 * A board whose OpenAMP host is MicroPython (kind micropython-openamp, preset stm32h747), from
 * parts: the board's serial port (resource: a stable path), an optional Power driver
 * (targets/power) and Flasher driver (targets/flasher), the BoardConnection (raw REPL over
 * serialport) and the MicroPython Host driver. Strategy: off -> powered (supply on, when a
 * power driver is configured) -> repl (port open, raw REPL entered) -> host-ready (agent on the
 * board and imported).
 */
import { isAbsolute, resolve } from 'node:path';
import { InfrastructureError } from '../../base/errors.js';
import { ConsoleBuffer } from '../console-buffer.js';
import { ToolFlasher } from '../flasher/flasher-drivers.js';
import type { TargetContext } from '../kind.js';
import { createPower } from '../power/power-drivers.js';
import type { FlasherProtocol, PowerProtocol } from '../protocols.js';
import { suiteFirmware } from '../reference-firmware.js';
import { OrderedStrategy, formatStrategyStep } from '../strategies/ordered-strategy.js';
import { type FirmwareImage, type Host, type SuiteName, type Target, type TargetCapabilities, type TargetLog } from '../target.js';
import { BoardConnection } from './board-connection.js';
import { MicroPythonHost } from './micropython-host.js';
import type { MicroPythonParams } from './micropython-params.js';

export type MicroPythonState = 'off' | 'powered' | 'repl' | 'host-ready';

/**
 * The suites a MicroPython host runs. Not flood: every message is a raw-REPL exec (~10-40 ms),
 * so 2,000 messages each way do not fit the suite's deadline; that needs batched sends in the
 * board agent (not done).
 */
export const MICROPYTHON_SUITES: readonly SuiteName[] = ['echo', 'matrix-multiply', 'multi-endpoint', 'lifecycle'];

const CONSOLE_STREAM = 'repl';

export class MicroPythonTarget implements Target {
  readonly capabilities: TargetCapabilities;
  readonly strategy: OrderedStrategy<MicroPythonState>;
  readonly port: string;
  private readonly connection: BoardConnection;
  private readonly micropythonHost: MicroPythonHost;
  private readonly power: PowerProtocol | undefined;
  private readonly flasher: FlasherProtocol | undefined;
  private log: TargetLog | undefined;
  private readonly consoleBuffer = new ConsoleBuffer((stream, text) => this.log?.console(stream, text));
  private version = 'unknown';
  /** SHA-256 of the image last flashed to the M4 (entry mode): unchanged images are not reflashed. */
  private flashed: string | undefined;

  constructor(
    readonly name: string,
    readonly kind: string,
    readonly params: MicroPythonParams,
    private readonly context: TargetContext,
  ) {
    this.log = context.log;
    this.capabilities = { suites: MICROPYTHON_SUITES, restartable: false, faults: params.faults };
    this.port = isAbsolute(params.port) ? params.port : resolve(context.configDir, params.port);
    this.power = params.power ? createPower(name, params.power) : undefined;
    this.flasher = params.flasher ? new ToolFlasher(name, params.flasher) : undefined;
    this.connection = new BoardConnection({
      port: this.port,
      baudRate: params.baudRate,
      name: `${name} (${this.port})`,
      rawPaste: params.rawPaste,
      onText: (text) => this.consoleBuffer.write(CONSOLE_STREAM, text),
      log: (line) => this.log?.info(line),
    });
    const host = new MicroPythonHost({
      name,
      connection: this.connection,
      firmwareLoad: params.firmwareLoad,
      entry: params.entry,
      boardDir: params.boardDir,
      execTimeoutMs: params.execTimeoutMs,
      resetTimeoutMs: params.resetTimeoutMs,
      faults: params.faults,
      stallTimeoutMs: params.stallTimeoutMs,
      log: (line) => this.log?.info(line),
      ...(this.power ? { hardReset: () => this.power!.cycle() } : {}),
    });
    this.micropythonHost = host;
    this.strategy = new OrderedStrategy<MicroPythonState>({
      target: name,
      states: ['off', 'powered', 'repl', 'host-ready'],
      ready: 'host-ready',
      log: (step) => this.log?.info(formatStrategyStep(step)),
      steps: {
        powered: {
          detail: this.power ? 'switch the board on' : 'no power driver configured: the board is assumed on',
          up: async () => this.power?.on(),
          down: async () => this.power?.off(),
        },
        repl: {
          detail: `open ${this.port} and enter the raw REPL`,
          up: async () => {
            await this.connection.open({ timeoutMs: params.resetTimeoutMs });
            const result = await this.connection.exec('import sys\nprint(sys.version, sys.implementation._machine if hasattr(sys.implementation, "_machine") else sys.platform)', { timeoutMs: params.execTimeoutMs });
            this.version = result.stdout.trim().slice(0, 200);
          },
          down: async () => this.connection.dropConsole(),
        },
        'host-ready': {
          detail: `the farm agent in ${params.boardDir} (copied only when its hash differs), openamp initialised`,
          up: async () => this.micropythonHost.prepare(),
          down: async () => {
            this.micropythonHost.dispose();
            if (this.micropythonHost.state !== 'offline') await this.micropythonHost.stop().catch((error: unknown) => this.log?.info(`${name}: stopping the remote: ${String(error)}`));
          },
        },
      },
    });
  }

  get host(): Host {
    if (this.strategy.state !== 'host-ready') throw new InfrastructureError(`${this.name}: the target is not set up`);
    return this.flasher && this.params.firmwareLoad === 'entry' ? this.flashingHost() : this.micropythonHost;
  }

  async setup(log: TargetLog): Promise<void> {
    this.log = log;
    await this.strategy.transition(this.strategy.ready);
  }

  async teardown(): Promise<void> {
    await this.strategy.transition('off');
    await this.connection.close();
  }

  firmwareFor(suite: SuiteName): Promise<FirmwareImage> {
    return suiteFirmware(this.name, suite, this.context.firmware[suite], 'cortex-m4');
  }

  takeConsole(): string {
    return this.consoleBuffer.take();
  }

  properties(): Record<string, string> {
    return {
      'target.kind': this.kind,
      'micropython.preset': this.params.preset,
      'micropython.port': this.port,
      'micropython.version': this.version,
      'micropython.firmwareLoad': this.params.firmwareLoad === 'file' ? `file: copied to ${this.params.boardDir}, RemoteProc(path)` : `entry: flashed beforehand, RemoteProc(0x${this.params.entry.toString(16)})`,
    };
  }

  /** The host, with the image flashed before a start when it changed (firmwareLoad 'entry'). */
  private flashingHost(): Host {
    const host = this.micropythonHost;
    const flasher = this.flasher as FlasherProtocol;
    const start = async (firmware: FirmwareImage): Promise<void> => {
      if (this.flashed !== firmware.sha256) {
        if (!firmware.path) throw new InfrastructureError(`${this.name}: firmware ${firmware.label} has no file to flash`);
        this.log?.info(`${this.name}: flashing ${firmware.path} at 0x${this.params.entry.toString(16)} (probe ${flasher.probeSerial})`);
        await flasher.flash(firmware.path, { address: this.params.entry });
        this.flashed = firmware.sha256;
      }
      await host.start(firmware);
    };
    return new Proxy(host, {
      get: (target, property, receiver) => (property === 'start' ? start : Reflect.get(target, property, receiver)),
    });
  }
}
