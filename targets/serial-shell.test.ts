/**
 * The serial-console shell against the board double's console: a pty whose far side asks
 * "login:" and "Password:" and then runs a shell inside the double's namespace, opened with
 * serialport as a board's UART is.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { InfrastructureError, TimeoutError } from '../base/errors.js';
import { SerialConsole } from '../base/serial/serial-console.js';
import { BoardDouble } from './linux-remoteproc/testing/board-double.js';
import { ConsoleLoginError, SerialShell } from './serial-shell.js';
import { ManagedProcess } from '../base/process/managed-process.js';
import { ensureConsoleDouble } from '../firmware/tools.js';

const PASSWORD = `pw-${randomBytes(4).toString('hex')}`;
let double: BoardDouble;

before(async () => {
  double = await BoardDouble.start({ consolePassword: PASSWORD });
});

after(async () => {
  await double?.stop();
});

async function login(password: string | undefined): Promise<{ console: SerialConsole; shell: SerialShell }> {
  const console = await SerialConsole.open({ path: double.consolePath as string, name: 'console' });
  try {
    const shell = await SerialShell.login(console, { target: 'mp157', user: 'root', ...(password !== undefined ? { password } : {}), loginTimeoutMs: 20_000, commandTimeoutMs: 10_000 });
    return { console, shell };
  } catch (error) {
    await console.close();
    throw error;
  }
}

test('login on the console, then framed commands: stdout, stderr and exit code apart; the shell sees the board\'s kernel paths', async () => {
  const { console, shell } = await login(PASSWORD);
  try {
    assert.deepEqual(await shell.run('echo out; echo err >&2; exit 3'), { stdout: 'out\n', stderr: 'err\n', exitCode: 3 });
    assert.equal(await shell.runCheck('cat /sys/class/remoteproc/remoteproc0/name'), 'm4\n');
    assert.equal(await shell.runCheck('printf "no newline"'), 'no newline');
    const data = randomBytes(5000);
    await shell.put(data, '/var/tmp/farm-serial-put.bin', { mode: 0o600 });
    assert.equal((await shell.runCheck('sha256sum /var/tmp/farm-serial-put.bin')).split(' ')[0], createHash('sha256').update(data).digest('hex'));
    assert.equal(await shell.runCheck('stat -c %a /var/tmp/farm-serial-put.bin; ls /var/tmp | grep -c farm-upload || true'), '600\n0\n', 'mode set, no staging files left');
    await assert.rejects(shell.put(new Uint8Array(32 * 1024 * 1024 + 1), '/var/tmp/too-big'), (error: unknown) => error instanceof InfrastructureError && /^mp157: \/var\/tmp\/too-big: 33554433 bytes is more than/.test(error.message));
    await assert.rejects(shell.run('sleep 5', { timeoutMs: 300 }), (error: unknown) => error instanceof TimeoutError && /^mp157: command `sleep 5` did not finish within 300 ms on the serial console$/.test(error.message));
    // The console keeps everything for the report, login included (never the password: no echo).
    const captured = console.takeCapture();
    assert.match(captured, /login: /);
    assert.ok(!captured.includes(PASSWORD), 'the password is not in the console capture');
    await shell.close();
  } finally {
    await console.close();
  }
});

test('a wrong password: ConsoleLoginError naming the target', async () => {
  await assert.rejects(login('wrong'), (error: unknown) => error instanceof ConsoleLoginError && /^mp157: serial console login as root failed: Login incorrect$/.test(error.message));
});

test('a silent console: InfrastructureError naming the target within the login timeout', async () => {
  // A pty whose far side never says anything (a board that is off or hung).
  let output = '';
  const silent = ManagedProcess.spawn({ name: 'silent console', file: await ensureConsoleDouble(), args: ['sleep', '60'], onOutput: (_stream, text) => (output += text) });
  const path = await new Promise<string>((resolve) => {
    const poll = setInterval(() => {
      const match = /^(\/dev\/pts\/\d+)\n/.exec(output);
      if (match) {
        clearInterval(poll);
        resolve(match[1] as string);
      }
    }, 10);
  });
  const console = await SerialConsole.open({ path, name: 'console' });
  try {
    const started = Date.now();
    await assert.rejects(
      SerialShell.login(console, { target: 'mp157', user: 'root', loginTimeoutMs: 1000, commandTimeoutMs: 1000 }),
      (error: unknown) => error instanceof InfrastructureError && /^mp157: serial console login as root: no prompt within 1000 ms/.test(error.message),
    );
    assert.ok(Date.now() - started < 5000);
  } finally {
    await console.close();
    await silent.stop();
  }
});

test('a shell an earlier farm left logged in (killed before it logged out: no prompt, no echo) is found again by the next login', async () => {
  const first = await login(PASSWORD);
  assert.equal(await first.shell.runCheck('echo first'), 'first\n');
  await first.console.close(); // the farm is gone; the board's shell stays logged in, prompts empty
  const started = Date.now();
  const { console, shell } = await login(PASSWORD);
  try {
    assert.equal(await shell.runCheck('echo again'), 'again\n');
    assert.ok(Date.now() - started < 15_000, `found within ${Date.now() - started} ms`);
    await shell.close();
  } finally {
    await console.close();
  }
  // Logged out properly: the next login goes through the login prompt again.
  const next = await login(PASSWORD);
  try {
    assert.match(next.console.takeCapture(), /login: /);
    await next.shell.close();
  } finally {
    await next.console.close();
  }
});
