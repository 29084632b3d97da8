/** Where Debian's PostgreSQL server is installed (the farm's own tests start throwaway clusters of it). */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Prerequisite } from '../../targets/target.js';

/** The bin dir of the newest PostgreSQL installed the Debian way, or undefined. */
export function postgresBinDir(root = '/usr/lib/postgresql'): string | undefined {
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((name) => existsSync(join(root, name, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

export function postgresPrerequisite(): Prerequisite {
  const bin = postgresBinDir();
  return bin
    ? { name: 'PostgreSQL server', ok: true, detail: `${bin} (farm database; the farm's own tests start throwaway clusters)` }
    : { name: 'PostgreSQL server', ok: false, detail: 'not installed (needed for a farm of many hosts and the farm\'s own tests)', debianPackages: ['postgresql'] };
}
