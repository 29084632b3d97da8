import { isAbsolute } from 'node:path';
import { InfrastructureError } from '../../base/errors.js';
import { runTool } from '../../base/process/run-tool.js';
import type { FlasherProtocol } from '../protocols.js';
import type { DfuUtilParams, FlasherParams, OpenOcdParams, StmProgrammerParams } from './flasher-params.js';

const hexAddress = (address: number) => `0x${address.toString(16).padStart(8, '0')}`;

/** The command line that writes `imagePath` through the probe named in `params` (exported for tests and `farm doctor`). */
export function flashCommand(params: FlasherParams, imagePath: string, address?: number): string[] {
  switch (params.tool) {
    case 'stm32cubeprogrammer':
      return stmProgrammerCommand(params, imagePath, address);
    case 'openocd':
      return openOcdCommand(params, imagePath, address);
    case 'dfu-util':
      return dfuUtilCommand(params, imagePath, address);
  }
}

function stmProgrammerCommand(params: StmProgrammerParams, imagePath: string, address: number | undefined): string[] {
  // -c port=SWD sn=<serial>: connect to that probe only; -w file [addr]; -v verify; -rst reset after.
  return [params.binary, '-c', `port=${params.port}`, `sn=${params.probeSerial}`, '-w', imagePath, ...(address === undefined ? [] : [hexAddress(address)]), '-v', '-rst'];
}

function openOcdCommand(params: OpenOcdParams, imagePath: string, address: number | undefined): string[] {
  // The path goes inside a Tcl command: braces keep spaces; a brace in it could break out.
  if (/[{}]/.test(imagePath)) throw new InfrastructureError(`openocd flasher: image path ${imagePath} contains a brace`);
  return [
    params.binary,
    '-f',
    params.interface,
    '-c',
    `adapter serial ${params.probeSerial}`,
    '-f',
    params.target,
    '-c',
    `program {${imagePath}}${address === undefined ? '' : ` ${hexAddress(address)}`} verify reset exit`,
  ];
}

function dfuUtilCommand(params: DfuUtilParams, imagePath: string, address: number | undefined): string[] {
  return [params.binary, '-S', params.probeSerial, '-a', String(params.alt), ...(address === undefined ? [] : ['-s', `${hexAddress(address)}:leave`]), '-D', imagePath];
}

const DEBIAN_PACKAGE: Partial<Record<FlasherParams['tool'], string>> = { openocd: 'openocd', 'dfu-util': 'dfu-util' };

/** Writes images through one configured tool, always naming the board's probe by serial. */
export class ToolFlasher implements FlasherProtocol {
  constructor(
    private readonly target: string,
    private readonly params: FlasherParams,
  ) {}

  get probeSerial(): string {
    return this.params.probeSerial;
  }

  async flash(imagePath: string, options: { address?: number; timeoutMs?: number } = {}): Promise<void> {
    if (!isAbsolute(imagePath)) throw new InfrastructureError(`${this.target}: flash image path must be absolute, got ${imagePath}`);
    const debianPackage = DEBIAN_PACKAGE[this.params.tool];
    await runTool({
      what: `${this.target}: flash ${imagePath} (probe ${this.params.probeSerial})`,
      argv: flashCommand(this.params, imagePath, options.address),
      timeoutMs: options.timeoutMs ?? this.params.timeoutMs,
      ...(debianPackage ? { debianPackage } : {}),
    });
  }
}
