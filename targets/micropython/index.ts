import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { firmwareBuildTools } from '../../firmware/build.js';
import { EM_ARM } from '../../openamp/elf/elf-constants.js';
import { PROGRAM_FOR_SUITE } from '../reference-firmware.js';
import { flashCommand } from '../flasher/flasher-drivers.js';
import type { TargetKindDefinition } from '../kind.js';
import { toolPrerequisite as tool } from '../tool-prerequisite.js';
import type { Prerequisite } from '../target.js';
import { parseMicroPythonParams, type MicroPythonParams } from './micropython-params.js';
import { MICROPYTHON_SUITES, MicroPythonTarget } from './micropython-target.js';

export { MicroPythonTarget } from './micropython-target.js';

const FLASHER_PACKAGES: Record<string, string> = { openocd: 'openocd', 'dfu-util': 'dfu-util' };

export const micropythonOpenampKind: TargetKindDefinition<MicroPythonParams> = {
  kind: 'micropython-openamp',
  description: "a board whose OpenAMP host is MicroPython's openamp module (preset stm32h747: M7 host, M4 remote), driven over the raw REPL on its USB serial port",
  suites: MICROPYTHON_SUITES,
  parseParams: parseMicroPythonParams,
  machine: { elfMachine: EM_ARM, elfClass: 32 },
  async prerequisites(params, context): Promise<Prerequisite[]> {
    const port = isAbsolute(params.port) ? params.port : resolve(context.configDir, params.port);
    const present = existsSync(port);
    const lines: Prerequisite[] = [
      {
        name: 'board serial port',
        ok: present && statSync(port).isCharacterDevice(),
        detail: present ? `${port}${statSync(port).isCharacterDevice() ? '' : ' is not a character device'}` : `${port} does not exist`,
        hint: 'plug the board in (its USB CDC port appears under /dev/serial/by-id/), or start the board double (npm run double)',
      },
    ];
    if (params.flasher) {
      const binary = flashCommand(params.flasher, '/dev/null', params.entry)[0] as string;
      const debianPackage = FLASHER_PACKAGES[params.flasher.tool];
      lines.push(
        debianPackage
          ? tool(`${binary} (flasher, probe ${params.flasher.probeSerial})`, binary, debianPackage)
          : { ...tool(`${binary} (flasher, probe ${params.flasher.probeSerial})`, binary, 'none'), debianPackages: [], hint: 'install STM32CubeProgrammer from st.com (not in Debian)' },
      );
    }
    if (params.power?.type === 'uhubctl') lines.push(tool('uhubctl (power)', params.power.binary, 'uhubctl'));
    // Suites farm.yaml gives no image for run the reference firmware, built for the Cortex-M4.
    const programs = [...new Set(MICROPYTHON_SUITES.filter((suite) => !context.firmware?.[suite]).map((suite) => PROGRAM_FOR_SUITE[suite]))];
    const build = firmwareBuildTools('cortex-m4', { programs });
    lines.push(...build.map(({ binary, debianPackage }) => tool(`${binary} (reference M4 firmware build)`, binary, debianPackage)));
    return lines;
  },
  create: (name, params, context) => new MicroPythonTarget(name, 'micropython-openamp', params, context),
};
