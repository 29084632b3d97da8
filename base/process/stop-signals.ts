/**
 * The signals that ask a farm command to stop in order: Ctrl-C (SIGINT), kill (SIGTERM) and the
 * terminal closing under it (SIGHUP: an SSH session to the lab machine dropped). Every command
 * that stops in order listens to all three, so a run cut off by a closed terminal tears its
 * targets down and leaves reports that say "interrupted", as a Ctrl-C does.
 */
import { constants } from 'node:os';

export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** The shell's exit status of a command stopped by `signal`: 128 + its number (130, 143, 129). */
export function exitCodeForSignal(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

let terminalGone = false;

/**
 * Node restores a terminal's settings at exit and aborts (SIGABRT, "Assertion failed" in
 * ResetStdio) when the terminal is gone. A process that found its terminal gone by a failed write
 * (the test runner, in its own session, gets no SIGHUP) ends without that step once its exit work
 * is done: the hook is added last, after the reporters' and the exit cleanup's.
 */
function onStdioError(error: NodeJS.ErrnoException): void {
  if (error.code !== 'EIO' || terminalGone) return;
  terminalGone = true;
  process.once('exit', () => process.kill(process.pid, 'SIGKILL'));
}

/**
 * After a hang-up the terminal is gone and writes to it fail (EIO); an 'error' on process.stdout
 * or process.stderr with no listener would end the process in the middle of its teardown. A
 * process that writes to the terminal without listening for SIGHUP itself (the test runner,
 * which gets the CLI's SIGINT) calls this up front.
 */
export function survivesGoneTerminal(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (!stream.listeners('error').includes(onStdioError)) stream.on('error', onStdioError);
  }
}

/** Whether the terminal is gone: a SIGHUP came to a listener of onStopSignals, or a write to it failed with EIO. */
export function terminalHungUp(): boolean {
  return terminalGone;
}

/**
 * Ends a process whose terminal hung up by the signal itself, once it has stopped in order (its
 * listeners removed). A normal exit would not do: Node restores the terminal's settings at exit
 * and aborts (SIGABRT, "Assertion failed" in ResetStdio) when the terminal is gone; dying of SIGHUP
 * is also what a shell reports for a hung-up command (129). base/process/exit-cleanup's
 * listener, if any, still runs its actions and re-raises.
 */
export function endByHangUp(): void {
  process.kill(process.pid, 'SIGHUP');
}

/** Calls `listener` on each stop signal until the returned function is called. */
export function onStopSignals(listener: (signal: NodeJS.Signals) => void): () => void {
  const listeners = STOP_SIGNALS.map((signal) => {
    const handler = () => {
      if (signal === 'SIGHUP') {
        terminalGone = true;
        survivesGoneTerminal();
      }
      listener(signal);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of listeners) process.off(signal, handler);
  };
}
