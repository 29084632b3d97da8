import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXTRA_KINDS_ENV, loadKindRegistry } from '../targets/registry.js';
import { spawnSync } from 'node:child_process';
import { CLI } from './testing/cli-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'farm-plugin-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const simIndex = fileURLToPath(new URL('../targets/sim/index.js', import.meta.url));
const pluginSource = (kind: string) => `import { simKind } from ${JSON.stringify(simIndex)};\nexport const kinds = [{ ...simKind, kind: ${JSON.stringify(kind)} }];\n`;

test('a plain .js plugin with import/export outside a "type": "module" package is refused up front, with the fix', async () => {
  const file = join(dir, 'my-board.js');
  writeFileSync(file, pluginSource('my-board'));
  await assert.rejects(
    loadKindRegistry({ [EXTRA_KINDS_ENV]: file }),
    (error: unknown) => error instanceof Error && /my-board\.js: Cannot use import statement outside a module \(.*rename it to \.mjs, or add a package\.json with "type": "module"/.test(error.message),
  );
  const config = join(dir, 'lab.yaml');
  writeFileSync(config, 'targets:\n  - name: b\n    kind: my-board\n');
  // `farm targets` fails as the workers would, in one line, instead of saying the target runs.
  const result = spawnSync(process.execPath, [CLI, 'targets', '--config', config], { cwd: dir, env: { ...process.env, [EXTRA_KINDS_ENV]: file }, encoding: 'utf8' });
  assert.equal(result.status, 2);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^farm: [^\n]*my-board\.js: Cannot use import statement outside a module [^\n]*\.mjs[^\n]*\n$/);
});

test('the same plugin as .mjs, or as .js in a "type": "module" package, loads', async () => {
  const mjs = join(dir, 'board-a.mjs');
  writeFileSync(mjs, pluginSource('board-a'));
  assert.ok((await loadKindRegistry({ [EXTRA_KINDS_ENV]: mjs })).get('board-a'));
  const pkg = join(dir, 'pkg');
  mkdirSync(pkg);
  writeFileSync(join(pkg, 'package.json'), '{ "type": "module" }');
  writeFileSync(join(pkg, 'board-b.js'), pluginSource('board-b'));
  assert.ok((await loadKindRegistry({ [EXTRA_KINDS_ENV]: join(pkg, 'board-b.js') })).get('board-b'));
});
