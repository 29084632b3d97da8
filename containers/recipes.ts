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

/**
 * The board-double image's command: the board's "first boot" makes fresh SSH host keys (the farm
 * reads the public one out of the container), then the double runs from the bind-mounted
 * checkout with the bind-mounted host Node.js: Debian 12's nodejs is 18, the farm needs 20.
 * (Lines in single quotes in a printf: none may hold a single quote.)
 */
const BOARD_DOUBLE_ENTRY = [
  '#!/bin/sh',
  'entry=/opt/farm/checkout/dist/targets/linux-remoteproc/testing/container-double.js',
  '[ -x /opt/farm/node ] || { echo "board-double image: bind-mount a Node.js 20 binary at /opt/farm/node (Debian 12 has 18)" >&2; exit 1; }',
  '[ -f $entry ] || { echo "board-double image: bind-mount a built openamp-farm checkout at /opt/farm/checkout (no $entry)" >&2; exit 1; }',
  'rm -f /etc/ssh/ssh_host_*',
  'ssh-keygen -A >/dev/null',
  'exec /opt/farm/node $entry',
];

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
  {
    name: 'board-double',
    description: "a Linux board in a container: the STM32MP157 board double (sshd, FUSE, QEMU's M4) run from the checkout and the host's Node.js, bind-mounted",
    from: 'qemu',
    steps: [
      'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server fuse3 openssl libstdc++6 && rm -rf /var/lib/apt/lists/* && mkdir -p -m 700 /root/.ssh && mkdir -p /lib/firmware && touch /etc/machine-id && rm -f /etc/ssh/ssh_host_*',
      `RUN printf '%s\\n' ${BOARD_DOUBLE_ENTRY.map((line) => `'${line}'`).join(' ')} > /usr/local/sbin/farm-board-double && chmod 755 /usr/local/sbin/farm-board-double`,
      'EXPOSE 22',
      'CMD ["/usr/local/sbin/farm-board-double"]',
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
