import { test } from 'node:test';
import assert from 'node:assert/strict';
import { helpText, parseCommandLine } from './cli-args.js';
import { UsageError } from './selection.js';
import { runCli, workspace } from './testing/cli-harness.js';

function mistake(argv: string[]): string {
  try {
    parseCommandLine(argv);
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error));
    assert.ok(!error.message.includes('\n'), error.message);
    return error.message;
  }
  assert.fail(`accepted: ${argv.join(' ')}`);
}

test('--target and --suite take comma-separated lists and may be repeated', () => {
  const args = parseCommandLine(['run', '--target', 'sim,linux-process', '--target=qemu', '--suite', 'echo', '--config', 'f.yaml']);
  assert.equal(args.command, 'run');
  assert.deepEqual(args.lists.target, ['sim', 'linux-process', 'qemu']);
  assert.deepEqual(args.lists.suite, ['echo']);
  assert.equal(args.values.config, 'f.yaml');
  assert.equal(parseCommandLine(['--config', 'run', 'targets']).command, 'targets', 'an option value is not the command');
});

test('command-line mistakes are one line naming the command and the option', () => {
  assert.equal(mistake(['run', '--bogus']), 'farm run: --bogus: unknown option (see farm run --help)');
  assert.equal(mistake(['run', '--out']), 'farm run: --out: missing DIR (see farm run --help)');
  assert.equal(mistake(['run', '--out', '--config', 'x']), 'farm run: --out: missing DIR (see farm run --help)');
  assert.equal(mistake(['up']), 'farm up: missing TARGET (usage: farm up TARGET [--suite NAME] [--config FILE])');
  assert.equal(mistake(['targets', '--suite', 'echo']), 'farm targets: --suite: not an option of farm targets (see farm targets --help)');
  assert.match(mistake(['run', '--target', 'sim', 'linux-process']), /^farm run: unexpected argument "linux-process"; to give several, use --target A,B/);
  assert.match(mistake(['run', '--target', 'sim,']), /^farm run: --target: empty name in "sim,"/);
  assert.match(mistake(['frob']), /^farm: unknown command "frob"/);
  assert.match(mistake(['doctor', '--fix=yes']), /^farm doctor: --fix: takes no value/);
  // "--retries -1" reaches the value check (farm run: --retries: expected an integer >= 0).
  assert.equal(parseCommandLine(['run', '--retries', '-1']).values.retries, '-1');
});

test('--help describes each command with its options', () => {
  const help = helpText();
  for (const line of ['farm run [--target NAME[,NAME...]]...', 'farm targets', 'farm doctor [--fix]', 'farm up TARGET', '--retries N', '--shard I/N']) {
    assert.ok(help.includes(line), line);
  }
  assert.ok(!helpText('up').includes('--shard'), 'a command\'s help lists only its options');
  assert.equal(parseCommandLine(['run', '--help']).help, true);
});

test('the CLI prints a usage mistake as one line on stderr and exits 2', async () => {
  const space = workspace();
  try {
    for (const argv of [['run', '--retries', '-1'], ['run', '--bogus'], ['run', '--out'], ['up']]) {
      const result = await runCli(argv, space.dir);
      assert.equal(result.code, 2, argv.join(' '));
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^farm (run|up): [^\n]+\n$/, result.stderr);
    }
  } finally {
    space.remove();
  }
});

test('farm targets --kinds lists every registered kind with its description', async () => {
  const space = workspace();
  try {
    const result = await runCli(['targets', '--kinds'], space.dir);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^sim\n {4}Simulated AMP SoC/m);
    assert.match(result.stdout, /^linux-process\n {4}Remote as a Linux process[^\n]*\n {4}suites: [^\n]*no firmware: images$/m);
    assert.match(result.stdout, /^fake\n/m, 'kinds from FARM_EXTRA_KINDS too');
  } finally {
    space.remove();
  }
});
