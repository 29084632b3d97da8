/**
 * `npm run bench`: echo round trips of 496-byte payloads between our host and our TypeScript
 * remote, over every backend that runs on this machine:
 *   - sim, busy-poll: the simulated SoC as the farm runs it (image loaded by remoteproc into a
 *     SharedArrayBuffer, remote in a worker thread, Atomics doorbell); the host busy-polls the
 *     device after each send and the remote spins, which is how the open-amp C demos run
 *   - sim, event: same, but the host waits on its doorbell through the event loop
 *   - file + UNIX socket: the remote over a shared file (pread/pwrite, open-amp's Linux machine
 *     layout) kicking over an AF_UNIX socket, host busy-polling and event-driven
 *   - SAB + polling doorbell, event-driven (the cost of a remote with no interrupt)
 * then h3's doorbell micro-benchmarks. Human-readable lines first, then one JSON object per
 * benchmark on a line of its own.
 *
 * Options: --quick (few rounds, for smoke tests), --rounds-scale <x> (multiply every count).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDoorbellBench, type LatencyStats } from '../../openamp/doorbell/doorbell-bench.js';
import { InfrastructureError } from '../../base/errors.js';
import { DEMO_CHANNEL } from '../../openamp/remote/program.js';
import { startLoopbackMachine, type LoopbackDoorbellKind, type LoopbackMemoryKind } from '../../openamp/remote/loopback-machine.js';
import type { RpmsgDevice } from '../../openamp/rpmsg/api.js';
import { OpenAmpHost } from '../openamp-host/openamp-host.js';
import { writeSimFirmware } from '../sim/sim-firmware.js';
import { SIM_PARAM_DEFAULTS } from '../sim/sim-params.js';
import { SimSoc } from '../sim/sim-soc.js';
import { measureEchoRoundTrips, type EchoRoundTripResult } from '../../openamp/bench/echo-round-trips.js';

export const BENCH_PAYLOAD_BYTES = 496;
/** The goal for the simulated SoC on a 2-core machine. */
export const SIM_GOAL_ROUND_TRIPS_PER_SECOND = 100_000;

export interface EchoBenchRecord extends EchoRoundTripResult {
  benchmark: 'echo-round-trip';
  backend: string;
  mode: 'busy-poll' | 'event';
}

interface EchoCase {
  backend: string;
  mode: 'busy-poll' | 'event';
  rounds: number;
  warmup: number;
  run(rounds: number, warmup: number, mode: 'busy-poll' | 'event'): Promise<EchoRoundTripResult>;
}

/** Polls until the device has seen the remote's announcement of `name` (for hosts that do not listen). */
function pollForChannel(device: RpmsgDevice & { announcedServices: ReadonlyMap<string, number> }, name: string, timeoutMs: number): number {
  const start = performance.now();
  for (;;) {
    device.poll();
    const addr = device.announcedServices.get(name);
    if (addr !== undefined) return addr;
    if (performance.now() - start > timeoutMs) throw new InfrastructureError(`no announcement of ${name} within ${timeoutMs} ms`);
  }
}

async function runSim(rounds: number, warmup: number, mode: 'busy-poll' | 'event'): Promise<EchoRoundTripResult> {
  const dir = await mkdtemp(join(tmpdir(), 'echo-bench-'));
  const soc = new SimSoc({ name: 'bench-sim', remoteSpinMicros: mode === 'busy-poll' ? 2000 : 50 });
  const host = new OpenAmpHost({ ops: soc, doorbell: () => soc.hostDoorbell, name: 'bench-sim', listen: mode === 'event', spinAfterSendUs: mode === 'event' ? SIM_PARAM_DEFAULTS.hostSpinMicros : 0 });
  soc.onCrash = (reason) => host.remoteproc.reportCrash(reason);
  try {
    await host.start(await writeSimFirmware(dir, { program: 'echo' }));
    const device = host.rpmsgDevice!;
    const remoteAddr = mode === 'event' ? (await host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 5000 })).remoteAddr : pollForChannel(device, DEMO_CHANNEL, 5000);
    return await measureEchoRoundTrips({ device, channel: { name: DEMO_CHANNEL, remoteAddr }, payloadBytes: BENCH_PAYLOAD_BYTES, rounds, warmup, mode });
  } finally {
    await host.stop();
    await soc.shutdown();
    await rm(dir, { recursive: true, force: true });
  }
}

function runLoopback(memory: LoopbackMemoryKind, doorbell: LoopbackDoorbellKind) {
  return async (rounds: number, warmup: number, mode: 'busy-poll' | 'event'): Promise<EchoRoundTripResult> => {
    const machine = await startLoopbackMachine({
      program: 'echo',
      memory,
      doorbell,
      listen: mode === 'event',
      remoteSpinMicros: mode === 'busy-poll' ? 2000 : 50,
    });
    try {
      const device = machine.host;
      const remoteAddr = pollOrWait(device, mode);
      return await measureEchoRoundTrips({ device, channel: { name: DEMO_CHANNEL, remoteAddr: await remoteAddr }, payloadBytes: BENCH_PAYLOAD_BYTES, rounds, warmup, mode });
    } finally {
      await machine.close();
    }
  };
}

async function pollOrWait(device: RpmsgDevice & { announcedServices: ReadonlyMap<string, number> }, mode: 'busy-poll' | 'event'): Promise<number> {
  if (mode === 'busy-poll') return pollForChannel(device, DEMO_CHANNEL, 5000);
  const deadline = Date.now() + 5000;
  // The device listens on its doorbell; look at what it learned every few ms.
  while (Date.now() < deadline) {
    const addr = device.announcedServices.get(DEMO_CHANNEL);
    if (addr !== undefined) return addr;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new InfrastructureError(`no announcement of ${DEMO_CHANNEL} within 5000 ms`);
}

export function echoBenchCases(scale: number): EchoCase[] {
  const n = (count: number): number => Math.max(10, Math.round(count * scale));
  return [
    { backend: 'sim (SAB + Atomics doorbell, remoteproc-loaded ELF)', mode: 'busy-poll', rounds: n(200_000), warmup: n(20_000), run: runSim },
    { backend: 'sim (SAB + Atomics doorbell, remoteproc-loaded ELF)', mode: 'event', rounds: n(20_000), warmup: n(2000), run: runSim },
    { backend: 'file memory + UNIX socket doorbell (Linux generic layout)', mode: 'busy-poll', rounds: n(20_000), warmup: n(2000), run: runLoopback('file', 'unix-socket') },
    { backend: 'file memory + UNIX socket doorbell (Linux generic layout)', mode: 'event', rounds: n(5000), warmup: n(500), run: runLoopback('file', 'unix-socket') },
    { backend: 'SAB + polling doorbell (1 ms)', mode: 'event', rounds: n(1000), warmup: n(100), run: runLoopback('sab', 'poll') },
  ];
}

function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function describeEcho(record: EchoBenchRecord): string {
  return (
    `echo ${record.backend}, ${record.mode}: ${formatCount(record.roundTrips)} round trips of ${record.payloadBytes} B in ${record.seconds.toFixed(2)} s: ` +
    `p50 ${record.p50Us.toFixed(1)} µs, p99 ${record.p99Us.toFixed(1)} µs, ${formatCount(record.roundTripsPerSecond)} round trips/s ` +
    `(${formatCount(record.messagesPerSecond)} msgs/s both ways), ${record.megabytesPerSecond.toFixed(1)} MB/s`
  );
}

function describeLatency(name: string, stats: LatencyStats): string {
  return `doorbell ${name}: ${stats.samples} samples, p50 ${(stats.medianNs / 1000).toFixed(2)} µs, p99 ${(stats.p99Ns / 1000).toFixed(2)} µs`;
}

export async function runEchoBench(scale: number, print: (line: string) => void): Promise<EchoBenchRecord[]> {
  const records: EchoBenchRecord[] = [];
  for (const c of echoBenchCases(scale)) {
    const result = await c.run(c.rounds, c.warmup, c.mode);
    const record: EchoBenchRecord = { benchmark: 'echo-round-trip', backend: c.backend, mode: c.mode, ...result };
    records.push(record);
    print(describeEcho(record));
  }
  return records;
}

async function main(argv: readonly string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const scaleAt = argv.indexOf('--rounds-scale');
  const scale = scaleAt >= 0 ? Number(argv[scaleAt + 1]) : quick ? 0.01 : 1;
  if (!(scale > 0)) throw new InfrastructureError(`--rounds-scale needs a positive number`);
  const lines: string[] = [];
  const print = (line: string): void => console.log(line);
  const records = await runEchoBench(scale, print);
  const sim = records.find((r) => r.backend.startsWith('sim') && r.mode === 'busy-poll');
  if (sim) {
    print(
      `goal: ${formatCount(SIM_GOAL_ROUND_TRIPS_PER_SECOND)} round trips/s on the sim: ${sim.roundTripsPerSecond >= SIM_GOAL_ROUND_TRIPS_PER_SECOND ? 'met' : 'NOT met'} (${formatCount(sim.roundTripsPerSecond)})`,
    );
  }
  const doorbells = await runDoorbellBench({ rounds: Math.max(100, Math.round(2000 * scale)), warmup: Math.max(20, Math.round(200 * scale)) });
  print(describeLatency('Atomics round trip (worker)', doorbells.atomicsRoundTrip));
  print(describeLatency('UNIX socket round trip (child process)', doorbells.unixSocketRoundTrip));
  print(describeLatency('FileMemory u32 store + load', doorbells.fileMemoryStoreLoad));
  for (const record of records) lines.push(JSON.stringify(record));
  lines.push(JSON.stringify({ benchmark: 'doorbell-atomics-round-trip', ...doorbells.atomicsRoundTrip }));
  lines.push(JSON.stringify({ benchmark: 'doorbell-unix-socket-round-trip', ...doorbells.unixSocketRoundTrip }));
  lines.push(JSON.stringify({ benchmark: 'file-memory-u32-store-load', ...doorbells.fileMemoryStoreLoad }));
  for (const line of lines) console.log(line);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  });
}
