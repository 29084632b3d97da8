/**
 * `farm report merge DIR... --out DIR`: one report of the shards of a run (`farm run --shard
 * I/N --out DIR` on one machine or several). Each shard keeps Playwright's blob report
 * (<out>/blob/report-I.zip); Playwright's merge-reports replays them all through the farm's
 * reporters, so the merged out dir has the JUnit file, metrics, HTML report and summary table
 * one run of every shard's tests would have written. A shard that did not end has no blob
 * report: merging it is refused (its own junit.xml says how far it got).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reportPaths } from '../reports/paths.js';
import type { RunPlan } from './run-plan.js';
import { UsageError } from './selection.js';

/** Names the merged out dir for the merge configuration (merge.config.ts). */
export const MERGE_OUT_ENV = 'FARM_MERGE_OUT';

interface ShardDir {
  readonly dir: string;
  readonly blobs: readonly string[];
  readonly shard: RunPlan['shard'];
}

function readShard(dir: string): ShardDir {
  const paths = reportPaths(dir);
  if (!existsSync(dir)) throw new UsageError(`${dir}: no such directory`);
  const blobs = existsSync(paths.blob) ? readdirSync(paths.blob).filter((name) => name.endsWith('.zip')).map((name) => join(paths.blob, name)) : [];
  if (blobs.length === 0) {
    throw new UsageError(`${dir}: no blob report (${paths.blob}/*.zip): it is written when a farm run --shard I/N ends; a shard that was stopped cannot be merged (its junit.xml says how far it got)`);
  }
  let shard: RunPlan['shard'] = null;
  try {
    shard = (JSON.parse(readFileSync(paths.plan, 'utf8')) as RunPlan).shard;
  } catch {
    // No plan: nothing to say about which shard it was.
  }
  return { dir, blobs, shard };
}

export async function reportMergeCommand(dirs: readonly string[], out: string, cwd = process.cwd()): Promise<number> {
  const outDir = resolve(cwd, out);
  const shards = dirs.map((dir) => readShard(resolve(cwd, dir)));
  if (shards.some((shard) => shard.dir === outDir)) throw new UsageError(`--out ${out}: is one of the shards being merged; merge into another directory`);
  const seen = new Map<string, string>();
  for (const { dir, shard } of shards) {
    if (!shard) continue;
    const key = `${shard.current}/${shard.total}`;
    const earlier = seen.get(key);
    if (earlier) throw new UsageError(`${dir}: shard ${key} again (also ${earlier})`);
    seen.set(key, dir);
  }
  const totals = new Set(shards.flatMap(({ shard }) => (shard ? [shard.total] : [])));
  for (const total of totals) {
    const missing = Array.from({ length: total }, (_, index) => `${index + 1}/${total}`).filter((key) => !seen.has(key));
    if (missing.length) process.stdout.write(`farm report merge: note: shard(s) ${missing.join(', ')} not given: the merged report has only the tests of the others\n`);
  }

  const paths = reportPaths(outDir);
  mkdirSync(outDir, { recursive: true });
  for (const stale of [paths.junit, paths.metrics, paths.html]) rmSync(stale, { recursive: true, force: true });
  const blobDir = join(outDir, 'merge-blobs');
  rmSync(blobDir, { recursive: true, force: true });
  mkdirSync(blobDir, { recursive: true });
  shards.forEach((shard, index) => shard.blobs.forEach((blob, blobIndex) => copyFileSync(blob, join(blobDir, `shard-${index + 1}-${blobIndex + 1}.zip`))));

  const playwrightCli = createRequire(import.meta.url).resolve('@playwright/test/cli');
  const config = fileURLToPath(new URL('./merge.config.js', import.meta.url));
  try {
    const code = await new Promise<number>((resolveExit) => {
      const child = spawn(process.execPath, [playwrightCli, 'merge-reports', '--config', config, blobDir], {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, [MERGE_OUT_ENV]: outDir, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' },
      });
      child.once('error', (error) => {
        process.stderr.write(`farm report merge: cannot start Playwright: ${error.message}\n`);
        resolveExit(1);
      });
      child.once('exit', (exitCode) => resolveExit(exitCode ?? 1));
    });
    if (code !== 0) return code;
    // As farm run: 0 only when every test of every shard passed.
    const status = (JSON.parse(readFileSync(paths.metrics, 'utf8')) as { status?: string }).status;
    return status === 'passed' ? 0 : 1;
  } finally {
    rmSync(blobDir, { recursive: true, force: true });
  }
}
