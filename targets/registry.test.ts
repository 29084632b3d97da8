import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXTRA_KINDS_ENV, KindRegistry, loadKindRegistry } from './registry.js';
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
