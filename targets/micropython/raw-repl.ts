/**
 * MicroPython's raw REPL over a console (a board's USB CDC port read with serialport), as
 * mpremote's transport_serial.py drives it:
 * - enter: `\r\x03` (break whatever runs), drain, `\r\x01`, expect `raw REPL; CTRL-B to exit\r\n>`;
 * - exec: the code, `\x04`; `OK`; stdout up to `\x04`; the exception text up to `\x04`; `>`;
 * - raw-paste (`\x05A\x01`): `R\x01` + a little-endian u16 window, the device grants another
 *   window with `\x01` and aborts with `\x04`; the host ends with `\x04` and waits for the
 *   device's `\x04`; there is no `OK`. `R\x00`: supported by the protocol but not by this
 *   device, anything else: an older device that does not know it; both fall back to exec;
 * - soft reset: `\x04` at the raw prompt: `soft reboot`, then the raw prompt again;
 * - Ctrl-C breaks a script that overruns its deadline; leave with `\r\x02`.
 * Every wait has a deadline; a script's exception becomes a MicroPythonError carrying the
 * traceback. The console is untrusted: unexpected bytes are skipped or reported, never waited on
 * without a deadline.
 */
import { InfrastructureError, ProtocolError, TimeoutError } from '../../base/errors.js';
import type { ConsoleProtocol } from '../protocols.js';

export const RAW_REPL_BANNER = 'raw REPL; CTRL-B to exit\r\n>';

/** A script raised: `type` is the exception's class ("OSError"), `traceback` its whole text. */
export class MicroPythonError extends ProtocolError {
  constructor(
    readonly exceptionType: string,
    readonly traceback: string,
    readonly stdout: string,
    where: string,
  ) {
    super(`${where}: MicroPython raised ${exceptionType}: ${lastLine(traceback)}\n${traceback}`);
  }
}

/** A script overran its deadline and was broken with Ctrl-C (the REPL is usable again). */
export class ScriptTimeoutError extends TimeoutError {}

/** The board does not answer the raw REPL protocol (no prompt, Ctrl-C does not break in). */
export class ReplUnresponsiveError extends InfrastructureError {}

export interface ExecResult {
  readonly stdout: string;
  /** Everything on the line before `OK` that was not ours (unsolicited output, noise). */
  readonly skipped: string;
}

export interface RawReplOptions {
  /** Names the board in errors ("h747 on /dev/ttyACM0"). */
  readonly name: string;
  /** Use raw-paste when the device supports it (default true). */
  readonly rawPaste?: boolean;
  /** How long Ctrl-C may take to break a script before the board counts as unresponsive (default 2000 ms). */
  readonly interruptTimeoutMs?: number;
  /** Lines for the target log (fallbacks, skipped noise). */
  readonly log?: (line: string) => void;
}

function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  return lines[lines.length - 1] ?? text;
}

/** The exception class in a traceback's last line ("OSError: [Errno 110] ETIMEDOUT" -> "OSError"). */
export function exceptionTypeOf(traceback: string): string {
  const match = /^([A-Za-z_][\w.]*)(?::|$)/.exec(lastLine(traceback).trim());
  return match ? (match[1] as string) : 'Exception';
}

const NORMAL_CHUNK = 256;

export class RawRepl {
  /** Raw-paste support: unknown until tried, then remembered (per connection). */
  private pasteSupport: 'unknown' | 'yes' | 'no';
  private readonly log: (line: string) => void;

  constructor(
    private readonly console: ConsoleProtocol,
    private readonly options: RawReplOptions,
  ) {
    this.pasteSupport = options.rawPaste === false ? 'no' : 'unknown';
    this.log = options.log ?? (() => {});
  }

  /** Breaks whatever runs and enters the raw REPL (retried with more Ctrl-C until the deadline). */
  async enter(options: { timeoutMs: number }): Promise<void> {
    const deadline = Date.now() + options.timeoutMs;
    let attempt = 0;
    for (;;) {
      attempt++;
      await this.console.write(attempt === 1 ? '\r\x03' : '\r\x03\x03');
      await sleep(Math.min(50 * attempt, 200));
      await this.drain();
      await this.console.write('\r\x01');
      const left = deadline - Date.now();
      try {
        await this.console.expect(RAW_REPL_BANNER, { timeoutMs: Math.max(1, Math.min(left, 1000 * attempt)) });
        // Ctrl-C and Ctrl-A may each have printed a prompt: start from a quiet line.
        await sleep(10);
        await this.drain();
        return;
      } catch (error) {
        if (!(error instanceof TimeoutError)) throw error;
        if (Date.now() >= deadline) {
          throw new ReplUnresponsiveError(`${this.options.name}: no raw REPL prompt within ${options.timeoutMs} ms (${attempt} attempts); ${error.message}`, { cause: error });
        }
      }
    }
  }

  /** Leaves the raw REPL for the friendly one. */
  async exit(): Promise<void> {
    await this.console.write('\r\x02');
  }

  /** Soft reset at the raw prompt; resolves at the raw prompt of the fresh interpreter. */
  async softReset(options: { timeoutMs: number }): Promise<void> {
    const deadline = Date.now() + options.timeoutMs;
    await this.drain();
    await this.console.write('\x04');
    await this.expectBy('soft reboot\r\n', deadline, 'soft reset');
    await this.expectBy(RAW_REPL_BANNER, deadline, 'the raw prompt after a soft reset');
  }

  /**
   * Runs `code`; resolves with its stdout, throws MicroPythonError when it raised. A script
   * still running at the deadline is broken with Ctrl-C (ScriptTimeoutError), or the board is
   * unresponsive (ReplUnresponsiveError).
   */
  async exec(code: string, options: { timeoutMs: number }): Promise<ExecResult> {
    const deadline = Date.now() + options.timeoutMs;
    const skippedIdle = await this.drain();
    if (skippedIdle) this.log(`${this.options.name}: skipped ${JSON.stringify(skippedIdle.slice(0, 200))} on the line before exec`);
    const bytes = Buffer.from(code, 'utf8');
    let skipped = skippedIdle;
    if (this.pasteSupport !== 'no') {
      const pasted = await this.tryRawPaste(bytes, deadline);
      if (pasted !== undefined) return this.collect(deadline, skipped + pasted, options.timeoutMs);
    }
    for (let offset = 0; offset < bytes.length; offset += NORMAL_CHUNK) await this.console.write(bytes.subarray(offset, offset + NORMAL_CHUNK));
    await this.console.write('\x04');
    const ok = await this.expectBy('OK', deadline, 'OK after the script', options.timeoutMs);
    skipped += ok.before;
    return this.collect(deadline, skipped, options.timeoutMs);
  }

  /** Sends `\r\x03` and waits for the REPL to settle back at the raw prompt. */
  async interrupt(options: { timeoutMs: number }): Promise<void> {
    await this.console.write('\x03');
    await this.console.expect(/\x04>/, { timeoutMs: options.timeoutMs });
  }

  /** Everything not consumed yet, consumed (returned for logs). */
  private async drain(): Promise<string> {
    try {
      // A match at the end of the unconsumed text is found at once.
      const found = await this.console.expect(/[\s\S]*$/, { timeoutMs: 1 });
      return found.before + found.match;
    } catch {
      return '';
    }
  }

  /** Raw-paste: the bytes skipped before the device's reply, or undefined when it is not supported. */
  private async tryRawPaste(bytes: Uint8Array, deadline: number): Promise<string | undefined> {
    await this.console.write('\x05A\x01');
    const reply = await this.expectBy(/R[\x00\x01]|raw REPL; CTRL-B to exit\r\n>/, deadline, 'the raw-paste reply');
    if (reply.match !== 'R\x01') {
      this.pasteSupport = 'no';
      this.log(`${this.options.name}: raw-paste ${reply.match === 'R\x00' ? 'not supported by the device (R\\x00)' : 'unknown to the device'}: normal raw REPL`);
      return undefined;
    }
    this.pasteSupport = 'yes';
    const windowBytes = await this.expectBy(/[\s\S]{2}/, deadline, 'the raw-paste window size');
    const windowSize = windowBytes.match.charCodeAt(0) | (windowBytes.match.charCodeAt(1) << 8);
    if (windowSize === 0) throw new ProtocolError(`${this.options.name}: raw-paste window of 0 bytes`);
    let windowLeft = windowSize;
    let offset = 0;
    while (offset < bytes.length) {
      while (windowLeft === 0) {
        const control = await this.expectBy(/[\x01\x04]/, deadline, 'a raw-paste window grant');
        if (control.match === '\x04') {
          // The device aborted (compile error of what was sent so far): acknowledge.
          await this.console.write('\x04');
          return control.before;
        }
        windowLeft += windowSize;
      }
      const chunk = bytes.subarray(offset, offset + windowLeft);
      await this.console.write(chunk);
      offset += chunk.length;
      windowLeft -= chunk.length;
    }
    await this.console.write('\x04');
    // Grants still in flight are skipped; the device's \x04 ends the upload.
    const end = await this.expectBy('\x04', deadline, 'the end of the raw-paste upload');
    return end.before.replace(/\x01/g, '');
  }

  private async collect(deadline: number, skipped: string, timeoutMs: number): Promise<ExecResult> {
    const out = await this.expectBy('\x04', deadline, 'the end of the script output', timeoutMs);
    const err = await this.expectBy('\x04', deadline, 'the end of the exception text', timeoutMs);
    await this.expectBy('>', deadline, 'the raw prompt after the script', timeoutMs);
    if (err.before.length > 0) throw new MicroPythonError(exceptionTypeOf(err.before), err.before, out.before, this.options.name);
    return { stdout: out.before, skipped };
  }

  /**
   * expect() with the exec's deadline. On a timeout while a script runs (`scriptTimeoutMs`
   * given), Ctrl-C breaks it: ScriptTimeoutError if the REPL comes back, else unresponsive.
   */
  private async expectBy(pattern: string | RegExp, deadline: number, what: string, scriptTimeoutMs?: number): Promise<{ match: string; before: string }> {
    try {
      return await this.console.expect(pattern, { timeoutMs: Math.max(1, deadline - Date.now()) });
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      if (scriptTimeoutMs === undefined) throw new ProtocolError(`${this.options.name}: no ${what} (${error.message})`, { cause: error });
      const interruptMs = this.options.interruptTimeoutMs ?? 2000;
      try {
        await this.interrupt({ timeoutMs: interruptMs });
      } catch (interruptError) {
        throw new ReplUnresponsiveError(
          `${this.options.name}: the script did not finish within ${scriptTimeoutMs} ms and Ctrl-C did not break it within ${interruptMs} ms (${(interruptError as Error).message})`,
          { cause: error },
        );
      }
      throw new ScriptTimeoutError(`${this.options.name}: the script did not finish within ${scriptTimeoutMs} ms (waiting for ${what}); broken with Ctrl-C`, { cause: error });
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
