import type { Prerequisite } from './target.js';
import { findExecutable } from '../base/process/managed-process.js';

/** A binary a target kind needs on PATH, as a `farm doctor` line (the package installs it). */
export function toolPrerequisite(name: string, binary: string, debianPackage: string): Prerequisite {
  const found = findExecutable(binary);
  return { name, ok: found !== undefined, detail: found ?? `${binary} not found (Debian package ${debianPackage})`, debianPackages: [debianPackage] };
}
