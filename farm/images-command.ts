/** `farm images build | list | prune`: the container images the farm makes itself (containers/). */
import { connectEngine } from '../containers/engine.js';
import { buildRecipe, listFarmImages, pruneFarmImages } from '../containers/images.js';
import { IMAGE_RECIPES } from '../containers/recipes.js';
import { UsageError } from './selection.js';

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

export async function imagesCommand(action: string, names: readonly string[]): Promise<number> {
  for (const name of names) {
    if (!IMAGE_RECIPES.some((recipe) => recipe.name === name)) {
      throw new UsageError(`farm images build: unknown recipe "${name}" (recipes: ${IMAGE_RECIPES.map((recipe) => recipe.name).join(', ')})`);
    }
  }
  const docker = await connectEngine();
  const started = Date.now();
  const progress = (line: string): void => out(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}`);
  switch (action) {
    case 'build': {
      for (const name of names.length > 0 ? names : IMAGE_RECIPES.map((recipe) => recipe.name)) await buildRecipe(docker, name, progress);
      return 0;
    }
    case 'list': {
      const rows = (await listFarmImages(docker)).map((row) => [
        row.recipe ?? '-',
        row.tag,
        row.current ? (row.built ? 'built' : 'not built') : 'stale (prune removes it)',
        row.sizeBytes === undefined ? '-' : `${(row.sizeBytes / 1e6).toFixed(0)} MB`,
        row.created?.toISOString().replace(/\.\d+Z$/, 'Z') ?? '-',
      ]);
      const header = ['recipe', 'image', 'state', 'size', 'created'];
      const widths = header.map((_, column) => Math.max(header[column]?.length ?? 0, ...rows.map((row) => row[column]?.length ?? 0)));
      for (const row of [header, ...rows]) out(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd());
      return 0;
    }
    case 'prune': {
      const { removed, kept } = await pruneFarmImages(docker, progress);
      out(`${removed.length} image(s) removed${kept.length ? `, ${kept.length} kept (in use?)` : ''}`);
      return kept.length ? 1 : 0;
    }
    default:
      throw new UsageError(`farm images: unknown action "${action}"`);
  }
}
