import { Worker } from 'node:worker_threads';
import { InfrastructureError } from '../../base/errors.js';
import { RemoteControl, REMOTE_CONTROL_BYTES } from './remote-control.js';
import type { RemoteCoreOutcome } from './remote-core.js';
import { isRemoteWorkerEvent, REMOTE_WORKER_STANDBY, type RemoteWorkerData } from './remote-worker-data.js';

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
const REMOTE_WORKER_URL = new URL('./remote-worker.js', import.meta.url);

/**
 * A remote worker thread started ahead of its core: Node's thread start-up and the remote
 * stack's imports (tens of milliseconds, most of a sim test's remote start) are paid while
 * nothing waits for them, and the thread then waits, doing nothing, for the data of the core it
 * is to run (RemoteWorkerHandle posts it). Each standby thread runs one core at most, so every
 * start still gets a thread of its own, as before. It does not keep the process alive.
 */
export class StandbyRemoteWorker {
  private worker: Worker | undefined;

  constructor() {
    const worker = new Worker(REMOTE_WORKER_URL, { workerData: REMOTE_WORKER_STANDBY, stdout: false, stderr: false });
    worker.unref();
    // A thread that died while waiting (it should not) is not handed out; start() makes a new one.
    worker.once('exit', () => {
      if (this.worker === worker) this.worker = undefined;
    });
    worker.on('error', () => {});
    this.worker = worker;
  }

  /** The waiting thread's id (diagnostics, tests); undefined when it is gone or was taken. */
  get threadId(): number | undefined {
    return this.worker?.threadId;
  }

  /** The waiting thread, once (undefined when it is gone or was taken). */
  take(): Worker | undefined {
    const worker = this.worker;
    this.worker = undefined;
    worker?.removeAllListeners();
    return worker;
  }

  /** Ends the thread unless it was taken. */
  async close(): Promise<void> {
    const worker = this.take();
    if (worker) await worker.terminate();
  }
}

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

  /**
   * Starts the core: in `standby`'s thread when one is given and still alive (its start-up
   * already paid), else in a new thread.
   */
  constructor(data: Omit<RemoteWorkerData, 'control'>, hooks: RemoteWorkerHooks = {}, standby?: StandbyRemoteWorker) {
    const controlBuffer = new SharedArrayBuffer(REMOTE_CONTROL_BYTES);
    this.control = new RemoteControl(controlBuffer);
    const full: RemoteWorkerData = { ...data, control: controlBuffer };
    const ready = standby?.take();
    if (ready) {
      this.worker = ready;
      // A running core keeps the process alive, as a thread started for it would.
      this.worker.ref();
      this.worker.postMessage(full);
      this.online = Promise.resolve();
    } else {
      // Resolved next to this module, so it works from any build directory.
      this.worker = new Worker(REMOTE_WORKER_URL, { workerData: full, stdout: false, stderr: false });
      this.online = new Promise<void>((resolve, reject) => {
        this.worker.once('online', resolve);
        this.worker.once('exit', (code) => reject(new InfrastructureError(`remote worker exited (code ${code}) before it ran`)));
      });
      this.online.catch(() => {});
    }
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
