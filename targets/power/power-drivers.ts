import { InfrastructureError } from '../../base/errors.js';
import { runTool } from '../../base/process/run-tool.js';
import type { PowerProtocol, PowerState } from '../protocols.js';
import type { CommandPowerParams, PowerParams, UhubctlPowerParams } from './power-params.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Power through one configured command line per action (a relay script, a network PDU's CLI). */
export class CommandPower implements PowerProtocol {
  constructor(
    private readonly target: string,
    private readonly params: CommandPowerParams,
  ) {}

  private run(action: string, argv: readonly string[]): Promise<string> {
    return runTool({ what: `${this.target}: power ${action}`, argv, timeoutMs: this.params.timeoutMs });
  }

  async on(): Promise<void> {
    await this.run('on', this.params.on);
  }

  async off(): Promise<void> {
    await this.run('off', this.params.off);
  }

  async cycle(): Promise<void> {
    if (this.params.cycle) {
      await this.run('cycle', this.params.cycle);
      return;
    }
    await this.off();
    await sleep(this.params.delayMs);
    await this.on();
  }

  async state(): Promise<PowerState> {
    if (!this.params.state) return 'unknown';
    return parsePowerWord(await this.run('state', this.params.state));
  }
}

/** "on" / "off" as a whole word in a state command's output (the first one wins); else unknown. */
export function parsePowerWord(output: string): PowerState {
  const match = /\b(on|off)\b/i.exec(output);
  return match ? (match[1]!.toLowerCase() as PowerState) : 'unknown';
}

/** Power through a USB hub port with per-port power switching (uhubctl). */
export class UhubctlPower implements PowerProtocol {
  constructor(
    private readonly target: string,
    private readonly params: UhubctlPowerParams,
  ) {}

  private run(action: string, extra: readonly string[]): Promise<string> {
    const { binary, location, port, timeoutMs } = this.params;
    return runTool({ what: `${this.target}: power ${action}`, argv: [binary, '-l', location, '-p', String(port), ...extra], timeoutMs, debianPackage: 'uhubctl' });
  }

  async on(): Promise<void> {
    await this.run('on', ['-a', 'on']);
  }

  async off(): Promise<void> {
    await this.run('off', ['-a', 'off']);
  }

  async cycle(): Promise<void> {
    // uhubctl's -d is in whole seconds.
    await this.run('cycle', ['-a', 'cycle', '-d', String(Math.max(1, Math.ceil(this.params.delayMs / 1000)))]);
  }

  async state(): Promise<PowerState> {
    const output = await this.run('state', []);
    // "  Port 2: 0503 power highspeed enable connect [...]" or "  Port 2: 0000 off"
    const line = output.split('\n').find((candidate) => new RegExp(`^\\s*Port ${this.params.port}:`).test(candidate));
    if (!line) throw new InfrastructureError(`${this.target}: uhubctl lists no port ${this.params.port} on hub ${this.params.location}`);
    if (/\bpower\b/.test(line)) return 'on';
    if (/\boff\b/.test(line)) return 'off';
    return 'unknown';
  }
}

export function createPower(target: string, params: PowerParams): PowerProtocol {
  return params.type === 'command' ? new CommandPower(target, params) : new UhubctlPower(target, params);
}
