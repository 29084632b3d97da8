/**
 * `npm run bench:targets`: boots each emulated target kind that can run here the way the farm
 * does (kind definition from the registry, Target.setup, OpenAmpHost.start with the reference
 * echo firmware) and measures
 *   - spawn -> first NS announcement: from spawning QEMU (QemuInstance.spawnedAt; setup, image
 *     load and resume are inside) or, for linux-process, from Host.start (which spawns the
 *     remote process) to the announcement arriving at the host;
 *   - echo round trips of 496-byte payloads through the farm host (the target's own doorbell,
 *     event-driven, every echo checked): p50/p99, msgs/s, MB/s.
 * QEMU kinds run five times: with their defaults (the firmware's kick byte on the UART, read
 * from a pty through serialport), with the kick read from a socket chardev instead (uart
 * 'socket'), with the kick plus a polling burst after each send, with adaptive shared-memory
 * polling and with timer polling only (pollBurstMs 0), so the difference is measured, not assumed.
 * Human-readable lines first, then one JSON object per line.
 *
 * Options: --quick (fewer boots and round trips), --kinds a,b (only these kinds), --container
 * IMAGE (QEMU kinds run QEMU in a container of IMAGE, a recipe such as `qemu` or a local image;
 * the UART is then a socket, so the uart 'socket' variant is left out).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { InfrastructureError } from '../../base/errors.js';
import { DEMO_CHANNEL } from '../../openamp/remote/program.js';
import { measureEchoRoundTrips, type EchoRoundTripResult } from '../../openamp/bench/echo-round-trips.js';
import { OpenAmpHost } from '../openamp-host/openamp-host.js';
import { QemuTarget } from '../qemu/qemu-target.js';
import { loadKindRegistry } from '../registry.js';
import type { TargetKindDefinition } from '../kind.js';
import type { Target, TargetLog } from '../target.js';

export const TARGET_BENCH_KINDS = ['qemu-riscv64-virt', 'qemu-cortex-m4', 'qemu-versal-r5', 'qemu-zynqmp-r5', 'linux-process'] as const;
export const TARGET_BENCH_PAYLOAD_BYTES = 496;
/** The goal: the first announcement within this long of spawning QEMU. */
export const ANNOUNCE_GOAL_MS = 1000;
/**
 * QEMU kinds are measured again with what the defaults (the UART kick on a pty through
 * serialport, notify sends nothing) are chosen over: the kick on a socket chardev, the kick plus
 * a 0.2 ms polling burst after each send, adaptive shared-memory polling, and timer polling only
 * (fewer round trips: ~1 ms each).
 */
const QEMU_DOORBELL_VARIANTS = [
  { uart: 'socket' },
  { doorbell: 'uart', uartBurstMs: 0.2 },
  { doorbell: 'poll', pollBurstMs: 0.2 },
  { doorbell: 'poll', pollBurstMs: 0 },
] as const;

export interface BootRecord {
  benchmark: 'target-boot';
  kind: string;
  /** The image QEMU ran in, when it ran in a container. */
  container?: string;
  /** What the time is measured from: "QEMU spawn" or "Host.start (spawns the process)". */
  from: string;
  boots: number;
  /** Per boot, ms, in order (the first may include cold caches). */
  toAnnouncementMs: number[];
  medianMs: number;
  maxMs: number;
}

export interface TargetEchoRecord extends EchoRoundTripResult {
  benchmark: 'target-echo-round-trip';
  kind: string;
  container?: string;
  doorbell: string;
}

interface Booted {
  target: Target;
  host: OpenAmpHost;
  toAnnouncementMs: number;
  from: string;
  close(): Promise<void>;
}

const quietLog: TargetLog = { info: () => {}, console: () => {} };

async function boot(definition: TargetKindDefinition, params: unknown): Promise<Booted> {
  const workDir = await mkdtemp(join(tmpdir(), 'farm-target-bench-'));
  const target = definition.create(`bench-${definition.kind}`, definition.parseParams(params, 'params'), { configDir: process.cwd(), firmware: {}, workDir });
  const close = async (): Promise<void> => {
    try {
      await target.teardown();
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  };
  try {
    // Firmware built before anything is timed (make would otherwise sit inside the figure).
    await target.setup(quietLog);
    const firmware = await target.firmwareFor('echo');
    const host = target.host;
    if (!(host instanceof OpenAmpHost)) throw new InfrastructureError(`${definition.kind}: the benchmark needs a target driven by OpenAmpHost`);
    let announcedAt: number | undefined;
    const stop = host.onNameService((event) => {
      if (event.name === DEMO_CHANNEL) announcedAt ??= performance.now();
    });
    const startedAt = performance.now();
    await host.start(firmware);
    await host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 10_000 });
    stop();
    const spawnedAt = target instanceof QemuTarget ? target.instance?.spawnedAt : undefined;
    const from = spawnedAt === undefined ? 'Host.start (spawns the process)' : 'QEMU spawn';
    return { target, host, toAnnouncementMs: (announcedAt ?? performance.now()) - (spawnedAt ?? startedAt), from, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export interface TargetBenchOptions {
  kinds: readonly string[];
  /** QEMU kinds: run QEMU in a container of this image (params.container). */
  container?: string;
  boots: number;
  rounds: number;
  warmup: number;
  print: (line: string) => void;
}

export async function runTargetBench(options: TargetBenchOptions): Promise<(BootRecord | TargetEchoRecord)[]> {
  const registry = await loadKindRegistry();
  const records: (BootRecord | TargetEchoRecord)[] = [];
  for (const kind of options.kinds) {
    const definition = registry.get(kind);
    if (!definition) {
      options.print(`${kind}: not registered, skipped`);
      continue;
    }
    // Only QEMU kinds take a container; the others run as always.
    const base: Record<string, unknown> | undefined = options.container && kind.startsWith('qemu-') ? { container: options.container } : undefined;
    const withBase = (params: object | undefined): unknown => (base || params ? { ...params, ...base } : undefined);
    const tag = base ? { container: options.container } : {};
    const label = base ? `${kind} (in a container of ${options.container})` : kind;
    const missing = (await definition.prerequisites(definition.parseParams(base, 'params'), { configDir: process.cwd() })).filter((p) => !p.ok);
    if (missing.length > 0) {
      options.print(`${kind}: cannot run here (${missing.map((p) => p.detail).join('; ')}), skipped`);
      continue;
    }
    const times: number[] = [];
    let from = '';
    for (let i = 0; i < options.boots; i++) {
      const booted = await boot(definition, base);
      try {
        times.push(booted.toAnnouncementMs);
        from = booted.from;
        if (i === options.boots - 1) {
          const variants: { params: unknown; rounds: number }[] = [{ params: undefined, rounds: options.rounds }];
          if (booted.target instanceof QemuTarget) {
            const applicable = QEMU_DOORBELL_VARIANTS.filter((params) => !(base && 'uart' in params));
            variants.push(...applicable.map((params) => ({ params, rounds: 'pollBurstMs' in params && params.pollBurstMs === 0 ? Math.max(20, Math.round(options.rounds / 10)) : options.rounds })));
          }
          for (const [index, variant] of variants.entries()) {
            const subject = index === 0 ? booted : await boot(definition, withBase(variant.params as object | undefined));
            try {
              const result = await echo(subject.host, variant.rounds, Math.max(10, Math.round(options.warmup * (variant.rounds / options.rounds))));
              const record: TargetEchoRecord = { benchmark: 'target-echo-round-trip', kind, ...tag, doorbell: describeDoorbell(subject.target), ...result };
              records.push(record);
              options.print(describeEcho(record));
            } finally {
              if (index !== 0) await subject.close();
            }
          }
        }
      } finally {
        await booted.close();
      }
    }
    const record: BootRecord = { benchmark: 'target-boot', kind, ...tag, from, boots: times.length, toAnnouncementMs: times, medianMs: median(times), maxMs: Math.max(...times) };
    records.push(record);
    options.print(
      `${label}: ${from} -> first NS announcement: ${times.map((t) => t.toFixed(0)).join(', ')} ms (median ${record.medianMs.toFixed(0)} ms)` +
        (from === 'QEMU spawn' ? `; goal ${ANNOUNCE_GOAL_MS} ms: ${record.maxMs <= ANNOUNCE_GOAL_MS ? 'met' : 'NOT met'}` : ''),
    );
  }
  return records;
}

function describeDoorbell(target: Target): string {
  const properties = target.properties();
  const uart = target instanceof QemuTarget ? `UART ${target.params.uart}, ` : '';
  return uart + (properties['qemu.doorbell'] ?? properties['linux-process.doorbell'] ?? 'the kind default');
}

async function echo(host: OpenAmpHost, rounds: number, warmup: number): Promise<EchoRoundTripResult> {
  const device = host.rpmsgDevice;
  if (!device) throw new InfrastructureError(`${host.name}: no RPMsg device after start`);
  const channel = await host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 5000 });
  return measureEchoRoundTrips({ device, channel: { name: DEMO_CHANNEL, remoteAddr: channel.remoteAddr }, payloadBytes: TARGET_BENCH_PAYLOAD_BYTES, rounds, warmup, mode: 'event' });
}

function count(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function describeEcho(record: TargetEchoRecord): string {
  return (
    `${record.kind}${record.container ? ` (in a container of ${record.container})` : ''} echo through the farm host, ${record.doorbell}: ${count(record.roundTrips)} round trips of ${record.payloadBytes} B in ${record.seconds.toFixed(2)} s: ` +
    `p50 ${record.p50Us.toFixed(1)} µs, p99 ${record.p99Us.toFixed(1)} µs, ${count(record.messagesPerSecond)} msgs/s both ways, ${record.megabytesPerSecond.toFixed(2)} MB/s`
  );
}

async function main(argv: readonly string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const kindsAt = argv.indexOf('--kinds');
  const kinds = kindsAt >= 0 ? (argv[kindsAt + 1] ?? '').split(',').filter(Boolean) : [...TARGET_BENCH_KINDS];
  const containerAt = argv.indexOf('--container');
  const container = containerAt >= 0 ? argv[containerAt + 1] : undefined;
  const records = await runTargetBench({
    kinds,
    container,
    boots: quick ? 1 : 3,
    rounds: quick ? 200 : 2000,
    warmup: quick ? 20 : 200,
    print: (line) => console.log(line),
  });
  for (const record of records) console.log(JSON.stringify(record));
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  });
}
