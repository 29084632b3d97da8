/** Whether a process is there: the one test of "is its owner gone?" behind every sweep of the farm. */
import { readFileSync } from 'node:fs';

/**
 * The process exists (possibly as a zombie, possibly someone else's: EPERM means it exists).
 * What sweeps ask before they remove the files, containers or clusters a pid names.
 */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process exists and is not a zombie (a zombie has exited; only its parent's wait is missing). */
export function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
