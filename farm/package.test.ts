/**
 * The package as users install it: `npm pack` of this checkout, the tarball installed into an
 * empty project (dependencies from npm's cache, or the registry when the cache lacks them),
 * then a user suite there, written in TypeScript against `import ... from 'openamp-farm'`:
 * its types check against the installed declarations, and `npx farm run` runs it on the sim.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { junitAllCases } from './testing/cli-harness.js';

const CHECKOUT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'farm-package-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(command: string, args: readonly string[], cwd: string, timeoutMs: number, env: Record<string, string> = {}) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, FORCE_COLOR: '0', CI: '1', npm_config_update_notifier: 'false', ...env } });
  const output = `$ ${command} ${args.join(' ')}\n${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`;
  return { status: result.status, stdout: result.stdout ?? '', output };
}

/** A folder holding better-sqlite3's prebuild for this Node, packed from the checkout's build; the variable that points prebuild-install at it. */
function localSqlitePrebuild(): Record<string, string> {
  const packageDir = join(CHECKOUT, 'node_modules', 'better-sqlite3');
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const prebuilds = join(dir, 'prebuilds');
  mkdirSync(prebuilds, { recursive: true });
  const file = join(prebuilds, `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`);
  const tar = run('tar', ['-czf', file, '-C', packageDir, 'build/Release/better_sqlite3.node'], CHECKOUT, 60_000);
  assert.equal(tar.status, 0, tar.output);
  return { npm_config_better_sqlite3_local_prebuilds: prebuilds };
}

test('npm pack -> npm install into an empty project -> a user suite type-checks and passes with npx farm run', { timeout: 1_200_000 }, () => {
  const pack = run('npm', ['pack', '--pack-destination', dir], CHECKOUT, 60_000);
  assert.equal(pack.status, 0, pack.output);
  const tarball = readdirSync(dir).find((name) => /^openamp-farm-.*\.tgz$/.test(name));
  assert.ok(tarball, pack.output);

  const project = join(dir, 'lab');
  mkdirSync(join(project, 'suites'), { recursive: true });
  writeFileSync(join(project, 'package.json'), '{ "name": "lab", "version": "1.0.0", "type": "module", "private": true }\n');
  // better-sqlite3 (run history) installs a prebuilt binary from GitHub, out of reach here, or
  // else compiles SQLite from source (5-6 minutes of a core on a loaded machine). An offline lab
  // gives it a local prebuild; so does this test, made from the checkout's own build for this
  // Node (prebuild-install's <package>_local_prebuilds, the file name its download would have).
  const install = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball)], project, 900_000, localSqlitePrebuild());
  assert.equal(install.status, 0, install.output);
  const installed = join(project, 'node_modules', 'openamp-farm');
  // The bin is executable, the public entry has its declarations, no test file came along.
  assert.ok(statSync(join(installed, 'dist', 'farm', 'cli.js')).mode & 0o100, 'dist/farm/cli.js is executable');
  assert.ok(statSync(join(installed, 'dist', 'farm', 'api.d.ts')).isFile());
  const listed = (JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }).exports;
  assert.deepEqual(Object.keys(listed), ['.', './package.json']);
  assert.throws(() => statSync(join(installed, 'dist', 'farm', 'cli.test.js')), 'tests are not packed');
  // Leaving files out must not break what stays: every relative import of a packed module is packed.
  const broken: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.js')) {
        for (const match of readFileSync(path, 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
          if (!existsSync(join(folder, match[1] as string))) broken.push(`${path.slice(installed.length + 1)} -> ${match[1]}`);
        }
      }
    }
  };
  walk(join(installed, 'dist'));
  assert.deepEqual(broken, []);

  writeFileSync(
    join(project, 'suites', 'hello.spec.ts'),
    `import { expect, test, ProtocolError, type HostEndpoint } from 'openamp-farm';

async function ask(endpoint: HostEndpoint, text: string): Promise<string> {
  await endpoint.send(new TextEncoder().encode(text));
  return new TextDecoder().decode((await endpoint.receive({ timeoutMs: 5000 })).data);
}

test('the installed farm runs my suite @smoke', async ({ host, suite, target }) => {
  expect(suite).toBe('hello');
  expect(target.kind).toBe('sim');
  const channel = await host.waitForChannel('rpmsg-openamp-demo-channel', { timeoutMs: 10_000 });
  const endpoint = await host.openEndpoint({ name: channel.name });
  expect(await ask(endpoint, 'hello from an installed farm')).toBe('hello from an installed farm');
  expect(new ProtocolError('x').failureClass).toBe('protocol');
  await endpoint.close();
});

test('left out by --grep', async () => {
  throw new Error('must not run');
});
`,
  );
  writeFileSync(join(project, 'farm.yaml'), 'suites:\n  - name: hello\n    path: suites\n    firmware: echo\ntargets:\n  - name: sim\n    kind: sim\n');
  writeFileSync(
    join(project, 'tsconfig.json'),
    '{ "compilerOptions": { "module": "NodeNext", "moduleResolution": "NodeNext", "target": "ES2022", "strict": true, "noEmit": true, "skipLibCheck": true, "types": [] }, "include": ["suites"] }\n',
  );
  // The checkout's TypeScript, against the declarations that came with the tarball.
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const typecheck = run(process.execPath, [tsc, '-p', 'tsconfig.json'], project, 60_000);
  assert.equal(typecheck.status, 0, typecheck.output);

  const farm = run('npx', ['--no-install', 'farm', 'run', '--suite', 'hello', '--grep', '@smoke', '--out', 'out'], project, 120_000);
  assert.equal(farm.status, 0, farm.output);
  assert.match(farm.stdout, /^sim\s+hello\s+1\s+0\s+0\s+0/m, farm.output);
  assert.deepEqual(junitAllCases(readFileSync(join(project, 'out', 'junit.xml'), 'utf8')), ['sim|sim.hello|the installed farm runs my suite @smoke|passed']);
  // The run history (better-sqlite3, from the local prebuild) works in the installed farm.
  assert.doesNotMatch(farm.output, /history not recorded/);
  const flaky = run('npx', ['--no-install', 'farm', 'history', 'flaky'], project, 60_000);
  assert.equal(flaky.status, 0, flaky.output);
});
