/**
 * `npm run bench:c-host`: the TypeScript host next to a C host on the transport open-amp ships
 * (its Linux generic machine: POSIX shm + a kick byte on a UNIX socket), against the same remote,
 * the project's reference echo firmware built for linux-process. In one invocation, interleaved
 * over several rounds:
 *   - C:  a fresh remote process and firmware/tools/ping-host.c (open-amp's host role, busy-polling
 *         the rings like open-amp's rpmsg-ping host);
 *   - TS: a fresh `linux-process` target of the farm (kind from the registry, Target.setup,
 *         Host.start with the echo firmware), echo through the farm's own host and doorbell.
 * Both send 496-byte payloads and check every echo. Each prints p50, p99, round trips/s, CPU
 * seconds per 1,000 round trips and its CPU use while idle (connected, nothing to do). The last
 * line is one JSON object: {"benchmark":"host-side-by-side","p50Ratio":TS/C,"rateRatio":TS/C,...}
 * with the medians over the rounds. An unmeasured round of each host comes first (V8 compiles the
 * TS host's hot path during its first few thousand round trips).
 *
 * Options: --rounds N (interleaved rounds, default 5), --round-trips N (per host and round,
 * default 5000), --quick (2 rounds of 500).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { InfrastructureError } from '../../base/errors.js';
import { ensureFirmwareBuilt, firmwarePath } from '../../firmware/build.js';
import { ensureHostTool } from '../../firmware/tools.js';
import { measureEchoRoundTrips } from '../../openamp/bench/echo-round-trips.js';
import { DEMO_CHANNEL } from '../../openamp/remote/program.js';
import { OpenAmpHost } from '../openamp-host/openamp-host.js';
import { loadKindRegistry } from '../registry.js';
import type { TargetLog } from '../target.js';

export const PAYLOAD_BYTES = 496;
const IDLE_MS = 1000;
const REMOTE_START_TIMEOUT_MS = 30_000;

export interface HostFigures {
  host: 'c' | 'ts';
  roundTrips: number;
  p50Us: number;
  p99Us: number;
  roundTripsPerSecond: number;
  cpuSecondsPer1000: number;
  idleCpuPercent: number;
}

function isHostFigures(value: unknown): value is HostFigures {
  if (!value || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  return ['p50Us', 'p99Us', 'roundTripsPerSecond', 'cpuSecondsPer1000', 'idleCpuPercent'].every((key) => typeof record[key] === 'number');
}

/** One C round: a fresh remote on its own shm and socket, the C host against it. */
async function runC(pingHost: string, remote: string, roundTrips: number, warmup: number): Promise<HostFigures> {
  const id = `farm-c-host-${process.pid}-${randomBytes(4).toString('hex')}`;
  const shm = `${id}.shm`;
  const socket = join(tmpdir(), `${id}.sock`);
  const child = execa(remote, ['--shm', shm, '--socket', socket], { stdin: 'ignore', reject: false, all: true });
  try {
    // The remote creates the shm, then binds the socket: the C host opens the shm at once and
    // fails when it is not there yet (a remote slow to start on a loaded machine).
    for (const deadline = Date.now() + REMOTE_START_TIMEOUT_MS; !existsSync(socket); ) {
      if (child.exitCode !== null) throw new InfrastructureError(`the remote ${remote} exited (${child.exitCode}) before it listened on ${socket}`);
      if (Date.now() > deadline) throw new InfrastructureError(`the remote ${remote} did not listen on ${socket} within ${REMOTE_START_TIMEOUT_MS / 1000} s`);
      await sleep(5);
    }
    const result = await execa(
      pingHost,
      ['--shm', shm, '--socket', socket, '--rounds', String(roundTrips), '--warmup', String(warmup), '--size', String(PAYLOAD_BYTES), '--idle-ms', String(IDLE_MS)],
      { stdin: 'ignore', reject: false, timeout: 120_000 },
    );
    if (result.exitCode !== 0) throw new InfrastructureError(`C ping host failed (exit ${result.exitCode}): ${String(result.stderr).trim()}`);
    const parsed: unknown = JSON.parse(String(result.stdout).trim().split('\n').pop() ?? '');
    if (!isHostFigures(parsed)) throw new InfrastructureError(`C ping host printed no figures: ${String(result.stdout)}`);
    return { ...parsed, host: 'c' };
  } finally {
    child.kill('SIGKILL');
    await child;
    await rm(`/dev/shm/${shm}`, { force: true });
    await rm(socket, { force: true });
  }
}

const quietLog: TargetLog = { info: () => {}, console: () => {} };

/** One TS round: a fresh linux-process target of the farm, echo through its host. */
async function runTs(roundTrips: number, warmup: number): Promise<HostFigures> {
  const definition = (await loadKindRegistry()).get('linux-process');
  if (!definition) throw new InfrastructureError('the linux-process kind is not registered');
  const workDir = await mkdtemp(join(tmpdir(), 'farm-c-host-bench-'));
  const target = definition.create('bench-linux-process', definition.parseParams(undefined, 'params'), { configDir: process.cwd(), firmware: {}, workDir });
  try {
    await target.setup(quietLog);
    const host = target.host;
    if (!(host instanceof OpenAmpHost)) throw new InfrastructureError('linux-process: the benchmark needs a target driven by OpenAmpHost');
    await host.start(await target.firmwareFor('echo'));
    const channel = await host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 10_000 });
    const device = host.rpmsgDevice;
    if (!device) throw new InfrastructureError('linux-process: no RPMsg device after start');

    // Idle: connected, the remote announced, nothing to do. The event loop only waits.
    const idleStart = process.cpuUsage();
    const idleWall = performance.now();
    await sleep(IDLE_MS);
    const idle = process.cpuUsage(idleStart);
    const idleCpuPercent = (100 * (idle.user + idle.system)) / 1000 / (performance.now() - idleWall);

    const cpuStart = process.cpuUsage();
    const result = await measureEchoRoundTrips({ device, channel: { name: DEMO_CHANNEL, remoteAddr: channel.remoteAddr }, payloadBytes: PAYLOAD_BYTES, rounds: roundTrips, warmup, mode: 'event' });
    // The warm-up round trips are inside this CPU time, so they are counted too.
    const cpu = process.cpuUsage(cpuStart);
    await host.stop();
    return {
      host: 'ts',
      roundTrips,
      p50Us: result.p50Us,
      p99Us: result.p99Us,
      roundTripsPerSecond: result.roundTripsPerSecond,
      cpuSecondsPer1000: (cpu.user + cpu.system) / 1e6 / ((roundTrips + warmup) / 1000),
      idleCpuPercent,
    };
  } finally {
    await target.teardown();
    await rm(workDir, { recursive: true, force: true });
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

type Medians = Omit<HostFigures, 'host' | 'roundTrips'>;

function medians(figures: readonly HostFigures[]): Medians {
  return {
    p50Us: median(figures.map((f) => f.p50Us)),
    p99Us: median(figures.map((f) => f.p99Us)),
    roundTripsPerSecond: median(figures.map((f) => f.roundTripsPerSecond)),
    cpuSecondsPer1000: median(figures.map((f) => f.cpuSecondsPer1000)),
    idleCpuPercent: median(figures.map((f) => f.idleCpuPercent)),
  };
}

function describe(figures: HostFigures | (Medians & { host: string })): string {
  return (
    `${figures.host.toUpperCase().padEnd(2)} host: p50 ${figures.p50Us.toFixed(1)} µs, p99 ${figures.p99Us.toFixed(1)} µs, ` +
    `${Math.round(figures.roundTripsPerSecond).toLocaleString('en-US')} round trips/s, ${figures.cpuSecondsPer1000.toFixed(3)} CPU s per 1,000, idle ${figures.idleCpuPercent.toFixed(1)}% of a core`
  );
}

export interface SideBySideOptions {
  rounds: number;
  roundTrips: number;
  print: (line: string) => void;
}

export interface SideBySideRecord {
  benchmark: 'host-side-by-side';
  p50Ratio: number;
  p99Ratio: number;
  rateRatio: number;
  rounds: number;
  roundTripsPerRound: number;
  payloadBytes: number;
  c: Medians;
  ts: Medians;
}

export async function runSideBySide(options: SideBySideOptions): Promise<SideBySideRecord> {
  const [pingHost] = await Promise.all([ensureHostTool('ping-host'), ensureFirmwareBuilt('linux-process', { programs: ['echo'] })]);
  const remote = firmwarePath('linux-process', 'echo');
  const warmup = Math.max(50, Math.round(options.roundTrips / 10));
  const c: HostFigures[] = [];
  const ts: HostFigures[] = [];
  // One unmeasured round of each first: the TS host's code is compiled by V8 as it runs, on the
  // other core (where the remote wants to run) and over the first few thousand round trips, so
  // without it the first measured TS rounds timed the compiler (CPU per round trip 2x).
  for (const who of ['c', 'ts'] as const) {
    const roundTrips = 4 * options.roundTrips;
    const figures = who === 'c' ? await runC(pingHost, remote, roundTrips, warmup) : await runTs(roundTrips, warmup);
    options.print(`warm-up round, not counted: ${describe(figures)}`);
  }
  for (let round = 1; round <= options.rounds; round++) {
    // Alternate who goes first, so neither always runs on a machine the other just warmed.
    const order = round % 2 === 1 ? (['c', 'ts'] as const) : (['ts', 'c'] as const);
    for (const who of order) {
      const figures = who === 'c' ? await runC(pingHost, remote, options.roundTrips, warmup) : await runTs(options.roundTrips, warmup);
      (who === 'c' ? c : ts).push(figures);
      options.print(`round ${round}/${options.rounds}: ${describe(figures)}`);
    }
  }
  const cm = medians(c);
  const tm = medians(ts);
  options.print(`medians: ${describe({ host: 'c', ...cm })}`);
  options.print(`medians: ${describe({ host: 'ts', ...tm })}`);
  return {
    benchmark: 'host-side-by-side',
    p50Ratio: tm.p50Us / cm.p50Us,
    p99Ratio: tm.p99Us / cm.p99Us,
    rateRatio: tm.roundTripsPerSecond / cm.roundTripsPerSecond,
    rounds: options.rounds,
    roundTripsPerRound: options.roundTrips,
    payloadBytes: PAYLOAD_BYTES,
    c: cm,
    ts: tm,
  };
}

function numberOption(argv: readonly string[], name: string, fallback: number): number {
  const at = argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(argv[at + 1]);
  if (!Number.isSafeInteger(value) || value < 1) throw new InfrastructureError(`${name} needs a positive integer, got ${String(argv[at + 1])}`);
  return value;
}

async function main(argv: readonly string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const record = await runSideBySide({
    rounds: numberOption(argv, '--rounds', quick ? 2 : 5),
    roundTrips: numberOption(argv, '--round-trips', quick ? 500 : 5000),
    print: (line) => console.log(line),
  });
  console.log(JSON.stringify(record));
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  });
}
