import { connectEngine } from '../../containers/engine.js';
import { FarmContainer } from '../../containers/farm-container.js';
import type { QemuContainerRunner } from '../../qemu/qemu-instance.js';

/**
 * Runs QEMU's command line in a container of `image` (a recipe name or a local image) through
 * containers/: labelled for `target`, removed when it stops or the farm dies (FarmContainer).
 */
export function qemuContainerRunner(image: string, target: string): QemuContainerRunner {
  return {
    image,
    run: async (spec) => FarmContainer.run({ docker: await connectEngine(), image, name: spec.name, target, command: spec.command, binds: spec.binds, onOutput: spec.onOutput }),
  };
}
