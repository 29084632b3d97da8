/**
 * The layering rules of .dependency-cruiser.cjs fire: dependency-cruiser, with the repository's
 * own config, run over a small tree that breaks each rule once (and holds a few imports the
 * rules allow) reports exactly those violations. `npm test` runs the same config over the real
 * tree first (`lint:deps`); this test proves that a pass there means something.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');

/** file -> the relative imports it holds. */
const TREE: Record<string, readonly string[]> = {
  // Allowed: a layer importing below itself; a suite importing the fixtures; a test importing upward.
  'base/errors.ts': [],
  'openamp/stack.ts': ['../base/errors.js'],
  'farm/fixtures.ts': ['../targets/registry.js', '../reports/report.js'],
  'reports/report.ts': ['../targets/target.js'],
  'suites/echo.spec.ts': ['../farm/fixtures.js', '../targets/target.js'],
  'firmware/build.test.ts': ['../farm/fixtures.js'],
  'targets/target.ts': [],
  'targets/registry.ts': ['./sim/index.js', './qemu/index.js'],
  'targets/drivers/console.ts': ['../../base/errors.js'],
  'targets/sim/index.ts': ['../drivers/console.js', '../target.js'],
  // Violations, one per rule:
  'base/low.ts': ['../farm/fixtures.js'], // not-in-allowed (base imports a layer above)
  'reports/summary.ts': ['../targets/qemu/index.js'], // not-in-allowed (reports may see only targets/target.ts)
  'targets/qemu/index.ts': ['../sim/index.js'], // kind-imports-other-kind
  'targets/qemu/params.ts': ['../registry.js'], // only-farm-imports-registry
  'targets/protocols.ts': ['./sim/index.js'], // part-imports-kind
  'openamp/ping.ts': ['./pong.js'], // no-circular
  'openamp/pong.ts': ['./ping.js'], // no-circular
  'qemu/machine.ts': ['./machine.test-helper.js'], // no-test-code-in-production
  'qemu/machine.test-helper.ts': [],
  'examples/user-suite/ping.spec.ts': ['../../farm/fixtures.js'], // not-in-allowed (a user suite reaches in past the public API)
};

const EXPECTED = [
  'kind-imports-other-kind: targets/qemu/index.ts -> targets/sim/index.ts',
  'no-circular: openamp/ping.ts -> openamp/pong.ts',
  'no-test-code-in-production: qemu/machine.ts -> qemu/machine.test-helper.ts',
  'not-in-allowed: base/low.ts -> farm/fixtures.ts',
  'not-in-allowed: examples/user-suite/ping.spec.ts -> farm/fixtures.ts',
  'not-in-allowed: reports/summary.ts -> targets/qemu/index.ts',
  'only-farm-imports-registry: targets/qemu/params.ts -> targets/registry.ts',
  'part-imports-kind: targets/protocols.ts -> targets/sim/index.ts',
];

interface CruiseResult {
  summary: { violations: { from: string; to: string; rule: { name: string } }[] };
}

/** Top-level folders that hold no shipped TypeScript and stay outside the layers, with why. */
const OUTSIDE_LAYERS: Readonly<Record<string, string>> = {
  node_modules: 'dependencies',
  dist: 'build output',
  'farm-out': 'reports of a run',
  'test-results': 'Playwright output',
  'playwright-report': 'Playwright output',
};

function holdsTypeScript(dir: string): boolean {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory() ? entry.name !== 'build' && holdsTypeScript(join(dir, entry.name)) : /\.[cm]?ts$/.test(entry.name)) return true;
  }
  return false;
}

test('every top-level folder holding TypeScript is a layer of the rules (a new folder cannot escape them)', () => {
  const config = createRequire(import.meta.url)(CONFIG) as { options: { includeOnly: string } };
  const layers = new RegExp(config.options.includeOnly);
  const unchecked = readdirSync(ROOT, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && !(entry.name in OUTSIDE_LAYERS))
    .filter((entry) => !layers.test(`${entry.name}/`) && holdsTypeScript(join(ROOT, entry.name)))
    .map((entry) => entry.name);
  assert.deepEqual(unchecked, [], `TypeScript outside the layering of .dependency-cruiser.cjs (add the folder to LAYERS and to README "Architecture"): ${unchecked.join(', ')}`);
  assert.ok(layers.test('targets/'), 'the includeOnly pattern is the layer list');
});

test('npm test runs the dependency rules first', () => {
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  assert.match(scripts['lint:deps'] ?? '', /depcruise|dependency-cruise/);
  assert.match(scripts.test ?? '', /^npm run lint:deps && /);
});

test('the layering rules report each kind of violation, and nothing the layers allow', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'farm-layering-'));
  try {
    for (const [file, imports] of Object.entries(TREE)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      const body = imports.map((spec, i) => `import * as m${i} from '${spec}';\nexport const use${i} = m${i};`).join('\n');
      writeFileSync(join(dir, file), `${body}\nexport const here = '${file}';\n`);
    }
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true }, include: ['**/*.ts'] }),
    );
    const folders = [...new Set(Object.keys(TREE).map((file) => file.split('/')[0]!))];
    // Exit code 1 when violations are found, as in CI; the JSON report is on stdout either way.
    const run = await promisify(execFile)(process.execPath, [DEPCRUISE, '--config', CONFIG, '--output-type', 'json', ...folders], { cwd: dir, maxBuffer: 16 << 20 }).catch(
      (error: { stdout?: string; stderr?: string; code?: number }) => {
        assert.equal(error.code, 1, `depcruise failed: ${error.stderr ?? ''}`);
        return { stdout: error.stdout ?? '' };
      },
    );
    const result = JSON.parse(run.stdout) as CruiseResult;
    const found = [...new Set(result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`))].sort();
    assert.deepEqual(found, EXPECTED);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
