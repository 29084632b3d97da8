import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { execa } from 'execa';
import { InfrastructureError } from '../base/errors.js';
import { findExecutable, MissingToolError } from '../base/process/managed-process.js';
import { runFileStem, sweepStaleRunFiles } from '../base/process/run-files.js';
import {
  IMAGE_RECIPES,
  IMAGE_REPOSITORY_PREFIX,
  isDockerfileRecipe,
  recipeChain,
  recipeDockerfile,
  recipeTag,
  type DebootstrapRecipe,
  type DockerfileRecipe,
  type ImageRecipe,
} from './recipes.js';

/** A recipe could not be built (debootstrap, import or a Dockerfile step failed). */
export class ImageBuildError extends InfrastructureError {}

/** A container needs an image that is not there: one line with the fix. */
export class MissingImageError extends InfrastructureError {}

export type Progress = (line: string) => void;

/** Where debootstrap writes root filesystems while a base is made (removed after the import; a killed build's folder is swept). */
const ROOTFS_PARENT = '/var/tmp';
/** debootstrap's package cache, kept between builds so a changed recipe does not download everything again. */
export function debootstrapCacheDir(): string {
  return process.env.FARM_DEBOOTSTRAP_CACHE ?? path.join(os.homedir(), '.cache', 'openamp-farm', 'debootstrap');
}

export async function imageExists(docker: Docker, reference: string): Promise<boolean> {
  try {
    await docker.getImage(reference).inspect();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

export interface BuildResult {
  readonly recipe: string;
  readonly tag: string;
  /** False when the image with this recipe's hash was already there. */
  readonly built: boolean;
  readonly seconds: number;
}

/** Builds `name` and whatever it builds on, skipping every image whose recipe hash is already tagged. */
export async function buildRecipe(docker: Docker, name: string, progress: Progress = () => {}, recipes: readonly ImageRecipe[] = IMAGE_RECIPES): Promise<BuildResult[]> {
  const results: BuildResult[] = [];
  for (const recipe of recipeChain(name, recipes)) {
    const tag = recipeTag(recipe.name, recipes);
    const started = Date.now();
    if (await imageExists(docker, tag)) {
      progress(`${recipe.name}: ${tag} is up to date`);
      results.push({ recipe: recipe.name, tag, built: false, seconds: 0 });
      continue;
    }
    progress(`${recipe.name}: building ${tag} (${recipe.description})`);
    if (isDockerfileRecipe(recipe)) await buildDockerfile(docker, recipe, tag, progress, recipes);
    else await buildBase(docker, recipe, tag, progress);
    const seconds = (Date.now() - started) / 1000;
    progress(`${recipe.name}: built ${tag} in ${seconds.toFixed(1)} s`);
    results.push({ recipe: recipe.name, tag, built: true, seconds });
  }
  return results;
}

async function buildBase(docker: Docker, recipe: DebootstrapRecipe, tag: string, progress: Progress): Promise<void> {
  if (!findExecutable('debootstrap')) throw new MissingToolError('debootstrap', 'debootstrap');
  if (process.getuid?.() !== 0) throw new ImageBuildError(`${recipe.name}: debootstrap must run as root (run \`farm images build\` as root)`);
  sweepStaleRunFiles([ROOTFS_PARENT]);
  const rootfs = path.join(ROOTFS_PARENT, runFileStem('rootfs'));
  const cache = debootstrapCacheDir();
  fs.mkdirSync(cache, { recursive: true });
  const { suite, variant, mirror } = recipe.debootstrap;
  try {
    progress(`${recipe.name}: debootstrap --variant=${variant} ${suite} (a minute or two; packages cached in ${cache})`);
    const child = execa('debootstrap', [`--variant=${variant}`, `--cache-dir=${cache}`, suite, rootfs, mirror], { reject: false, all: true, buffer: { all: true } });
    let tail = '';
    child.all?.setEncoding('utf8');
    let partial = '';
    child.all?.on('data', (text: string) => {
      tail = (tail + text).slice(-2000);
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) progress(`${recipe.name}: ${line.trim()}`);
    });
    const result = await child;
    if (result.exitCode !== 0) throw new ImageBuildError(`${recipe.name}: debootstrap failed (exit ${result.exitCode ?? result.signal}): ${tail.trim().split('\n').slice(-3).join(' | ')}`);
    progress(`${recipe.name}: importing the root filesystem`);
    const [repo, version] = splitTag(tag);
    const tar = execa('tar', ['-C', rootfs, '--numeric-owner', '-c', '.'], { buffer: false, reject: false, encoding: 'buffer' });
    if (!tar.stdout) throw new ImageBuildError(`${recipe.name}: tar gave no output stream`);
    const stream = await docker.importImage(tar.stdout, { repo, tag: version });
    await followProgress(docker, stream, recipe.name, progress);
    const tarResult = await tar;
    if (tarResult.exitCode !== 0) throw new ImageBuildError(`${recipe.name}: tar of ${rootfs} failed (exit ${tarResult.exitCode})`);
  } finally {
    fs.rmSync(rootfs, { recursive: true, force: true });
  }
}

async function buildDockerfile(docker: Docker, recipe: DockerfileRecipe, tag: string, progress: Progress, recipes: readonly ImageRecipe[]): Promise<void> {
  const context = path.join(os.tmpdir(), runFileStem('build'));
  fs.mkdirSync(context);
  try {
    fs.writeFileSync(path.join(context, 'Dockerfile'), recipeDockerfile(recipe, recipes));
    // Host networking: the build reaches the Debian mirror the way the host does (no bridge NAT needed).
    const stream = await docker.buildImage({ context, src: ['Dockerfile'] }, { t: tag, networkmode: 'host', rm: true, forcerm: true });
    await followProgress(docker, stream, recipe.name, progress);
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
}

interface ProgressEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
}

function followProgress(docker: Docker, stream: NodeJS.ReadableStream, name: string, progress: Progress): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: string | undefined;
    docker.modem.followProgress(
      stream,
      (error: Error | null) => {
        if (error) reject(new ImageBuildError(`${name}: ${error.message}`, { cause: error }));
        else if (failure) reject(new ImageBuildError(`${name}: ${failure}`));
        else resolve();
      },
      (event: ProgressEvent) => {
        if (event.error) failure = event.errorDetail?.message ?? event.error;
        const text = (event.stream ?? event.status ?? '').trim();
        for (const line of text.split('\n')) if (line.trim()) progress(`${name}: ${line.trim()}`);
      },
    );
  });
}

function splitTag(tag: string): [string, string] {
  const colon = tag.lastIndexOf(':');
  return [tag.slice(0, colon), tag.slice(colon + 1)];
}

export interface ImageRow {
  readonly recipe: string | undefined;
  readonly tag: string;
  /** This recipe's current tag (false: an image of an older recipe, which prune removes). */
  readonly current: boolean;
  readonly built: boolean;
  readonly sizeBytes: number | undefined;
  readonly created: Date | undefined;
}

/** Every recipe (built or not) and every other openamp-farm/ image on the engine. */
export async function listFarmImages(docker: Docker, recipes: readonly ImageRecipe[] = IMAGE_RECIPES): Promise<ImageRow[]> {
  const images = await docker.listImages();
  const byTag = new Map<string, { size: number; created: number }>();
  for (const image of images) for (const tag of image.RepoTags ?? []) if (tag.startsWith(IMAGE_REPOSITORY_PREFIX)) byTag.set(tag, { size: image.Size, created: image.Created });
  const rows: ImageRow[] = [];
  const currentTags = new Set<string>();
  for (const recipe of recipes) {
    const tag = recipeTag(recipe.name, recipes);
    currentTags.add(tag);
    const image = byTag.get(tag);
    rows.push({ recipe: recipe.name, tag, current: true, built: !!image, sizeBytes: image?.size, created: image ? new Date(image.created * 1000) : undefined });
  }
  for (const [tag, image] of byTag) {
    if (currentTags.has(tag)) continue;
    const recipe = tag.slice(IMAGE_REPOSITORY_PREFIX.length).split(':')[0];
    rows.push({ recipe, tag, current: false, built: true, sizeBytes: image.size, created: new Date(image.created * 1000) });
  }
  return rows;
}

/** Removes openamp-farm/ images no current recipe has (older recipes' builds). Returns what it removed and what it could not. */
export async function pruneFarmImages(docker: Docker, progress: Progress = () => {}, recipes: readonly ImageRecipe[] = IMAGE_RECIPES): Promise<{ removed: string[]; kept: string[] }> {
  const removed: string[] = [];
  const kept: string[] = [];
  for (const row of await listFarmImages(docker, recipes)) {
    if (row.current) continue;
    try {
      await docker.getImage(row.tag).remove();
      removed.push(row.tag);
      progress(`removed ${row.tag}`);
    } catch (error) {
      kept.push(row.tag);
      progress(`kept ${row.tag}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  return { removed, kept };
}
