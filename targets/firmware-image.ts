import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { InfrastructureError } from '../base/errors.js';
import type { FirmwareImage } from './target.js';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The image in the file at `path`, named by its base name, with its SHA-256. A file that cannot
 * be read is the lab's problem (InfrastructureError); whether its contents are a valid image is
 * checked when it is loaded.
 */
export async function firmwareImageFromFile(target: string, suite: string, path: string): Promise<FirmwareImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new InfrastructureError(`${target}: cannot read firmware ${path} for ${suite}: ${(error as Error).message}`, { cause: error });
  }
  return { label: basename(path), path, sha256: sha256Hex(bytes) };
}
