/**
 * Last-resort cleanup when the farm process ends without tearing its targets down: normal exit,
 * process.exit(), or a terminating signal (Ctrl-C). Registered actions run synchronously, once.
 *
 * On a signal nobody else listens to, our listener runs the actions, removes itself and
 * re-raises the signal so the process still dies of it. A process that handles the signal itself
 * (a CLI's graceful shutdown on Ctrl-C) is not about to die of it: the actions wait for its exit,
 * so its orderly teardown stops the children instead of finding them killed under it (which the
 * targets would report as crashes).
 */
import { STOP_SIGNALS } from './stop-signals.js';

const actions = new Map<number, () => void>();
let nextId = 1;
let installed = false;
const signalListeners = new Map<NodeJS.Signals, () => void>();

function runAll(): void {
  for (const [id, action] of [...actions]) {
    actions.delete(id);
    try {
      action();
    } catch {
      // best effort: one failed cleanup must not stop the others
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const signal of STOP_SIGNALS) {
    const listener = (): void => {
      if (process.listenerCount(signal) > 1) return; // handled: the actions run at exit
      runAll();
      for (const [sig, l] of signalListeners) process.removeListener(sig, l);
      signalListeners.clear();
      installed = false;
      process.removeListener('exit', runAll);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    signalListeners.set(signal, listener);
    process.prependListener(signal, listener);
  }
}

/** Runs `action` (synchronously) if the process ends before the returned release is called. */
export function onProcessExit(action: () => void): () => void {
  install();
  const id = nextId++;
  actions.set(id, action);
  return () => {
    actions.delete(id);
  };
}
