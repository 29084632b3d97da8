/**
 * Playwright runs the files of one test folder, and a farm run takes its suites from several
 * places: the built-in ones next to the farm (dist/suites/, inside node_modules when the farm is
 * installed) and users' own, wherever their farm.yaml says. So `farm run` gives Playwright a
 * folder of its own in the out dir, with one small entry file per spec file that imports the
 * real one: `run-suites/<suite>/<file>.js`. Tests keep the location of the real file (Playwright
 * takes it from the call site), and the folder an entry sits in names its suite, for the
 * fixtures and the reporters alike. The folder is rewritten at every run.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SuiteDefinition } from './config.js';

/** The entry file name for one spec file of a suite: its path inside the suite's folder, flattened, ending in .js. */
function entryName(suite: SuiteDefinition, file: string): string {
  const root = suite.files.length === 1 ? dirname(file) : commonDir(suite.files);
  return relative(root, file).split(sep).join('__').replace(/\.[cm]?[jt]s$/, '.js');
}

function commonDir(files: readonly string[]): string {
  let dir = dirname(files[0] as string);
  while (!files.every((file) => file.startsWith(dir + sep))) dir = dirname(dir);
  return dir;
}

/** Writes the entry files of `suites` into `suitesDir` (emptied first); returns them by suite. */
export function writeSuiteEntries(suitesDir: string, suites: readonly SuiteDefinition[]): Map<string, string[]> {
  rmSync(suitesDir, { recursive: true, force: true });
  mkdirSync(suitesDir, { recursive: true });
  // The entries are ES modules whatever package the out dir is in.
  writeFileSync(join(suitesDir, 'package.json'), '{ "type": "module", "private": true }\n');
  const entries = new Map<string, string[]>();
  for (const suite of suites) {
    const dir = join(suitesDir, suite.name);
    mkdirSync(dir, { recursive: true });
    const written = suite.files.map((file) => {
      const entry = join(dir, entryName(suite, file));
      writeFileSync(entry, `// farm run: suite "${suite.name}"; the tests are in ${file}\nimport ${JSON.stringify(pathToFileURL(file).href)};\n`);
      return entry;
    });
    entries.set(suite.name, written);
  }
  return entries;
}
