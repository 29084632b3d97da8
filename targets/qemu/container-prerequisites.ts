import { connectEngine, ContainerEngineError, engineVersion, START_ENGINE_HINT } from '../../containers/engine.js';
import { resolveImageReference } from '../../containers/farm-container.js';
import { imageExists } from '../../containers/images.js';
import { findExecutable } from '../process/managed-process.js';
import type { Prerequisite } from '../target.js';

/** `farm doctor` lines for a QEMU target in a container: the engine runs, and the image is there. */
export async function containerPrerequisites(image: string): Promise<Prerequisite[]> {
  const engine: Prerequisite = { name: 'container engine (dockerd)', ok: false, detail: '', debianPackages: ['docker.io'], hint: START_ENGINE_HINT };
  const { reference, recipe } = resolveImageReference(image);
  const imageLine = { name: `container image ${image}` };
  const fixImage = recipe ? `farm images build ${recipe}` : 'build or load the image on this engine (docker build / docker load)';
  if (!findExecutable('dockerd')) {
    return [
      { ...engine, detail: 'dockerd not found (Debian package docker.io)' },
      { ...imageLine, ok: false, detail: `${reference}: cannot check without the engine`, hint: fixImage },
    ];
  }
  try {
    const docker = await connectEngine({ timeoutMs: 3000 });
    const { version, apiVersion } = await engineVersion(docker);
    const there = await imageExists(docker, reference);
    return [
      { ...engine, ok: true, detail: `Docker ${version} (API ${apiVersion})` },
      { ...imageLine, ok: there, detail: there ? reference : `${reference} is not built`, hint: fixImage },
    ];
  } catch (error) {
    const detail = error instanceof ContainerEngineError ? error.message : `${(error as Error).message}`;
    return [
      { name: engine.name, ok: false, detail, hint: START_ENGINE_HINT },
      { ...imageLine, ok: false, detail: `${reference}: cannot check without the engine`, hint: fixImage },
    ];
  }
}
