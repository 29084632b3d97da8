import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { BUILTIN_KIND_MODULES, EXTRA_KINDS_ENV, KindRegistry, loadKind, loadKindRegistry } from './registry.js';
import { fakeKind } from '../farm/testing/fake-target.js';

const fakeModule = fileURLToPath(new URL('../farm/testing/fake-target.js', import.meta.url));

test('FARM_EXTRA_KINDS adds the kinds a module exports', async () => {
  const registry = await loadKindRegistry({ [EXTRA_KINDS_ENV]: fakeModule });
  assert.ok(registry.get('fake'));
  const plain = await loadKindRegistry({});
  assert.equal(plain.get('fake'), undefined, 'test-only kinds are not built in');
});

test('a module that exports no kind definition is refused with its path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'farm-kinds-'));
  try {
    // An ESM .js plugin must sit in a "type": "module" package (the workers load it as CommonJS otherwise).
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
    const bogus = join(dir, 'bogus.js');
    writeFileSync(bogus, 'export const kinds = [{ kind: "x" }];\n');
    await assert.rejects(loadKindRegistry({ [EXTRA_KINDS_ENV]: bogus }), /bogus\.js must export `kinds`/);
    await assert.rejects(loadKindRegistry({ [EXTRA_KINDS_ENV]: join(dir, 'absent.js') }), /cannot load kind module/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a kind defined twice is an error', () => {
  assert.throws(() => new KindRegistry([fakeKind, fakeKind]), /"fake" is defined twice/);
});

test('the registry lists each built-in module with the kinds it defines; loadKind loads one kind', async () => {
  const registry = await loadKindRegistry({});
  assert.deepEqual(registry.names(), BUILTIN_KIND_MODULES.flatMap((entry) => entry.kinds));
  assert.equal((await loadKind('sim', {}))?.kind, 'sim');
  assert.equal((await loadKind('qemu-versal-r5', {}))?.kind, 'qemu-versal-r5');
  assert.equal(await loadKind('no-such-kind', {}), undefined);
  assert.equal((await loadKind('fake', { [EXTRA_KINDS_ENV]: fakeModule }))?.kind, 'fake');
  assert.equal((await loadKind('sim', { [EXTRA_KINDS_ENV]: fakeModule }))?.kind, 'sim');
});

test('loading every kind does not load the SSH, serial or container engine libraries (they load on first use)', () => {
  // A fresh process: this one's module caches hold whatever other tests loaded.
  const registryUrl = new URL('./registry.js', import.meta.url).href;
  const script = `
    import { createRequire } from 'node:module';
    const { loadKindRegistry } = await import(${JSON.stringify(registryUrl)});
    const registry = await loadKindRegistry({});
    const cache = Object.keys(createRequire(import.meta.url).cache);
    const loaded = ['dockerode', 'ssh2', 'serialport'].filter((name) => cache.some((file) => file.includes('/node_modules/' + name + '/')));
    process.stdout.write(JSON.stringify({ kinds: registry.names().length, loaded }));
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, `the child failed: ${result.stderr}`);
  const { kinds, loaded } = JSON.parse(result.stdout) as { kinds: number; loaded: string[] };
  assert.equal(kinds, BUILTIN_KIND_MODULES.flatMap((entry) => entry.kinds).length);
  assert.deepEqual(loaded, []);
});
