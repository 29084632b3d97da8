import { Worker } from 'node:worker_threads';
import { InfrastructureError } from '../../base/errors.js';
import { RemoteControl, REMOTE_CONTROL_BYTES } from './remote-control.js';
import type { RemoteCoreOutcome } from './remote-core.js';
import { isRemoteWorkerEvent, type RemoteWorkerCommand, type RemoteWorkerData } from './remote-worker-data.js';

/** How a remote worker ended. */
export type RemoteWorkerExit =
  | { kind: 'outcome'; outcome: RemoteCoreOutcome }
  /** The core faulted: the worker threw (a crash word, or a boot failure such as a bad table). */
  | { kind: 'fault'; error: Error }
  /** It was terminated (stop did not end it in time) or exited without saying why. */
  | { kind: 'terminated'; exitCode: number };

export interface RemoteWorkerHooks {
  /** Each console line of the core (its UART). */
  onConsole?: (line: string) => void;
  /** Called once when the worker is gone, however it ended. */
  onExit?: (exit: RemoteWorkerExit) => void;
}

const DEFAULT_STOP_TIMEOUT_MS = 2000;

/**
 * A worker thread whose core ended without a fault (RemoteWorkerHandle.takeThread): it waits
 * for its next core. Boot one in it (`thread` option) or end it (endIdleThread).
 */
export interface IdleRemoteThread {
  readonly worker: Worker;
}

export interface RemoteWorkerOptions {
  /** Boot the core in this idle thread instead of starting a new one (~15-20 ms less). */
  thread?: IdleRemoteThread;
  /**
   * When the core ends without a fault, keep its thread for takeThread() instead of ending it
   * (default false). `exited` then resolves when the core ends, not when the thread does.
   */
  keepThread?: boolean;
}

/** Ends a thread nobody will boot a core in any more. */
export async function endIdleThread(thread: IdleRemoteThread): Promise<void> {
  await thread.worker.terminate();
}

/**
 * A remote core in a worker thread (openamp/remote/remote-worker.ts), seen from the thread that
 * started it. `stop` asks the loop to end (it checks between rounds and while hung, so it
 * closes its memory and doorbell itself) and terminates the thread if it does not end in time.
 * A thread whose core faulted or was terminated is never used again.
 */
export class RemoteWorkerHandle {
  readonly control: RemoteControl;
  readonly exited: Promise<RemoteWorkerExit>;
  /** Resolves when the thread runs (rejects when it died before). */
  readonly online: Promise<void>;
  private readonly worker: Worker;
  private exit: RemoteWorkerExit | undefined;
  /** The core ended without a fault and its thread waits for the next one (keepThread). */
  private idle = false;
  private readonly detach: () => void;

  constructor(data: Omit<RemoteWorkerData, 'control'>, hooks: RemoteWorkerHooks = {}, options: RemoteWorkerOptions = {}) {
    const controlBuffer = new SharedArrayBuffer(REMOTE_CONTROL_BYTES);
    this.control = new RemoteControl(controlBuffer);
    const full: RemoteWorkerData = { ...data, control: controlBuffer };
    const reused = options.thread?.worker;
    // Resolved next to this module, so it works from any build directory.
    const worker = reused ?? new Worker(new URL('./remote-worker.js', import.meta.url), { workerData: full, stdout: false, stderr: false });
    this.worker = worker;
    this.online = reused
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          worker.once('online', resolve);
          worker.once('exit', (code) => reject(new InfrastructureError(`remote worker exited (code ${code}) before it ran`)));
        });
    this.online.catch(() => {});
    let outcome: RemoteCoreOutcome | undefined;
    let fault: Error | undefined;
    let resolveExited: (exit: RemoteWorkerExit) => void = () => {};
    this.exited = new Promise<RemoteWorkerExit>((resolve) => {
      resolveExited = resolve;
    });
    const finish = (exit: RemoteWorkerExit): void => {
      if (this.exit) return;
      this.exit = exit;
      hooks.onExit?.(exit);
      resolveExited(exit);
    };
    const onMessage = (message: unknown): void => {
      if (!isRemoteWorkerEvent(message)) return;
      if (message.type === 'console') {
        hooks.onConsole?.(message.line);
        return;
      }
      outcome = message.outcome;
      if (options.keepThread) {
        this.idle = true;
        // An idle thread must not keep the process alive.
        worker.unref();
        finish({ kind: 'outcome', outcome });
      } else {
        const command: RemoteWorkerCommand = { type: 'exit' };
        worker.postMessage(command);
      }
    };
    const onError = (error: Error): void => {
      fault ??= error;
    };
    const onExit = (exitCode: number): void => {
      this.idle = false;
      finish(fault ? { kind: 'fault', error: fault } : outcome ? { kind: 'outcome', outcome } : { kind: 'terminated', exitCode });
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.once('exit', onExit);
    this.detach = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    if (reused) {
      worker.ref();
      const command: RemoteWorkerCommand = { type: 'boot', data: full };
      worker.postMessage(command);
    }
  }

  /**
   * The thread, once this core ended without a fault and the handle was made with keepThread;
   * undefined otherwise. The handle lets go of it: boot the next core in it, or endIdleThread.
   */
  takeThread(): IdleRemoteThread | undefined {
    if (!this.idle) return undefined;
    this.idle = false;
    this.detach();
    return { worker: this.worker };
  }

  /** The worker's thread id (for diagnostics). */
  get threadId(): number {
    return this.worker.threadId;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Ends the core: a stop request first, termination after `timeoutMs`. Idempotent. */
  async stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<RemoteWorkerExit> {
    if (this.exit) return this.exit;
    this.control.requestStop();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first !== 'timeout') return first;
    await this.worker.terminate();
    const exit = await this.exited;
    if (!exit) throw new InfrastructureError('remote worker did not exit after terminate');
    return exit;
  }
}
