import { connectEngine, ContainerEngineError, engineVersion, START_ENGINE_HINT } from '../../containers/engine.js';
import { resolveImageReference } from '../../containers/farm-container.js';
import { imageExists } from '../../containers/images.js';
import { findExecutable } from '../../base/process/managed-process.js';
import { toolPrerequisite } from '../tool-prerequisite.js';
import type { Prerequisite } from '../target.js';

/** `farm doctor` lines for a QEMU target in a container: the engine runs, and the image is there. */
export async function containerPrerequisites(image: string): Promise<Prerequisite[]> {
  const engine: Prerequisite = { name: 'container engine (dockerd)', ok: false, detail: '', debianPackages: ['docker.io'], hint: START_ENGINE_HINT };
  const { reference, recipe } = resolveImageReference(image);
  // A recipe image is made here: `farm images build` needs debootstrap for its base.
  const builder = recipe ? [toolPrerequisite('debootstrap (farm images build)', 'debootstrap', 'debootstrap')] : [];
  const imageLine = { name: `container image ${image}` };
  const fixImage = recipe ? `farm images build ${recipe}` : 'build or load the image on this engine (docker build / docker load)';
  if (!findExecutable('dockerd')) {
    return [
      ...builder,
      { ...engine, detail: 'dockerd not found (Debian package docker.io)' },
      { ...imageLine, ok: false, detail: `${reference}: cannot check without the engine`, hint: fixImage },
    ];
  }
  try {
    const docker = await connectEngine({ timeoutMs: 3000 });
    const { version, apiVersion } = await engineVersion(docker);
    const there = await imageExists(docker, reference);
    return [
      ...builder,
      { ...engine, ok: true, detail: `Docker ${version} (API ${apiVersion})` },
      { ...imageLine, ok: there, detail: there ? reference : `${reference} is not built`, hint: fixImage },
    ];
  } catch (error) {
    // The message without its fix, which the hint line gives.
    const detail = error instanceof ContainerEngineError ? (error.message.split('; start the engine')[0] ?? error.message) : (error as Error).message;
    return [
      ...builder,
      { name: engine.name, ok: false, detail, hint: START_ENGINE_HINT },
      { ...imageLine, ok: false, detail: `${reference}: cannot check without the engine`, hint: fixImage },
    ];
  }
}
