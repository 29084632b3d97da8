/**
 * The step after `tsc` in `npm run build`. The build no longer deletes dist/ first (a `farm`
 * command running from the same checkout would die with MODULE_NOT_FOUND mid-run); instead,
 * outputs whose source is gone are removed here, so a deleted test never runs again from a
 * stale dist/*.test.js, and the CLI gets its execute bit back (tsc writes files 0644, so
 * `npx farm` said "Permission denied" after every rebuild).
 *
 *     node dist/farm/build/finish-build.js [ROOT]   (ROOT: the checkout, default: two levels up)
 */
import { chmodSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What tsc emits for one `x.ts` (with sourceMap and declaration on). */
const OUTPUT_SUFFIXES = ['.js', '.js.map', '.d.ts', '.d.ts.map'] as const;

/** The source a dist/ file was compiled from (`dist/a/b.js` -> `a/b.ts`), or undefined for other files. */
export function sourceOf(distRelativePath: string): string | undefined {
  // Longest suffix first: "x.d.ts.map" must not be read as "x.d.ts" + ".map".
  for (const suffix of [...OUTPUT_SUFFIXES].sort((a, b) => b.length - a.length)) {
    if (distRelativePath.endsWith(suffix)) return `${distRelativePath.slice(0, -suffix.length)}.ts`;
  }
  return undefined;
}

function filesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(path));
    else found.push(path);
  }
  return found;
}

/** Removes outputs in `distDir` whose source under `rootDir` no longer exists; returns them (relative to distDir). */
export function pruneStaleOutputs(rootDir: string, distDir: string): string[] {
  const removed: string[] = [];
  for (const file of filesUnder(distDir)) {
    const inDist = relative(distDir, file);
    const source = sourceOf(inDist);
    if (source !== undefined && !existsSync(join(rootDir, source))) {
      rmSync(file, { force: true });
      removed.push(inDist);
    }
  }
  // Folders left empty by the removal go too.
  const removeEmpty = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeEmpty(join(dir, entry.name));
    if (dir !== distDir && readdirSync(dir).length === 0) rmSync(dir, { recursive: true, force: true });
  };
  removeEmpty(distDir);
  return removed;
}

/** Adds the execute bits to `file` wherever it has read bits (0644 -> 0755). */
export function makeExecutable(file: string): void {
  const mode = statSync(file).mode & 0o777;
  chmodSync(file, mode | ((mode & 0o444) >> 2));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rootDir = process.argv[2] ?? fileURLToPath(new URL('../../..', import.meta.url));
  const distDir = join(rootDir, 'dist');
  const removed = pruneStaleOutputs(rootDir, distDir);
  if (removed.length) process.stdout.write(`build: removed ${removed.length} stale output(s) of deleted sources: ${removed.join(', ')}\n`);
  makeExecutable(join(distDir, 'farm', 'cli.js'));
}
