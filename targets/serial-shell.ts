/**
 * A shell on a board's serial console (ShellProtocol over any ConsoleProtocol), for boards
 * without a network: logs in at the `login:` / `Password:` prompts, turns echo and output
 * translation off and the prompts empty, then frames each command with a per-command random
 * token as the SSH shell does. One stream carries both outputs, so stderr goes through a file on
 * the board and is printed after the exit code. The console's capture stays the console's: it
 * holds everything, logins and commands included, for the test report.
 */
import { createHash, randomBytes } from 'node:crypto';
import { InfrastructureError, TimeoutError } from '../base/errors.js';
import type { CommandResult, ConsoleProtocol, ShellProtocol } from './protocols.js';
import { shellQuote } from './ssh/ssh-shell.js';

/** The board refused the user name / password on its console. */
export class ConsoleLoginError extends InfrastructureError {}

export interface SerialShellOptions {
  readonly target: string;
  readonly user: string;
  /** The password, when the console asks for one (from the environment, never from farm.yaml). */
  readonly password?: string;
  readonly loginTimeoutMs: number;
  readonly commandTimeoutMs: number;
}

const RS = '\x1e';
/**
 * How long a login waits for a prompt after each empty line before it asks whether a prompt-less
 * shell is there (a line that a login prompt would take for a user name: a failed login).
 */
const PROMPT_WAITS_MS = [2000, 3000];
/** Base64 characters per line when writing a file through the console (lines stay well below a tty's 4096). */
const PUT_CHUNK = 2048;
/** The largest file `put` sends through a console (at 115200 baud 32 MiB of base64 is over an hour). */
const MAX_PUT_BYTES = 32 * 1024 * 1024;

export class SerialShell implements ShellProtocol {
  private queue: Promise<unknown> = Promise.resolve();
  private broken: string | undefined;

  private constructor(
    private readonly console: ConsoleProtocol,
    private readonly options: SerialShellOptions,
  ) {}

  /** Logs in on `console` (or finds a shell already there) and prepares it for framed commands. */
  static async login(console: ConsoleProtocol, options: SerialShellOptions): Promise<SerialShell> {
    const { target, user, password, loginTimeoutMs } = options;
    const deadline = Date.now() + loginTimeoutMs;
    const left = () => Math.max(1, deadline - Date.now());
    const what = `${target}: serial console login as ${user}`;
    // No echo, no \n -> \r\n, no prompts: from then on the console carries exactly what commands print.
    const token = randomBytes(6).toString('hex');
    const setup = `stty -echo -onlcr 2>/dev/null; PS1=''; PS2=''; export PS1 PS2; printf '\\036READY%s\\036\\n' ${token}\n`;
    const ready = `${RS}READY${token}${RS}\n`;
    try {
      let first: { match: string } | undefined;
      // An empty line makes a getty or a shell print its prompt again; a slow board gets a second one.
      for (const waitMs of PROMPT_WAITS_MS) {
        await console.write('\n');
        try {
          first = await console.expect(/login: $|[#$] $/, { timeoutMs: Math.min(left(), waitMs) });
          break;
        } catch (error) {
          if (!(error instanceof TimeoutError) || left() <= 1) throw error;
        }
      }
      if (!first) {
        // No prompt: a shell an earlier farm left logged in (prompts empty, echo off: it was
        // SIGKILLed before it logged out) answers the setup line; a login prompt that took the
        // line for a user name asks for a password, which an empty line refuses.
        await console.write(setup);
        const answer = await console.expect(new RegExp(`${ready}|login: $|Password: $`), { timeoutMs: left() });
        if (answer.match === ready) return new SerialShell(console, options);
        if (answer.match === 'Password: ') {
          await console.write('\n');
          first = await console.expect(/login: $/, { timeoutMs: left() });
        } else first = answer;
      }
      if (first.match.endsWith('login: ')) {
        await console.write(`${user}\n`);
        const asked = await console.expect(/Password: $|[#$] $|Login incorrect/, { timeoutMs: left() });
        if (asked.match === 'Password: ') {
          if (password === undefined) throw new ConsoleLoginError(`${what}: the console asks for a password and none is configured`);
          await console.write(`${password}\n`);
          const result = await console.expect(/[#$] $|Login incorrect/, { timeoutMs: left() });
          if (result.match === 'Login incorrect') throw new ConsoleLoginError(`${what} failed: Login incorrect`);
        } else if (asked.match === 'Login incorrect') throw new ConsoleLoginError(`${what} failed: Login incorrect`);
      }
      await console.write(setup);
      await console.expect(new RegExp(ready), { timeoutMs: left() });
    } catch (error) {
      if (error instanceof TimeoutError) throw new InfrastructureError(`${what}: no prompt within ${loginTimeoutMs} ms (${error.message})`, { cause: error });
      throw error;
    }
    return new SerialShell(console, options);
  }

  run(command: string, options: { timeoutMs?: number } = {}): Promise<CommandResult> {
    const result = this.queue.then(() => this.runNow(command, options.timeoutMs ?? this.options.commandTimeoutMs));
    this.queue = result.catch(() => {});
    return result;
  }

  private async runNow(command: string, timeoutMs: number): Promise<CommandResult> {
    if (this.broken) throw new InfrastructureError(this.broken);
    const token = `FARM${randomBytes(6).toString('hex')}`;
    const errors = `/tmp/farm-serial-stderr-${token}`;
    const deadline = Date.now() + timeoutMs;
    await this.console.write(
      `sh -c ${shellQuote(command)} </dev/null 2>${errors}; printf '\\036%s %d\\036\\n' ${token} $?; cat ${errors} 2>/dev/null; rm -f ${errors}; printf '\\036%s\\036\\n' ${token}\n`,
    );
    try {
      const exit = await this.console.expect(new RegExp(`${RS}${token} (\\d+)${RS}\\n`), { timeoutMs: Math.max(1, deadline - Date.now()) });
      const end = await this.console.expect(new RegExp(`${RS}${token}${RS}\\n`), { timeoutMs: Math.max(1, deadline - Date.now()) });
      return { stdout: exit.before, stderr: end.before, exitCode: Number(exit.groups[0]) };
    } catch (error) {
      if (error instanceof TimeoutError) {
        // The command may still run and its output would land in the next one's: interrupt it.
        await this.console.write('\x03\n').catch(() => {});
        throw new TimeoutError(`${this.options.target}: command \`${command}\` did not finish within ${timeoutMs} ms on the serial console`);
      }
      this.broken = `${this.options.target}: the serial console failed: ${(error as Error).message}`;
      throw error;
    }
  }

  async runCheck(command: string, options: { timeoutMs?: number } = {}): Promise<string> {
    const result = await this.run(command, options);
    if (result.exitCode !== 0) {
      throw new InfrastructureError(`${this.options.target}: \`${command}\` failed (exit ${result.exitCode})${result.stderr.trim() ? `: ${result.stderr.trim().slice(-2000)}` : ''}`);
    }
    return result.stdout;
  }

  /**
   * base64 through the console in lines of PUT_CHUNK characters, decoded on the board, checked
   * against the SHA-256 of what was sent (a line that lost or changed a byte fails the upload
   * instead of leaving a corrupt file), then renamed into place. At most MAX_PUT_BYTES.
   */
  async put(data: Uint8Array, remotePath: string, options: { mode?: number; timeoutMs?: number } = {}): Promise<void> {
    if (data.length > MAX_PUT_BYTES) {
      throw new InfrastructureError(`${this.options.target}: ${remotePath}: ${data.length} bytes is more than the ${MAX_PUT_BYTES} a serial console upload takes`);
    }
    const encoded = Buffer.from(data).toString('base64');
    const sha256 = createHash('sha256').update(data).digest('hex');
    const staging = `${remotePath}.farm-upload-${randomBytes(4).toString('hex')}`;
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs;
    try {
      await this.runCheck(`: > ${shellQuote(`${staging}.b64`)}`, { timeoutMs });
      for (let at = 0; at < encoded.length; at += PUT_CHUNK) {
        await this.runCheck(`printf '%s' '${encoded.slice(at, at + PUT_CHUNK)}' >> ${shellQuote(`${staging}.b64`)}`, { timeoutMs });
      }
      const mode = (options.mode ?? 0o644).toString(8);
      const got = await this.runCheck(`base64 -d ${shellQuote(`${staging}.b64`)} > ${shellQuote(staging)} && sha256sum ${shellQuote(staging)}`, { timeoutMs });
      if (!got.startsWith(sha256)) {
        throw new InfrastructureError(`${this.options.target}: upload of ${remotePath} through the serial console arrived damaged (sha256 ${got.slice(0, 64) || '(none)'}, sent ${sha256})`);
      }
      await this.runCheck(`chmod ${mode} ${shellQuote(staging)} && mv -f ${shellQuote(staging)} ${shellQuote(remotePath)}`, { timeoutMs });
    } finally {
      if (!this.broken) await this.run(`rm -f ${shellQuote(`${staging}.b64`)} ${shellQuote(staging)}`, { timeoutMs }).catch(() => {});
    }
  }

  /**
   * Logs out and waits (briefly) for the login prompt, so that whatever is typed next goes to the
   * login and not to a shell still on its way out. The console stays open: its owner closes it.
   */
  async close(): Promise<void> {
    if (this.broken) return;
    this.broken = `${this.options.target}: the serial shell was closed`;
    await this.queue;
    await this.console.write('exit\n').catch(() => {});
    await this.console.expect(/login: $/, { timeoutMs: this.options.loginTimeoutMs }).catch(() => {});
  }
}
