/**
 * Micro-benchmarks of the transport floor under the RPMsg stack: how long one doorbell round
 * trip and one shared-memory word access cost. Compare with the anchors quoted in BENCHMARKS.md (cache-line
 * round trip ~250 ns; open-amp's Linux machine echo round trip 48 µs; Node pread/pwrite round
 * trip through a QEMU RAM file 2.35 µs).
 *
 *   node openamp/doorbell/doorbell-bench.js [rounds]    prints the figures as JSON
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InfrastructureError, TimeoutError } from '../../base/errors.js';
import { FileMemory } from '../memory/file-memory.js';
import { AtomicsDoorbell } from './atomics-doorbell.js';
import { startAtomicsEchoWorker, type AtomicsEchoWorkerData } from './atomics-echo-worker-start.js';
import { UnixSocketDoorbellListener } from './unix-socket-doorbell.js';

export interface LatencyStats {
  samples: number;
  minNs: number;
  medianNs: number;
  p90Ns: number;
  p99Ns: number;
  meanNs: number;
}

export interface DoorbellBenchResult {
  /** Main thread <-> worker thread, both sides in waitSync (spin, then Atomics.wait). */
  atomicsRoundTrip: LatencyStats;
  /** This process <-> a child process over one AF_UNIX stream socket, both sides event-driven. */
  unixSocketRoundTrip: LatencyStats;
  /** One FileMemory storeU32 followed by one loadU32 (a pwrite and a pread). */
  fileMemoryStoreLoad: LatencyStats;
}

export interface DoorbellBenchOptions {
  /** Measured round trips per doorbell. Default 2000. */
  rounds?: number;
  /** Unmeasured round trips first (JIT, caches, scheduler). Default 200. */
  warmup?: number;
  /** Spin budget of both Atomics ends. Default 50 µs. */
  spinMicros?: number;
  /** Measured FileMemory store+load pairs (sampled in batches). Default 20000. */
  fileMemoryIterations?: number;
  /** Where the FileMemory file goes. Default /dev/shm when it exists, else the temp dir. */
  scratchDir?: string;
}

const ROUND_TIMEOUT_MS = 5000;

export async function runDoorbellBench(options: DoorbellBenchOptions = {}): Promise<DoorbellBenchResult> {
  const atomicsRoundTrip = await benchAtomicsRoundTrip(options);
  const unixSocketRoundTrip = await benchUnixSocketRoundTrip(options);
  const fileMemoryStoreLoad = benchFileMemoryStoreLoad(options);
  return { atomicsRoundTrip, unixSocketRoundTrip, fileMemoryStoreLoad };
}

export async function benchAtomicsRoundTrip(options: DoorbellBenchOptions = {}): Promise<LatencyStats> {
  const rounds = options.rounds ?? 2000;
  const warmup = options.warmup ?? 200;
  const spinMicros = options.spinMicros ?? 50;
  const { buffer, host } = AtomicsDoorbell.createPair({ spinMicros });
  const data: AtomicsEchoWorkerData = { buffer, rounds: warmup + rounds, mode: 'waitSync', spinMicros, timeoutMs: ROUND_TIMEOUT_MS };
  const { worker, result } = await startAtomicsEchoWorker(data);
  const samples: number[] = [];
  try {
    for (let i = 0; i < warmup + rounds; i++) {
      const start = process.hrtime.bigint();
      host.notify(i);
      if (!host.waitSync(ROUND_TIMEOUT_MS)) throw new TimeoutError(`Atomics bench: the worker did not answer ring ${i}`);
      if (i >= warmup) samples.push(Number(process.hrtime.bigint() - start));
    }
    const outcome = await result;
    if (!outcome.ok) throw new InfrastructureError(`Atomics bench worker failed: ${outcome.error}`);
  } finally {
    host.close();
    await worker.terminate();
  }
  return latencyStats(samples);
}

export async function benchUnixSocketRoundTrip(options: DoorbellBenchOptions = {}): Promise<LatencyStats> {
  const rounds = options.rounds ?? 2000;
  const warmup = options.warmup ?? 200;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorbell-bench-'));
  const socketPath = path.join(dir, 'event.0');
  const listener = await UnixSocketDoorbellListener.bind(socketPath);
  const peerScript = fileURLToPath(new URL('./unix-socket-echo-peer.js', import.meta.url));
  const peer = spawn(process.execPath, [peerScript, 'connect', socketPath, String(warmup + rounds), '60000'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const samples: number[] = [];
  try {
    const doorbell = await listener.accept(10_000);
    try {
      await new Promise<void>((resolve, reject) => {
        let i = 0;
        let start = 0n;
        const timer = setTimeout(() => finish(new TimeoutError(`UNIX socket bench: no answer within ${ROUND_TIMEOUT_MS} ms`)), ROUND_TIMEOUT_MS);
        const finish = (error?: Error): void => {
          clearTimeout(timer);
          stop();
          if (error) reject(error);
          else resolve();
        };
        const kick = (): void => {
          start = process.hrtime.bigint();
          doorbell.notify(0);
        };
        const stop = doorbell.listen(() => {
          if (i >= warmup) samples.push(Number(process.hrtime.bigint() - start));
          i++;
          timer.refresh();
          if (i === warmup + rounds) finish();
          else kick();
        });
        kick();
      });
    } finally {
      doorbell.close();
    }
  } finally {
    listener.close();
    if (peer.exitCode === null && peer.signalCode === null) {
      const exited = new Promise((resolve) => peer.once('exit', resolve));
      const killer = setTimeout(() => peer.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(killer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return latencyStats(samples);
}

export function benchFileMemoryStoreLoad(options: DoorbellBenchOptions = {}): LatencyStats {
  const iterations = options.fileMemoryIterations ?? 20_000;
  const dir = options.scratchDir ?? (fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());
  const file = path.join(dir, `doorbell-bench-${process.pid}-${Date.now()}.shm`);
  const memory = FileMemory.create(file, 0x10000, { unlinkOnClose: true });
  // A single pair is too short for the clock; time batches and report per pair.
  const batch = 100;
  const samples: number[] = [];
  try {
    for (let b = 0; b < Math.max(1, Math.floor(iterations / batch)) + 10; b++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < batch; i++) {
        memory.storeU32(0x100, i);
        if (memory.loadU32(0x100) !== i) throw new InfrastructureError('FileMemory bench read back a different value');
      }
      if (b >= 10) samples.push(Number(process.hrtime.bigint() - start) / batch);
    }
  } finally {
    memory.close();
  }
  return latencyStats(samples);
}

export function latencyStats(samplesNs: readonly number[]): LatencyStats {
  if (samplesNs.length === 0) throw new InfrastructureError('no samples to summarise');
  const sorted = [...samplesNs].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const sum = sorted.reduce((total, x) => total + x, 0);
  return {
    samples: sorted.length,
    minNs: Math.round(sorted[0]!),
    medianNs: Math.round(at(0.5)),
    p90Ns: Math.round(at(0.9)),
    p99Ns: Math.round(at(0.99)),
    meanNs: Math.round(sum / sorted.length),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const rounds = process.argv[2] ? Number(process.argv[2]) : undefined;
  console.log(JSON.stringify(await runDoorbellBench({ rounds }), null, 2));
}
