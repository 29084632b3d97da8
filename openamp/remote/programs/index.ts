import type { RemoteProgram, RemoteProgramName } from '../program.js';
import { echoProgram } from './echo.js';
import { matrixMultiplyProgram } from './matrix-multiply.js';
import { multiServicesProgram } from './multi-services.js';

export const REMOTE_PROGRAMS: Readonly<Record<RemoteProgramName, RemoteProgram>> = {
  echo: echoProgram,
  'matrix-multiply': matrixMultiplyProgram,
  'multi-services': multiServicesProgram,
};
