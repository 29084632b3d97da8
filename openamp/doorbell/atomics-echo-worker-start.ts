import { Worker } from 'node:worker_threads';
import { InfrastructureError } from '../../base/errors.js';

export interface AtomicsEchoWorkerData {
  buffer: SharedArrayBuffer;
  rounds: number;
  /** 'waitSync': block in waitSync between rings; 'listen': answer from the event loop. */
  mode: 'waitSync' | 'listen';
  spinMicros?: number;
  /** Give up when the host stays silent this long. */
  timeoutMs: number;
}

export type AtomicsEchoWorkerResult = { ok: true; answered: number } | { ok: false; answered: number; error: string };

/** First message: the worker is attached and about to wait. Block the host only after it. */
export const ATOMICS_ECHO_READY = 'ready';

export interface AtomicsEchoWorker {
  worker: Worker;
  /** The worker's report once it has answered every round or given up. */
  result: Promise<AtomicsEchoWorkerResult>;
  /** Resolves with the exit code. */
  exit: Promise<number>;
}

/** Starts the echo worker and resolves once it is attached and waiting for rings. */
export async function startAtomicsEchoWorker(data: AtomicsEchoWorkerData): Promise<AtomicsEchoWorker> {
  // A worker inherits execArgv; `--input-type` (from `node -e` callers) would stop it loading a file.
  const execArgv = process.execArgv.filter((arg) => !arg.startsWith('--input-type'));
  const worker = new Worker(new URL('./atomics-echo-worker.js', import.meta.url), { workerData: data, execArgv });
  const exit = new Promise<number>((resolve) => worker.once('exit', resolve));
  let ready!: () => void;
  const started = new Promise<void>((resolve) => (ready = resolve));
  const result = new Promise<AtomicsEchoWorkerResult>((resolve, reject) => {
    worker.on('message', (message: typeof ATOMICS_ECHO_READY | AtomicsEchoWorkerResult) => {
      if (message === ATOMICS_ECHO_READY) ready();
      else resolve(message);
    });
    worker.once('error', reject);
    void exit.then((code) => reject(new InfrastructureError(`Atomics echo worker exited (code ${code}) before reporting`)));
  });
  // Don't leave an unhandled rejection if the caller never awaits the result.
  result.catch(() => {});
  await Promise.race([started, result.then(() => undefined)]);
  return { worker, result, exit };
}
