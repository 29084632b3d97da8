import { createHash } from 'node:crypto';

/**
 * Image recipes: how the farm makes the images its containers run, with no registry. The base
 * is a Debian root filesystem made with debootstrap from Debian's mirror and `docker import`ed;
 * every other recipe is a Dockerfile on another recipe. An image is tagged
 * `openamp-farm/<recipe>:<hash>`, the hash covering the recipe and its parent's tag, so an
 * unchanged recipe is never rebuilt and a changed one (or a changed parent) always is.
 */
export interface DebootstrapRecipe {
  readonly name: string;
  readonly description: string;
  readonly debootstrap: { readonly suite: string; readonly variant: string; readonly mirror: string };
}

export interface DockerfileRecipe {
  readonly name: string;
  readonly description: string;
  /** The recipe this one builds on. */
  readonly from: string;
  /** The Dockerfile after its FROM line. */
  readonly steps: readonly string[];
}

export type ImageRecipe = DebootstrapRecipe | DockerfileRecipe;

export const IMAGE_REPOSITORY_PREFIX = 'openamp-farm/';
/** Label on images built from a Dockerfile recipe (the imported base carries none: import sets no labels). */
export const RECIPE_LABEL = 'org.openamp-farm.recipe';

export const IMAGE_RECIPES: readonly ImageRecipe[] = [
  {
    name: 'base',
    description: 'Debian bookworm, debootstrap --variant=minbase from deb.debian.org',
    debootstrap: { suite: 'bookworm', variant: 'minbase', mirror: 'http://deb.debian.org/debian' },
  },
  {
    name: 'qemu',
    description: "Debian's QEMU 7.2 (qemu-system-misc: riscv64; qemu-system-arm: arm, aarch64) on base",
    from: 'base',
    steps: [
      'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-system-misc qemu-system-arm && rm -rf /var/lib/apt/lists/*',
    ],
  },
];

export function isDockerfileRecipe(recipe: ImageRecipe): recipe is DockerfileRecipe {
  return 'from' in recipe;
}

export function findRecipe(name: string, recipes: readonly ImageRecipe[] = IMAGE_RECIPES): ImageRecipe | undefined {
  return recipes.find((recipe) => recipe.name === name);
}

/** The recipe and its ancestors, base first. Throws on an unknown parent or a cycle. */
export function recipeChain(name: string, recipes: readonly ImageRecipe[] = IMAGE_RECIPES): ImageRecipe[] {
  const chain: ImageRecipe[] = [];
  let current: string | undefined = name;
  while (current !== undefined) {
    const recipe = findRecipe(current, recipes);
    if (!recipe) throw new Error(`unknown image recipe "${current}" (known: ${recipes.map((r) => r.name).join(', ')})`);
    if (chain.includes(recipe)) throw new Error(`image recipe "${name}": cycle through "${current}"`);
    chain.unshift(recipe);
    current = isDockerfileRecipe(recipe) ? recipe.from : undefined;
  }
  return chain;
}

/** `openamp-farm/<name>:<16 hex digits of sha256(recipe, parent tag)>`. */
export function recipeTag(name: string, recipes: readonly ImageRecipe[] = IMAGE_RECIPES): string {
  let parentTag = '';
  for (const recipe of recipeChain(name, recipes)) {
    const hash = createHash('sha256').update(JSON.stringify({ recipe, parentTag })).digest('hex').slice(0, 16);
    parentTag = `${IMAGE_REPOSITORY_PREFIX}${recipe.name}:${hash}`;
  }
  return parentTag;
}

/** The Dockerfile of a Dockerfile recipe, FROM its parent's tag. */
export function recipeDockerfile(recipe: DockerfileRecipe, recipes: readonly ImageRecipe[] = IMAGE_RECIPES): string {
  return [`FROM ${recipeTag(recipe.from, recipes)}`, `LABEL ${RECIPE_LABEL}=${recipe.name}`, ...recipe.steps, ''].join('\n');
}
