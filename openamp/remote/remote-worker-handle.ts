import { Worker } from 'node:worker_threads';
import { InfrastructureError } from '../../base/errors.js';
import { RemoteControl, REMOTE_CONTROL_BYTES } from './remote-control.js';
import type { RemoteCoreOutcome } from './remote-core.js';
import { isRemoteWorkerEvent, type RemoteWorkerData } from './remote-worker-data.js';

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
 * A remote core in a worker thread (openamp/remote/remote-worker.ts), seen from the thread that
 * started it. `stop` asks the loop to end (it checks between rounds and while hung, so it
 * closes its memory and doorbell itself) and terminates the thread if it does not end in time.
 */
export class RemoteWorkerHandle {
  readonly control: RemoteControl;
  readonly exited: Promise<RemoteWorkerExit>;
  /** Resolves when the thread runs (rejects when it died before). */
  readonly online: Promise<void>;
  private readonly worker: Worker;
  private exit: RemoteWorkerExit | undefined;

  constructor(data: Omit<RemoteWorkerData, 'control'>, hooks: RemoteWorkerHooks = {}) {
    const controlBuffer = new SharedArrayBuffer(REMOTE_CONTROL_BYTES);
    this.control = new RemoteControl(controlBuffer);
    const full: RemoteWorkerData = { ...data, control: controlBuffer };
    // Resolved next to this module, so it works from any build directory.
    this.worker = new Worker(new URL('./remote-worker.js', import.meta.url), { workerData: full, stdout: false, stderr: false });
    this.online = new Promise<void>((resolve, reject) => {
      this.worker.once('online', resolve);
      this.worker.once('exit', (code) => reject(new InfrastructureError(`remote worker exited (code ${code}) before it ran`)));
    });
    this.online.catch(() => {});
    let outcome: RemoteCoreOutcome | undefined;
    let fault: Error | undefined;
    this.worker.on('message', (message: unknown) => {
      if (!isRemoteWorkerEvent(message)) return;
      if (message.type === 'console') hooks.onConsole?.(message.line);
      else outcome = message.outcome;
    });
    this.worker.on('error', (error) => {
      fault ??= error;
    });
    this.exited = new Promise<RemoteWorkerExit>((resolve) => {
      this.worker.once('exit', (exitCode) => {
        const exit: RemoteWorkerExit = fault
          ? { kind: 'fault', error: fault }
          : outcome
            ? { kind: 'outcome', outcome }
            : { kind: 'terminated', exitCode };
        this.exit = exit;
        hooks.onExit?.(exit);
        resolve(exit);
      });
    });
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
