/**
 * Acceptance tests: the real CLI, Playwright runner, fixtures, suites and reporters, driven
 * against the test-only fake kind (loaded through FARM_EXTRA_KINDS).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, FAKE_KIND_MODULE, descendants, isAlive, junitAllCases, junitCases, runCli, startCli, waitFor, workspace } from './testing/cli-harness.js';
import { EXTRA_KINDS_ENV } from '../targets/registry.js';
import { readJunit } from '../reports/junit-reader.js';
import { NOT_RUN_MESSAGE } from '../reports/junit-reporter.js';

const space = workspace();
after(() => space.remove());

const FAKE_FARM = `defaults:
  out: farm-out
targets:
  - name: bench
    kind: fake
`;

test('farm run --suite echo --repeat 3 runs echo three times, passes, and reports', async () => {
  const config = space.write('repeat.yaml', FAKE_FARM);
  const result = await runCli(['run', '--config', config, '--suite', 'echo', '--repeat', '3', '--out', 'out-repeat'], space.dir);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const cases = junitCases(readFileSync(join(space.dir, 'out-repeat', 'junit.xml'), 'utf8'));
  assert.equal(cases.length, 3);
  for (const index of [1, 2, 3]) {
    assert.ok(cases.some((entry) => entry.startsWith('bench|bench.echo|') && entry.includes(`[repeat ${index}]`) && entry.endsWith('|passed')), cases.join('\n'));
  }
  assert.match(result.stdout, /target\s+suite\s+passed\s+failed\s+error\s+skipped\s+duration/);
  assert.match(result.stdout, /bench\s+echo\s+3\s+0\s+0\s+0/);
  assert.match(result.stdout, /JUnit\s+out-repeat\/junit\.xml/);
  const metrics = JSON.parse(readFileSync(join(space.dir, 'out-repeat', 'metrics.json'), 'utf8')) as {
    echo: { count: number; p50Us: number; p99Us: number }[];
  };
  assert.equal(metrics.echo.length, 3);
  for (const entry of metrics.echo) {
    assert.equal(entry.count, 480);
    assert.ok(entry.p50Us > 0 && entry.p99Us >= entry.p50Us);
  }
  assert.ok(existsSync(join(space.dir, 'out-repeat', 'html', 'index.html')));
  // The worker fixture brought the target up through its strategy, each step in the target log.
  const junit = readFileSync(join(space.dir, 'out-repeat', 'junit.xml'), 'utf8');
  assert.match(junit, /setting up bench \(fake\): off (->|-&gt;) powered/);
  assert.match(junit, /bench: off (->|-&gt;) powered: switch the fake power relay on/);
});

test('a broken farm.yaml gives one line naming file, line, column and field', async () => {
  space.write(
    'farm.yaml',
    `defaults:
  repeat: 1
targets:
  - name: ok
    kind: fake
  - name: board
    kind: qemu-rv
`,
  );
  const result = await runCli(['run'], space.dir);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, '');
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0] ?? '', /^farm\.yaml:7:5: targets\[1\]\.kind: unknown kind "qemu-rv" \(known: .*\bfake\b.*\)$/);
});

test('failures are classified: wrong bytes = assertion <failure>, failed setup = infrastructure <error>', async () => {
  const config = space.write(
    'classes.yaml',
    `targets:
  - name: liar
    kind: fake
    params: { corrupt: [matrix-multiply] }
  - name: dead
    kind: fake
    params: { setupFails: true }
`,
  );
  const result = await runCli(['run', '--config', config, '--suite', 'matrix-multiply', '--out', 'out-classes'], space.dir);
  assert.equal(result.code, 1);
  const junit = readJunit(readFileSync(join(space.dir, 'out-classes', 'junit.xml'), 'utf8'));
  const [liar, dead] = ['liar', 'dead'].map((name) => junit.suites.find((suite) => suite.attributes.name === name));
  assert.ok(liar && dead, 'a testsuite per target');
  assert.ok(liar.cases.length > 0 && dead.cases.length > 0);
  for (const testCase of liar.cases) {
    assert.equal(testCase.failure?.attributes.type, 'assertion');
    assert.match(testCase.failure?.attributes.message ?? '', /^AssertionFailure\[assertion\]: iteration 0/);
  }
  for (const testCase of dead.cases) {
    assert.equal(testCase.error?.attributes.type, 'infrastructure');
    assert.match(testCase.error?.attributes.message ?? '', /^InfrastructureError\[infrastructure\]/);
  }
  assert.equal(liar.properties.get('target.kind'), 'fake');
  assert.match(liar.properties.get('firmware.matrix-multiply.sha256') ?? '', /^[0-9a-f]{64}$/);
  assert.match(result.stdout, /liar\s+matrix-multiply\s+0\s+1\s+0/);
  assert.match(result.stdout, /dead\s+matrix-multiply\s+0\s+0\s+1/);
});

test('farm run --shard 1/2 and 2/2 together run every test exactly once', async () => {
  const config = space.write('shard.yaml', FAKE_FARM);
  const full = await runCli(['run', '--config', config, '--out', 'out-full'], space.dir);
  assert.equal(full.code, 0, full.stdout + full.stderr);
  const all = junitCases(readFileSync(join(space.dir, 'out-full', 'junit.xml'), 'utf8'));
  const shards: string[][] = [];
  for (const shard of ['1/2', '2/2']) {
    const out = `out-shard-${shard[0]}`;
    const result = await runCli(['run', '--config', config, '--shard', shard, '--out', out], space.dir);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    shards.push(junitCases(readFileSync(join(space.dir, out, 'junit.xml'), 'utf8')));
  }
  const [first = [], second = []] = shards;
  assert.ok(first.length > 0 && second.length > 0, 'each shard runs something');
  assert.equal(first.filter((entry) => second.includes(entry)).length, 0, 'no test in both shards');
  assert.deepEqual([...first, ...second].sort(), [...all].sort());
});

/**
 * A `farm run` on a slow fake target (lifecycle and matrix-multiply: 5 tests per repeat) into
 * out-<tag>: its arguments and where it writes; with `helpers`, the target records the pids of
 * the helper processes it starts.
 */
function slowRun(tag: string, options: { helpers: boolean; args?: readonly string[] }) {
  const pidFile = join(space.dir, `helper-${tag}.pids`);
  const params = options.helpers ? `{ delayMs: 15, helperPidFile: ${JSON.stringify(pidFile)} }` : '{ delayMs: 15 }';
  const config = space.write(`slow-${tag}.yaml`, `targets:\n  - name: slow\n    kind: fake\n    params: ${params}\n`);
  const out = `out-${tag}`;
  const args = ['run', '--config', config, '--suite', 'lifecycle', '--suite', 'matrix-multiply', ...(options.args ?? []), '--out', out];
  return { args, pidFile, junit: join(space.dir, out, 'junit.xml'), metrics: join(space.dir, out, 'metrics.json') };
}

/** Starts slowRun(tag, options) with the test harness (stdout and stderr piped). */
function startSlowRun(tag: string, options: { helpers: boolean; args?: readonly string[] }) {
  const { args, ...files } = slowRun(tag, options);
  return { run: startCli(args, space.dir), ...files };
}

test('Ctrl-C mid-run leaves a partial JUnit file and no process behind', async () => {
  const { run, pidFile, junit, metrics: metricsFile } = startSlowRun('int', { helpers: true });
  const pid = run.child.pid as number;
  await waitFor(() => existsSync(junit) && junitCases(readFileSync(junit, 'utf8')).length >= 1, 60_000, 'a first finished test');
  const tree = descendants(pid);
  assert.ok(tree.length >= 2, 'runner and worker are running');
  run.child.kill('SIGINT');
  const result = await run.result;
  assert.equal(result.code, 130, result.stdout + result.stderr);
  const xml = readFileSync(junit, 'utf8');
  const cases = junitAllCases(xml);
  // Every planned test is listed: those that finished passed, the one cut off is an interrupted
  // error, the rest are skipped as not run, and the "(run) did not finish" testcase errors; the
  // file says the run was interrupted.
  assert.equal(cases.length, 6, cases.join('\n'));
  assert.deepEqual(cases.filter((entry) => entry.endsWith('|incomplete')), ['slow|slow.(run)|(run) did not finish|incomplete']);
  const finished = cases.filter((entry) => entry.endsWith('|passed'));
  assert.ok(finished.length >= 1 && finished.length < 5, `partial report: ${cases.join(', ')}`);
  assert.ok(cases.every((entry) => /\|(passed|interrupted|not-run|incomplete)$/.test(entry)), cases.join('\n'));
  const junitFile = readJunit(xml);
  assert.deepEqual(junitFile.suites.map((suite) => suite.properties.get('run.status')), ['interrupted']);
  assert.ok(Number(junitFile.attributes.errors) + Number(junitFile.attributes.skipped) > 0, 'an interrupted run does not look like a pass');
  for (const testCase of junitFile.suites.flatMap((suite) => suite.cases)) {
    if (testCase.error) assert.match(testCase.error.attributes.type ?? '', /^(interrupted|incomplete)$/);
    if (testCase.skipped) assert.equal(testCase.properties.get('skip.reason'), NOT_RUN_MESSAGE);
  }
  const metrics = JSON.parse(readFileSync(metricsFile, 'utf8')) as { status: string; notRun: unknown[]; interrupted: unknown[] };
  assert.equal(metrics.status, 'interrupted');
  assert.equal(metrics.notRun.length + metrics.interrupted.length, 5 - finished.length);
  const helpers = readFileSync(pidFile, 'utf8').trim().split('\n').map(Number);
  await waitFor(() => [...tree, ...helpers].every((child) => !isAlive(child)), 5000, 'all processes of the run to end');
});

test('a closed terminal stops the run in order, as Ctrl-C does: reports that say interrupted, no process behind', async () => {
  // A real terminal: the run is in script(1)'s pty; killing script closes the pty's master, so
  // the kernel sends SIGHUP to the run and its writes to the terminal fail with EIO.
  const { args, pidFile, junit, metrics } = slowRun('hup', { helpers: true });
  const command = [process.execPath, CLI, ...args].map((word) => `'${word}'`).join(' ');
  const terminal = spawn('script', ['-q', '-c', command, '/dev/null'], { cwd: space.dir, env: { ...process.env, [EXTRA_KINDS_ENV]: FAKE_KIND_MODULE, SHELL: '/bin/sh' }, stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    await waitFor(() => existsSync(junit) && junitCases(readFileSync(junit, 'utf8')).length >= 1, 60_000, 'a first finished test');
    const tree = descendants(terminal.pid as number);
    assert.ok(tree.length >= 3, 'farm, its runner and a worker are running in the terminal');
    terminal.kill('SIGKILL');
    const helpers = readFileSync(pidFile, 'utf8').trim().split('\n').map(Number);
    await waitFor(() => [...tree, ...helpers].every((child) => !isAlive(child)), 60_000, 'all processes of the run to end');
    // Written by an orderly stop: a farm killed at once by the hang-up (as before) left "running".
    assert.deepEqual(readJunit(readFileSync(junit, 'utf8')).suites.map((suite) => suite.properties.get('run.status')), ['interrupted']);
    assert.equal((JSON.parse(readFileSync(metrics, 'utf8')) as { status: string }).status, 'interrupted');
  } finally {
    terminal.kill('SIGKILL');
  }
});

test('a SIGKILLed farm run takes its runner and workers (and so their targets) down with it', async () => {
  const { run, pidFile, junit } = startSlowRun('k9', { helpers: true, args: ['--repeat', '200'] });
  const pid = run.child.pid as number;
  await waitFor(() => existsSync(junit) && junitCases(readFileSync(junit, 'utf8')).length >= 1, 60_000, 'a first finished test');
  const tree = descendants(pid);
  assert.ok(tree.length >= 2, 'runner and worker are running');
  // No handler, no finally: the runner (in its own session, out of reach of the terminal's
  // signals) must learn of it from the kernel.
  run.child.kill('SIGKILL');
  // Not run.result: it waits for the output pipe, which a surviving runner holds open.
  await waitFor(() => !isAlive(pid), 5000, 'the farm to die');
  const helpers = readFileSync(pidFile, 'utf8').trim().split('\n').map(Number);
  try {
    await waitFor(() => [...tree, ...helpers].every((child) => !isAlive(child)), 10_000, 'the runner, its worker and the target\'s helper to end');
    // Nobody finalized the reports: a consumer that reads only the counts must still see no pass.
    const file = readJunit(readFileSync(junit, 'utf8'));
    assert.deepEqual(file.suites.map((suite) => suite.properties.get('run.status')), ['running']);
    assert.ok(Number(file.attributes.errors) >= 1, `errors="${file.attributes.errors}" after a SIGKILL`);
    for (const suite of file.suites) assert.ok(Number(suite.attributes.errors) >= 1, `testsuite ${suite.attributes.name}: errors="${suite.attributes.errors}"`);
    assert.ok(junitAllCases(readFileSync(junit, 'utf8')).includes('slow|slow.(run)|(run) did not finish|incomplete'));
  } finally {
    for (const child of [...tree, ...helpers]) {
      try {
        process.kill(child, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await run.result;
  }
});

test('a double Ctrl-C still leaves a JUnit file listing every test and both reports saying interrupted', async () => {
  const { run, junit, metrics: metricsFile } = startSlowRun('int2', { helpers: false });
  // The file exists from the runner's onBegin on, listing every test before any has run.
  await waitFor(() => existsSync(junit) && junitAllCases(readFileSync(junit, 'utf8')).length === 6, 60_000, 'the planned tests');
  run.child.kill('SIGINT');
  await new Promise((resolve) => setTimeout(resolve, 50));
  run.child.kill('SIGINT');
  const result = await run.result;
  assert.equal(result.code, 130, result.stdout + result.stderr);
  const xml = readFileSync(junit, 'utf8');
  assert.equal(junitAllCases(xml).length, 6, xml);
  const junitFile = readJunit(xml);
  assert.deepEqual(junitFile.suites.map((suite) => suite.properties.get('run.status')), ['interrupted']);
  assert.doesNotMatch(xml, /value="running"/);
  assert.ok(Number(junitFile.attributes.errors) + Number(junitFile.attributes.skipped) > 0, 'an interrupted run does not look like a pass');
  const metrics = JSON.parse(readFileSync(metricsFile, 'utf8')) as { status: string };
  assert.equal(metrics.status, 'interrupted');
});

test('farm targets and farm doctor say which targets can run here and why not', async () => {
  const config = space.write(
    'inventory.yaml',
    `targets:
  - name: good
    kind: fake
    suites: [echo]
  - name: unplugged
    kind: fake
    params: { setupFails: true }
  - name: misflashed
    kind: fake
    suites: [echo]
    firmware: { echo: inventory.yaml }
`,
  );
  const targets = await runCli(['targets', '--config', config], space.dir);
  assert.equal(targets.code, 0, targets.stderr);
  assert.match(targets.stdout, /^good\s+fake\s+echo\s+yes$/m);
  assert.match(targets.stdout, /^unplugged\s+fake\s+echo,matrix-multiply,multi-endpoint,lifecycle,flood\s+no$/m);
  assert.match(targets.stdout, /why not: fake power relay: relay off/);

  const doctor = await runCli(['doctor', '--config', config], space.dir);
  assert.equal(doctor.code, 1);
  assert.match(doctor.stdout, /ok\s+node >= 20\.5/);
  assert.match(doctor.stdout, /MISSING fake power relay/);
  // A firmware file that is there but no image is invalid, and doctor says what is wrong with it.
  assert.match(doctor.stdout, /INVALID firmware for echo: \S*inventory\.yaml\b.*ELF/);
  assert.doesNotMatch(doctor.stdout, /MISSING firmware/);
  assert.match(doctor.stdout, /fix: replace it with an ELF image, or point targets\.misflashed\.firmware\.echo in inventory\.yaml at one/);
  assert.match(doctor.stdout, /1 prerequisite\(s\) missing, 1 invalid/);
});

test('farm up boots a target, streams its console and tears down on Ctrl-C', async () => {
  const pidFile = join(space.dir, 'up.pids');
  const config = space.write(
    'up.yaml',
    `targets:
  - name: desk
    kind: fake
    params: { helperPidFile: ${JSON.stringify(pidFile)} }
`,
  );
  const up = startCli(['up', 'desk', '--config', config, '--suite', 'multi-endpoint'], space.dir);
  await waitFor(() => /Ctrl-C to stop/.test(up.output()), 20_000, 'the target to be up');
  await waitFor(() => /NS create "rpmsg-raw"/.test(up.output()), 5000, 'the announcements');
  up.child.kill('SIGINT');
  const result = await up.result;
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /\[desk remote-uart\] fake remote: booted multi-endpoint/);
  assert.match(result.stdout, /\[desk\] down/);
  const helper = Number(readFileSync(pidFile, 'utf8').trim());
  await waitFor(() => !isAlive(helper), 5000, 'the helper process to end');
});

test('tests the target cannot run (capabilities) are reported as skipped, never as passed', async () => {
  const config = space.write(
    'nofaults.yaml',
    `targets:
  - name: plain
    kind: fake
    params: { faults: [] }
`,
  );
  const result = await runCli(['run', '--config', config, '--suite', 'lifecycle', '--out', 'out-skip'], space.dir);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const xml = readFileSync(join(space.dir, 'out-skip', 'junit.xml'), 'utf8');
  const cases = junitCases(xml);
  assert.deepEqual(cases.filter((entry) => entry.endsWith('|skipped')).map((entry) => entry.split('|')[2]), [
    'a crashed remote is detected and reported with its trace',
    'a hung remote is detected as a stall',
  ]);
  // The reason is in the file too (junit-report-builder's <skipped/> has no message).
  const crashed = readJunit(xml).suites[0]?.cases.find((testCase) => testCase.attributes.name === 'a crashed remote is detected and reported with its trace');
  assert.equal(crashed?.properties.get('skip.reason'), 'target cannot inject a crash (capabilities.faults)');
  assert.match(crashed?.systemOut ?? '', /^--- skipped ---\ntarget cannot inject a crash \(capabilities\.faults\)\n/);
  assert.equal(cases.filter((entry) => entry.endsWith('|passed')).length, 2);
  assert.match(result.stdout, /plain\s+lifecycle\s+2\s+0\s+0\s+2/);
  assert.match(result.stdout, /skipped: target cannot inject a crash \(capabilities\.faults\)/);
});
