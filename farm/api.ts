/**
 * openamp-farm's public API: what users' own suites import (`import { test, expect } from
 * 'openamp-farm'`), the package's only entry point (package.json `exports`). Everything else in
 * the package is internal and may change between versions.
 *
 * A spec file of a user suite is a Playwright Test spec run by `farm run` (never by `npx
 * playwright test`): the fixtures come from the farm's run plan. See README "Your own suites".
 */
import { firmwareImageFromFile } from '../targets/firmware-image.js';
import type { FirmwareImage } from '../targets/target.js';

// The test function with the farm's fixtures (target, host, console, firmware, suite,
// capabilities) and Playwright's expect.
export { test, expect, type RemoteConsole, type TestFixtures } from './fixtures.js';

// What the fixtures hand a test.
export {
  SUITE_NAMES,
  type Channel,
  type FaultKind,
  type FirmwareImage,
  type Host,
  type HostEndpoint,
  type Message,
  type NameServiceEvent,
  type OpenEndpointOptions,
  type RemoteState,
  type SuiteName,
  type Target,
  type TargetCapabilities,
} from '../targets/target.js';

// The failure classes: throw these (or let the host's own errors through) and the reports file
// the failure under the right class (infrastructure, firmware, protocol, assertion).
export {
  AssertionFailure,
  FarmError,
  FirmwareError,
  InfrastructureError,
  ProtocolError,
  RemoteCrashedError,
  TimeoutError,
  FAILURE_CLASSES,
  type FailureClass,
} from '../base/errors.js';

/**
 * A firmware image from a file, to start by hand (`await host.stop(); await
 * host.start(await firmwareFromFile('build/blink.elf'))`): labelled by its base name, with the
 * SHA-256 the reports record. A file that cannot be read is an InfrastructureError; whether its
 * contents suit the target is checked when it is started. Relative paths resolve against the
 * working directory (farm run's: where it was started).
 */
export function firmwareFromFile(path: string): Promise<FirmwareImage> {
  return firmwareImageFromFile('firmwareFromFile', path, path);
}
