/**
 * Last-resort cleanup when the farm process ends without tearing its targets down: normal exit,
 * process.exit(), or a terminating signal (Ctrl-C). Registered actions run synchronously, once.
 *
 * On a signal our listener runs first (prepended), then removes itself; if nobody else listens
 * to that signal it re-raises it so the process still dies of it. A CLI that handles SIGINT for
 * a graceful shutdown keeps doing so (its teardown finds everything already released).
 */
const actions = new Map<number, () => void>();
let nextId = 1;
let installed = false;
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
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
  for (const signal of SIGNALS) {
    const listener = (): void => {
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
