import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KindRegistry } from '../targets/registry.js';
import { fakeKind } from './testing/fake-target.js';
import { loadFarmConfig, parseFarmConfig } from './config.js';
import { ConfigFileError } from '../base/errors.js';
import { selectRun, parseShard, UsageError } from './selection.js';

const registry = new KindRegistry([fakeKind]);

function errorOf(text: string): string {
  try {
    parseFarmConfig(text, '/tmp/somewhere/farm.yaml', registry, '/tmp/somewhere');
  } catch (error) {
    assert.ok(error instanceof ConfigFileError, String(error));
    assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
    return error.message.replace(/^.*farm\.yaml:/, 'farm.yaml:');
  }
  assert.fail('config was accepted');
}

test('a valid farm.yaml resolves defaults, suites and firmware paths', () => {
  const config = parseFarmConfig(
    `defaults:
  repeat: 2
  timeout: 30
targets:
  - name: a
    kind: fake
    suites: [lifecycle, echo]
    firmware:
      echo: fw/echo.elf
  - name: b
    kind: fake
    params: { delayMs: 1 }
`,
    '/lab/farm.yaml',
    registry,
  );
  assert.equal(config.source, '/lab/farm.yaml');
  assert.equal(config.defaults.repeat, 2);
  assert.equal(config.defaults.retries, 0);
  assert.equal(config.defaults.timeout, 30);
  assert.deepEqual(config.targets[0]?.suites, ['echo', 'lifecycle'], 'canonical suite order');
  assert.deepEqual(config.targets[0]?.firmware, { echo: '/lab/fw/echo.elf' });
  assert.deepEqual(config.targets[1]?.suites, ['echo', 'matrix-multiply', 'multi-endpoint', 'lifecycle', 'flood']);
  assert.deepEqual(config.targets[1]?.params, { delayMs: 1 });
});

test('an unknown kind names the kind field and the known kinds', () => {
  assert.equal(
    errorOf(`targets:\n  - name: x\n    kind: fake\n  - name: y\n    kind: qemu-rv\n`),
    'farm.yaml:5:5: targets[1].kind: unknown kind "qemu-rv" (known: fake)',
  );
});

test('schema mistakes point at the offending field', () => {
  assert.equal(errorOf(`targets:\n  - kind: fake\n`), 'farm.yaml:2:5: targets[0]: missing required field "name"');
  assert.equal(errorOf(`targets: []\n`), 'farm.yaml:1:1: targets: must have at least 1 item(s)');
  assert.equal(errorOf(`defaults:\n  repeat: 0\ntargets:\n  - {name: a, kind: fake}\n`), 'farm.yaml:2:3: defaults.repeat: must be at least 1, got 0');
  assert.equal(
    errorOf(`targets:\n  - name: a\n    kind: fake\n    colour: red\n`),
    'farm.yaml:4:5: targets[0].colour: unknown field (known: name, kind, params, suites, firmware, place)',
  );
  assert.equal(
    errorOf(`targets:\n  - name: a\n    kind: fake\n    suites: [echo, ping]\n`),
    'farm.yaml:4:20: targets[0].suites[1]: unknown suite "ping" (known: echo, matrix-multiply, multi-endpoint, lifecycle, flood)',
  );
  assert.match(errorOf(`targets:\n  - name: a\n    kind: fake\n    firmware:\n      pong: x.elf\n`), /^farm\.yaml:5:7: targets\[0\]\.firmware\.pong: unknown suite "pong" \(known: echo,/);
  assert.equal(
    errorOf(`targets:\n  - name: a\n    kind: fake\n  - name: a\n    kind: fake\n`),
    'farm.yaml:4:5: targets[1].name: duplicate target name "a" (also targets[0])',
  );
  assert.match(errorOf(`targets:\n  - name: "bad name"\n    kind: fake\n`), /^farm\.yaml:2:5: targets\[0\]\.name: "bad name" is not valid/);
});

test("a kind's parameter errors are located inside params", () => {
  assert.equal(
    errorOf(`targets:\n  - name: a\n    kind: fake\n    params:\n      delayMs: -1\n`),
    'farm.yaml:5:7: targets[0].params.delayMs: must be a number >= 0',
  );
});

test('YAML syntax errors give file:line:col', () => {
  assert.match(errorOf(`targets:\n  - name: a\n   kind: [fake\n`), /^farm\.yaml:\d+:\d+: YAML syntax error: /);
  assert.equal(errorOf(`targets:\n  - name: a\n    kind: fake\n    suites: [echo, , lifecycle]\n`), 'farm.yaml:4:20: YAML syntax error: Unexpected , in flow sequence');
});

test('a flow sequence or mapping left open is reported on its own line, not where the file ends', () => {
  const open = 'YAML syntax error: this flow sequence "[" is not closed with "]" (a flow sequence must end with "]", and lines it continues on must be indented more than its key)';
  // The last line of the file: the library alone said line 5 (the end).
  assert.equal(errorOf(`targets:\n  - name: a\n    kind: fake\n    suites: [echo, lifecycle\n`), `farm.yaml:4:13: ${open}`);
  // More follows, and blank lines: still the line of the "[".
  assert.equal(errorOf(`defaults:\n  suites: [echo,\n\ntargets:\n  - name: a\n    kind: fake\n\n\n`), `farm.yaml:2:11: ${open}`);
  assert.equal(
    errorOf(`targets:\n  - name: a\n    kind: fake\n    params: { delayMs: 1\n  - name: b\n    kind: fake\n`),
    'farm.yaml:4:13: YAML syntax error: this flow mapping "{" is not closed with "}" (a flow mapping must end with "}", and lines it continues on must be indented more than its key)',
  );
});

test('without a file the built-in farm (target sim) is used', () => {
  const dir = mkdtempSync(join(tmpdir(), 'farm-config-'));
  try {
    // The built-in farm needs the sim kind; with a registry that has it, it loads.
    const simLike = new KindRegistry([{ ...fakeKind, kind: 'sim' }]);
    const config = loadFarmConfig(undefined, simLike, dir);
    assert.equal(config.source, null);
    assert.deepEqual(config.targets.map((target) => [target.name, target.kind]), [['sim', 'sim']]);
    writeFileSync(join(dir, 'farm.yaml'), 'targets:\n  - {name: here, kind: sim}\n');
    assert.equal(loadFarmConfig(undefined, simLike, dir).targets[0]?.name, 'here', './farm.yaml wins over the built-in farm');
    assert.throws(() => loadFarmConfig('missing.yaml', simLike, dir), /missing\.yaml:1:1: cannot read config: no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run selection: targets, suites, shard and numbers from the command line', () => {
  const config = parseFarmConfig(
    `defaults: {retries: 1}\ntargets:\n  - {name: a, kind: fake, suites: [echo]}\n  - {name: b, kind: fake}\n`,
    '/lab/farm.yaml',
    registry,
  );
  const { plan, notes } = selectRun(config, { targets: [], suites: ['lifecycle'], repeat: '3' }, '/work');
  assert.deepEqual(plan.targets.map((target) => [target.name, target.suites]), [['b', ['lifecycle']]]);
  assert.match(notes[0] ?? '', /target a \(fake\) does not run lifecycle/);
  assert.equal(plan.repeat, 3);
  assert.equal(plan.retries, 1);
  assert.equal(plan.outDir, '/lab/farm-out');
  assert.equal(selectRun(config, { targets: ['a'], suites: [], out: 'o' }, '/work').plan.outDir, '/work/o');
  assert.deepEqual(parseShard('2/3'), { current: 2, total: 3 });
  for (const bad of ['0/2', '3/2', '1', 'a/b']) assert.throws(() => parseShard(bad), UsageError);
  assert.throws(() => selectRun(config, { targets: ['zz'], suites: [] }), /no target "zz"/);
  assert.throws(() => selectRun(config, { targets: [], suites: ['pong'] }), /unknown suite "pong"/);
  assert.throws(() => selectRun(config, { targets: ['a'], suites: ['lifecycle'] }), /nothing to run/);
  assert.throws(() => selectRun(config, { targets: [], suites: [], workers: '0' }), /--workers/);
});

test('history: in farm.yaml: defaults, a file relative to farm.yaml, and one-line errors for bad values', () => {
  const target = 'targets:\n  - name: a\n    kind: fake\n';
  const plain = parseFarmConfig(target, '/lab/farm.yaml', registry, '/lab');
  assert.deepEqual(plain.history, { file: undefined, baselineRuns: 20, minRuns: 10, mads: 5, minBand: 1, failOnRegression: false });
  const set = parseFarmConfig(`history:\n  file: data/h.sqlite\n  minRuns: 3\n  failOnRegression: true\n${target}`, '/lab/farm.yaml', registry, '/lab');
  assert.equal(set.history.file, '/lab/data/h.sqlite');
  assert.equal(set.history.minRuns, 3);
  assert.equal(set.history.failOnRegression, true);
  assert.equal(parseFarmConfig(`history:\n  file: off\n${target}`, '/lab/farm.yaml', registry, '/lab').history.file, 'off');
  assert.equal(errorOf(`history:\n  failOnRegression: yes please\n${target}`), 'farm.yaml:2:3: history.failOnRegression: must be true or false, got string "yes please"');
  assert.equal(errorOf(`history:\n  minRuns: 30\n${target}`), 'farm.yaml:2:3: history.minRuns: must not exceed history.baselineRuns (20), got 30');
  assert.match(errorOf(`history:\n  window: 3\n${target}`), /^farm\.yaml:2:3: history\.window: unknown field \(known: file, baselineRuns, minRuns, mads, minBand, failOnRegression\)$/);
});

test('suites: entries add user suites: a spec file or a folder of them, with their firmware', () => {
  const dir = mkdtempSync(join(tmpdir(), 'farm-user-suites-'));
  try {
    mkdirSync(join(dir, 'lab', 'nested'), { recursive: true });
    writeFileSync(join(dir, 'one.spec.ts'), '');
    writeFileSync(join(dir, 'lab', 'b.spec.mjs'), '');
    writeFileSync(join(dir, 'lab', 'nested', 'a.spec.ts'), '');
    writeFileSync(join(dir, 'lab', 'helper.ts'), '');
    // A run's out dir inside the suite folder: its entry files are not specs of the suite.
    mkdirSync(join(dir, 'lab', 'farm-out', 'run-suites', 'lab'), { recursive: true });
    writeFileSync(join(dir, 'lab', 'farm-out', 'run-suites', 'lab', 'b.spec.js'), '');
    writeFileSync(join(dir, 'fw.elf'), '');
    const config = parseFarmConfig(
      `suites:
  - name: ping
    path: one.spec.ts
    firmware: echo
  - name: lab
    path: lab
targets:
  - name: a
    kind: fake
    firmware: { lab: fw.elf }
  - name: b
    kind: fake
    suites: [ping, echo]
`,
      join(dir, 'farm.yaml'),
      registry,
    );
    assert.deepEqual(config.suites.map((suite) => [suite.name, suite.builtin]), [
      ['echo', true], ['matrix-multiply', true], ['multi-endpoint', true], ['lifecycle', true], ['flood', true], ['ping', false], ['lab', false],
    ]);
    assert.deepEqual(config.suites[5]?.files, [join(dir, 'one.spec.ts')]);
    assert.equal(config.suites[5]?.firmware, 'echo');
    assert.deepEqual(config.suites[6]?.files, [join(dir, 'lab', 'b.spec.mjs'), join(dir, 'lab', 'nested', 'a.spec.ts')], 'every spec file under the folder, nothing else');
    // a: every built-in, ping (echo's firmware) and lab (its own image); b: only what it names,
    // built-ins first.
    assert.deepEqual(config.targets[0]?.suites, ['echo', 'matrix-multiply', 'multi-endpoint', 'lifecycle', 'flood', 'ping', 'lab']);
    assert.deepEqual(config.targets[0]?.firmware, { lab: join(dir, 'fw.elf') });
    assert.deepEqual(config.targets[1]?.suites, ['echo', 'ping']);
    // By default a target without firmware for a user suite does not run it.
    const without = parseFarmConfig(`suites:\n  - name: lab\n    path: lab\ntargets:\n  - name: a\n    kind: fake\n`, join(dir, 'farm.yaml'), registry);
    assert.deepEqual(without.targets[0]?.suites, ['echo', 'matrix-multiply', 'multi-endpoint', 'lifecycle', 'flood']);
    // defaults.suites may name them.
    const onlyMine = parseFarmConfig(`defaults: { suites: [ping] }\nsuites:\n  - { name: ping, path: one.spec.ts, firmware: echo }\ntargets:\n  - name: a\n    kind: fake\n`, join(dir, 'farm.yaml'), registry);
    assert.deepEqual(onlyMine.targets[0]?.suites, ['ping']);

    const mistake = (text: string) => {
      try {
        parseFarmConfig(text, join(dir, 'farm.yaml'), registry);
      } catch (error) {
        assert.ok(error instanceof ConfigFileError, String(error));
        return error.message.split(dir).join('<dir>');
      }
      assert.fail('accepted');
    };
    const target = 'targets:\n  - name: a\n    kind: fake\n';
    assert.match(mistake(`suites:\n  - name: echo\n    path: one.spec.ts\n${target}`), /farm\.yaml:2:5: suites\[0\]\.name: "echo" is a built-in suite; give yours a name of its own$/);
    assert.match(mistake(`suites:\n  - name: x\n    path: nowhere\n${target}`), /farm\.yaml:3:5: suites\[0\]\.path: <dir>\/nowhere does not exist/);
    assert.match(mistake(`suites:\n  - name: x\n    path: fw.elf\n${target}`), /farm\.yaml:3:5: suites\[0\]\.path: <dir>\/fw\.elf is not a spec file/);
    assert.match(mistake(`suites:\n  - name: x\n    path: one.spec.ts\n    firmware: blink\n${target}`), /farm\.yaml:4:5: suites\[0\]\.firmware: unknown value "blink" \(known: echo, matrix-multiply, multi-endpoint, lifecycle, flood\)$/);
    assert.match(mistake(`suites:\n  - { name: x, path: one.spec.ts }\n  - { name: x, path: lab }\n${target}`), /suites\[1\]\.name: duplicate suite name "x" \(also suites\[0\]\)$/);
    assert.match(
      mistake(`suites:\n  - { name: x, path: one.spec.ts }\ntargets:\n  - name: a\n    kind: fake\n    suites: [x]\n`),
      /farm\.yaml:6:14: targets\[0\]\.suites\[0\]: no firmware for suite "x" on this target: set targets\.a\.firmware\.x, or firmware: <built-in suite> in the suite's entry$/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('place: gives a target the SoC and instruments a farm of many hosts matches jobs against', () => {
  const config = parseFarmConfig('targets:\n  - name: mp1\n    kind: fake\n    place: { soc: stm32mp157, instruments: [power-meter] }\n', 'farm.yaml', registry);
  assert.deepEqual(config.targets[0]?.place, { soc: 'stm32mp157', instruments: ['power-meter'] });
  assert.throws(() => parseFarmConfig('targets:\n  - name: mp1\n    kind: fake\n    place: { soc: 3 }\n', 'farm.yaml', registry), /targets\[0\]\.place\.soc/);
});
