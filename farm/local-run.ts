/**
 * `farm run` without a farm database: takes the local lock of every selected target (waiting
 * for, or refusing, targets another local run holds), runs the plan, releases the locks.
 */
import type { RunPlan } from './run-plan.js';
import { runPlan, type RunResult } from './run-command.js';
import type { RunHistoryOptions } from './run-command.js';
import { acquireTargetLocks, TargetBusyError, type HeldLock } from './target-lock.js';
import { UsageError } from './selection.js';
import { exitCodeForSignal, onStopSignals } from '../base/process/stop-signals.js';

export interface LocalRunOptions {
  readonly noWait: boolean;
  readonly lockWait: string | undefined;
}

export const DEFAULT_LOCK_WAIT_S = 600;

export function parseLockWait(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LOCK_WAIT_S * 1000;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new UsageError(`--lock-wait: expected seconds >= 0, got "${value}"`);
  return Math.round(Number(value) * 1000);
}

export async function runLocally(plan: RunPlan, options: LocalRunOptions, history?: RunHistoryOptions): Promise<RunResult> {
  const waitMs = parseLockWait(options.lockWait);
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => (signalled = signal);
  const stopListening = onStopSignals(onSignal);
  let locks: HeldLock[] = [];
  const releaseAll = () => locks.forEach((lock) => lock.release());
  // process.exit() elsewhere (a second Ctrl-C) must not leave our locks behind either.
  process.on('exit', releaseAll);
  try {
    try {
      locks = await acquireTargetLocks(
        plan.targets.map((target) => ({ target: target.name, farmFile: plan.configSource })),
        { noWait: options.noWait, waitMs, say: (line) => process.stderr.write(`farm: ${line}\n`), cancelled: () => signalled !== undefined },
      );
    } catch (error) {
      if (signalled && error instanceof TargetBusyError) return { exitCode: exitCodeForSignal(signalled) };
      throw error;
    } finally {
      stopListening();
    }
    if (signalled) return { exitCode: exitCodeForSignal(signalled) };
    return await runPlan(plan, history);
  } finally {
    releaseAll();
    process.off('exit', releaseAll);
  }
}
