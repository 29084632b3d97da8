import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { processExists } from './process-alive.js';

/**
 * Names for the files one run creates in /dev/shm and /tmp: `farm-<kind>-<pid>-<random>`. The
 * pid lets a later run remove what a killed run left behind (its pid is no longer alive).
 */
export function runFileStem(kind: string): string {
  return `farm-${kind}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

const STEM = /^farm-([a-z0-9-]+?)-(\d+)-[0-9a-f]{8}(\..*)?$/;


/** Removes files and folders of runs whose process is gone, from `dirs` (default /dev/shm and /tmp). Returns what it removed. */
export function sweepStaleRunFiles(dirs: readonly string[] = ['/dev/shm', '/tmp']): string[] {
  const removed: string[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const match = STEM.exec(name);
      if (!match || processExists(Number(match[2]))) continue;
      const file = path.join(dir, name);
      try {
        // Folders too: a container's bind-mounted run folder, a killed image build's root filesystem.
        fs.rmSync(file, { force: true, recursive: true });
        removed.push(file);
      } catch {
        // someone else's file we may not remove: leave it
      }
    }
  }
  return removed;
}
