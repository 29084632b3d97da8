import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfrastructureError, TimeoutError } from '../../base/errors.js';
import { HostKeyMismatchError, SshAuthenticationError, SshShell } from './ssh-shell.js';
import { parseSshParams, type SshParams } from './ssh-params.js';
import { keygen, startTestSshd, type TestSshd } from './testing/sshd-for-tests.js';
import { ConfigError } from '../../base/errors.js';

let dir: string;
let sshd: TestSshd;
const PASSWORD = `pw-${randomBytes(4).toString('hex')}`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'farm-ssh-test-'));
  sshd = await startTestSshd({ dir: join(dir, 'sshd'), rootPassword: PASSWORD });
});

after(async () => {
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function params(overrides: Record<string, unknown> = {}): SshParams {
  return parseSshParams({ host: '127.0.0.1', port: sshd.port, user: 'root', privateKey: sshd.clientKey, hostKey: sshd.hostKey, ...overrides }, 'targets[0].params.ssh', dir);
}

test('persistent shell: stdout, stderr and the exit code of each command come back apart, byte-exact', async () => {
  const shell = await SshShell.connect('board1', params());
  try {
    assert.deepEqual(await shell.run('echo out; echo err >&2; exit 3'), { stdout: 'out\n', stderr: 'err\n', exitCode: 3 });
    assert.deepEqual(await shell.run('printf "no newline"'), { stdout: 'no newline', stderr: '', exitCode: 0 });
    assert.deepEqual(await shell.run("printf '%s\\n' \"it's\" 'a \\\"quote\\\"'"), { stdout: 'it\'s\na \\"quote\\"\n', stderr: '', exitCode: 0 });
    // A syntax error does not end the shell; a command reading stdin gets EOF, not our commands.
    const broken = await shell.run('if then fi');
    assert.notEqual(broken.exitCode, 0);
    assert.match(broken.stderr, /syntax error/i);
    assert.deepEqual(await shell.run('cat; echo after'), { stdout: 'after\n', stderr: '', exitCode: 0 });
    // Output that looks like a sentinel (without the random token) is plain output.
    assert.equal((await shell.run("printf '\\n\\036FARM 0\\036\\n'")).stdout, '\n\x1eFARM 0\x1e\n');
    // Commands run one at a time, in order, even when issued together.
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => shell.runCheck(`echo ${n}`)));
    assert.deepEqual(results, ['1\n', '2\n', '3\n', '4\n', '5\n']);
    await assert.rejects(shell.runCheck('echo nope >&2; exit 4'), (error: unknown) => error instanceof InfrastructureError && /board1: `echo nope >&2; exit 4` failed \(exit 4\): nope/.test(error.message));
  } finally {
    await shell.close();
  }
});

test('put: SFTP upload lands byte-exact with its mode, via a temporary name', async () => {
  const shell = await SshShell.connect('board1', params());
  try {
    const data = randomBytes(200_000);
    const remote = join(dir, 'uploaded fw.elf');
    await shell.put(data, remote, { mode: 0o600 });
    const sum = createHash('sha256').update(data).digest('hex');
    assert.equal((await shell.runCheck(`sha256sum '${remote}'`)).split(' ')[0], sum);
    assert.equal((await shell.runCheck(`stat -c %a '${remote}'`)).trim(), '600');
    assert.equal((await shell.runCheck(`ls '${dir}' | grep -c farm-upload || true`)).trim(), '0');
  } finally {
    await shell.close();
  }
});

test('a command past its deadline is a TimeoutError naming the target; the next command runs on a fresh channel', async () => {
  const shell = await SshShell.connect('board1', params());
  try {
    const started = Date.now();
    await assert.rejects(shell.run('sleep 20', { timeoutMs: 300 }), (error: unknown) => error instanceof TimeoutError && /board1: command `sleep 20` did not finish within 300 ms/.test(error.message));
    assert.ok(Date.now() - started < 3000);
    assert.equal(await shell.runCheck('echo again'), 'again\n');
  } finally {
    await shell.close();
  }
});

test('the connection dropping mid-command is an InfrastructureError naming the target, at once', async () => {
  const shell = await SshShell.connect('board1', params({ keepaliveMs: 200 }));
  const lost: string[] = [];
  shell.onLost((reason) => lost.push(reason));
  const started = Date.now();
  // Kill the sshd process serving this session (the persistent shell's parent).
  await assert.rejects(
    shell.run('kill -9 $(ps -o ppid= -p $PPID); sleep 30', { timeoutMs: 20_000 }),
    (error: unknown) => error instanceof InfrastructureError && !(error instanceof TimeoutError) && /^board1: /.test(error.message),
  );
  assert.ok(Date.now() - started < 10_000, 'noticed long before the command deadline');
  assert.equal(lost.length, 1);
  await assert.rejects(shell.run('true'), /board1: SSH connection to 127\.0\.0\.1:\d+ closed/);
  await shell.close();
});

test('a host key other than the pinned one is refused before authentication: HostKeyMismatchError naming the target and both fingerprints', async () => {
  const other = keygen(join(dir, 'other_host_key'));
  await assert.rejects(
    SshShell.connect('board1', params({ hostKey: other })),
    (error: unknown) => error instanceof HostKeyMismatchError && /^board1: host key mismatch for 127\.0\.0\.1:\d+: the board presented SHA256:\S+, farm\.yaml \(ssh\.hostKey\) has SHA256:/.test(error.message),
  );
});

test('known_hosts: a plain or hashed entry for [host]:port verifies; a missing entry or another key is refused', async () => {
  const name = `[127.0.0.1]:${sshd.port}`;
  const plain = join(dir, 'known_hosts_plain');
  writeFileSync(plain, `# comment\nother.example ${keygen(join(dir, 'k2'))}\n${name} ${sshd.hostKey}\n`);
  await (await SshShell.connect('board1', params({ hostKey: undefined, knownHosts: plain }))).close();

  const salt = randomBytes(20);
  const hashed = join(dir, 'known_hosts_hashed');
  writeFileSync(hashed, `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')} ${sshd.hostKey}\n`);
  await (await SshShell.connect('board1', params({ hostKey: undefined, knownHosts: hashed }))).close();

  const empty = join(dir, 'known_hosts_empty');
  writeFileSync(empty, `127.0.0.1 ${sshd.hostKey}\n`); // port 22's entry is not this board's
  await assert.rejects(SshShell.connect('board1', params({ hostKey: undefined, knownHosts: empty })), /board1: .*lists no host key for \[127\.0\.0\.1\]:\d+: the farm never accepts an unknown key/);

  const wrong = join(dir, 'known_hosts_wrong');
  writeFileSync(wrong, `${name} ${keygen(join(dir, 'k3'))}\n`);
  await assert.rejects(SshShell.connect('board1', params({ hostKey: undefined, knownHosts: wrong })), HostKeyMismatchError);
});

test('a wrong key or password is an SshAuthenticationError naming the target, without the secret', async () => {
  keygen(join(dir, 'stranger'));
  await assert.rejects(
    SshShell.connect('board1', params({ privateKey: join(dir, 'stranger') })),
    (error: unknown) => error instanceof SshAuthenticationError && /^board1: SSH authentication as root@127\.0\.0\.1:\d+ failed \(tried key .*stranger\)$/.test(error.message),
  );
  const env = { BOARD_PW: 'wrong-password' };
  const withPassword = parseSshParams({ host: '127.0.0.1', port: sshd.port, passwordEnv: 'BOARD_PW', hostKey: sshd.hostKey }, 'p', dir);
  await assert.rejects(SshShell.connect('board1', withPassword, { env }), (error: unknown) => error instanceof SshAuthenticationError && !error.message.includes('wrong-password') && /the password from \$BOARD_PW/.test(error.message));
  const good = await SshShell.connect('board1', withPassword, { env: { BOARD_PW: PASSWORD } });
  assert.equal(await good.runCheck('id -u'), '0\n');
  await good.close();
});

test('nothing answering: an InfrastructureError naming the target within the connect timeout', async () => {
  const started = Date.now();
  // A port nobody listens on: refused at once.
  await assert.rejects(SshShell.connect('board1', params({ port: 1 })), (error: unknown) => error instanceof InfrastructureError && /^board1: SSH connection to root@127\.0\.0\.1:1 failed/.test(error.message));
  assert.ok(Date.now() - started < 5000);
});

test('parseSshParams: no host key source, no credentials, a bad key: ConfigErrors naming the field', () => {
  const base = { host: 'board1.lab', privateKey: 'id_ed25519' };
  assert.throws(() => parseSshParams(base, 'p', '/etc/farm'), (e: unknown) => e instanceof ConfigError && e.field === 'p' && /never accepts an unknown host key/.test(e.detail));
  assert.throws(() => parseSshParams({ host: 'b', knownHosts: 'kh' }, 'p', '/x'), (e: unknown) => e instanceof ConfigError && /needs privateKey .* or passwordEnv/.test(e.detail));
  assert.throws(() => parseSshParams({ ...base, hostKey: 'ssh-ed25519 notbase64!' }, 'p', '/x'), (e: unknown) => e instanceof ConfigError && e.field === 'p.hostKey');
  assert.throws(() => parseSshParams({ ...base, knownHosts: 'kh', passwordEnv: 'lower' }, 'p', '/x'), (e: unknown) => e instanceof ConfigError && e.field === 'p.passwordEnv');
  const parsed = parseSshParams({ ...base, knownHosts: 'known_hosts' }, 'p', '/etc/farm');
  assert.equal(parsed.privateKey, '/etc/farm/id_ed25519');
  assert.equal(parsed.knownHosts, '/etc/farm/known_hosts');
  assert.equal(parsed.port, 22);
  assert.equal(parsed.user, 'root');
});

test('a timed-out command is killed on the board; a later session sweeps what a dropped one left running', async () => {
  const shell = await SshShell.connect('board1', params());
  const marker = `farm-marker-${randomBytes(4).toString('hex')}`;
  // '[f]arm-...' matches the command but not the sh -c running pgrep itself.
  const pgrep = (suffix: string) => `pgrep -f '[f]${marker.slice(1)}${suffix}'`;
  try {
    await assert.rejects(shell.run(`sleep 41 # ${marker}`, { timeoutMs: 300 }), TimeoutError);
    // The kill goes over an exec channel of its own (0.6-1.6 s each here, more under load).
    const deadline = Date.now() + 20_000;
    while ((await shell.run(pgrep(''))).exitCode === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await shell.run(pgrep(''))).exitCode, 1, 'the timed-out command is gone');
  } finally {
    await shell.close();
  }
  const dropped = await SshShell.connect('board1', params());
  await assert.rejects(dropped.run(`sh -c "sleep 42" ${marker}-left & kill -9 $(ps -o ppid= -p $PPID); sleep 43`, { timeoutMs: 20_000 }), InfrastructureError);
  const next = await SshShell.connect('board1', params());
  try {
    assert.equal((await next.run(pgrep('-left'))).exitCode, 0, 'the dropped session left a process');
    // A process of another "board" on this machine (another mount namespace: here this test's
    // own, outside the sshd's) with a farm session mark is not the sweep's to end.
    const other = spawn('sleep', ['60'], { env: { ...process.env, FARM_SESSION: 'another-board-session' }, stdio: 'ignore' });
    try {
      assert.ok((await next.sweepStaleProcesses()) >= 1);
      assert.equal((await next.run(pgrep('-left'))).exitCode, 1, 'swept');
      await new Promise((resolve) => setTimeout(resolve, 300)); // a kill would have been reaped by now
      assert.equal(other.exitCode, null, 'the other board\'s process still runs');
      assert.equal(other.signalCode, null, 'the other board\'s process was not killed');
    } finally {
      other.kill('SIGKILL');
    }
  } finally {
    await next.close();
  }
});
