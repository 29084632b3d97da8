import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IMAGE_RECIPES, recipeChain, recipeDockerfile, recipeTag, type ImageRecipe } from './recipes.js';

test('recipe tags: stable for an unchanged recipe, new when the recipe or anything it builds on changes', () => {
  assert.match(recipeTag('base'), /^openamp-farm\/base:[0-9a-f]{16}$/);
  assert.equal(recipeTag('qemu'), recipeTag('qemu'), 'same recipe, same tag');
  const changedStep: ImageRecipe[] = IMAGE_RECIPES.map((recipe) => (recipe.name === 'qemu' ? { ...recipe, steps: ['RUN true'] } : recipe));
  assert.notEqual(recipeTag('qemu', changedStep), recipeTag('qemu'));
  assert.equal(recipeTag('base', changedStep), recipeTag('base'), 'a child change leaves the parent alone');
  const changedBase: ImageRecipe[] = IMAGE_RECIPES.map((recipe) => (recipe.name === 'base' ? { ...recipe, debootstrap: { suite: 'trixie', variant: 'minbase', mirror: 'http://deb.debian.org/debian' } } : recipe));
  assert.notEqual(recipeTag('qemu', changedBase), recipeTag('qemu'), 'a parent change rebuilds the child');
});

test('recipe chains start at the debootstrap base; the Dockerfile builds FROM the parent tag; unknown names and cycles are errors', () => {
  assert.deepEqual(recipeChain('qemu').map((recipe) => recipe.name), ['base', 'qemu']);
  const qemu = IMAGE_RECIPES.find((recipe) => recipe.name === 'qemu');
  assert.ok(qemu && 'from' in qemu);
  const dockerfile = recipeDockerfile(qemu);
  assert.ok(dockerfile.startsWith(`FROM ${recipeTag('base')}\n`), dockerfile);
  assert.match(dockerfile, /LABEL org\.openamp-farm\.recipe=qemu/);
  assert.match(dockerfile, /apt-get install -y --no-install-recommends qemu-system-misc qemu-system-arm/);
  assert.throws(() => recipeChain('nope'), /unknown image recipe "nope" \(known: base, qemu, board-double\)/);
  const cyclic: ImageRecipe[] = [
    { name: 'a', description: '', from: 'b', steps: [] },
    { name: 'b', description: '', from: 'a', steps: [] },
  ];
  assert.throws(() => recipeChain('a', cyclic), /cycle/);
});

test('the board-double recipe builds on qemu, keeps its own command, and bakes in no SSH host key (each start makes one, which the farm reads)', () => {
  assert.deepEqual(recipeChain('board-double').map((recipe) => recipe.name), ['base', 'qemu', 'board-double']);
  const recipe = IMAGE_RECIPES.find((candidate) => candidate.name === 'board-double');
  assert.ok(recipe && 'from' in recipe);
  const dockerfile = recipeDockerfile(recipe);
  assert.ok(dockerfile.startsWith(`FROM ${recipeTag('qemu')}\n`), dockerfile);
  assert.match(dockerfile, /openssh-server fuse3/);
  assert.match(dockerfile, /rm -f \/etc\/ssh\/ssh_host_\*/, 'no host key baked into the image');
  assert.match(dockerfile, /\nCMD \["\/usr\/local\/sbin\/farm-board-double"\]\n/);
  assert.match(dockerfile, /ssh-keygen -A/);
  assert.match(dockerfile, /exec \/opt\/farm\/node \$entry/);
});
