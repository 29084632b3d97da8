import { FirmwareError, InfrastructureError } from '../../base/errors.js';

/** The image cannot be loaded on this core: a segment outside device memory, no resource
 * table, a trace or carveout that does not translate, no loadable segment. */
export class FirmwareLoadError extends FirmwareError {}

/** The firmware asks for more host-allocated memory than the target's carveout pool has. */
export class CarveoutExhaustedError extends FirmwareError {}

/** A lifecycle call made in the wrong state (start while running, attach without support...):
 * a fault of the harness or the target glue, not of the image. */
export class RemoteprocStateError extends InfrastructureError {}
