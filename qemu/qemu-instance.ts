import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { InfrastructureError } from '../base/errors.js';
import { FileMemory } from '../openamp/memory/file-memory.js';
import { AddressSpace } from '../openamp/memory/shared-memory.js';
import { ManagedProcess, describeExit, type ProcessExit } from '../base/process/managed-process.js';
import { onProcessExit } from '../base/process/exit-cleanup.js';
import { SerialConsole } from '../base/serial/serial-console.js';
import type { QemuMachineProfile } from './machines.js';
import { QmpClient, QmpError, type QmpEvent } from './qmp.js';
import { runFileStem, sweepStaleRunFiles } from '../base/process/run-files.js';

/**
 * How the host reads the guest's UART. 'pty': a pseudo-terminal opened with serialport, the code
 * physical boards' USB serial adapters go through (the default). 'socket': a `-chardev socket`
 * read with node:net, ~4x faster per byte (no serialport thread-pool hop; BENCHMARKS.md) but not
 * the serialport path boards use. The firmware's kick bytes travel on either.
 */
export const QEMU_UART_TRANSPORTS = ['pty', 'socket'] as const;
export type QemuUartTransport = (typeof QEMU_UART_TRANSPORTS)[number];

export interface QemuLaunchOptions {
  readonly profile: QemuMachineProfile;
  /** Directory holding the profile's boot stubs (firmware/build/<machine>). */
  readonly stubDir: string;
  /** For messages ("qemu-riscv64-virt"). */
  readonly name?: string;
  /** UART text as it arrives, without the firmware's kick bytes. */
  readonly onConsole?: (text: string) => void;
  /**
   * The firmware's in-band doorbell on its UART (the reference firmware's is
   * firmware/uart-kick.ts): every chunk holding `byte` calls `onKick` (look at the rings), and
   * the byte is stripped from the console text. The firmware is the target's business, not
   * QEMU's: the target says which byte.
   */
  readonly kick?: { readonly byte: number; readonly onKick?: () => void };
  /** QEMU's own stderr lines (warnings, errors). */
  readonly onStderr?: (text: string) => void;
  /** How the UART reaches the host. Default 'pty' (serialport, as physical boards). */
  readonly uart?: QemuUartTransport;
  /** Deadline for QEMU to come up (QMP greeting, UART), ms. Default 10000. */
  readonly startTimeoutMs?: number;
  /**
   * Run QEMU inside a container (the runner starts it: targets/drivers/qemu-power.ts, with
   * containers/) instead of on the host. The RAM file, QMP and UART sockets then live in run
   * folders bind-mounted into the container, the boot stubs are mounted read-only, and the UART
   * must be 'socket' (a pty inside the container is not reachable from the host; the default).
   */
  readonly container?: QemuContainerRunner;
}

/**
 * Connects to the monitor of a QEMU just spawned, retrying until `timeoutMs`. QEMU exiting first
 * fails it at once with the exit and QEMU's `stderr`, and aborts `startFailed`, which ends the
 * connect retries; the caller aborts it too when a later start step fails, so that a late connect
 * keeps no socket.
 */
export async function connectStartingQemu(
  name: string,
  child: { readonly exited: Promise<ProcessExit> },
  qmpPath: string,
  timeoutMs: number,
  stderr: () => string,
  startFailed: AbortController,
): Promise<QmpClient> {
  const exitedEarly = child.exited.then((exit) => {
    const error = new InfrastructureError(`${name}: QEMU exited while starting (${describeExit(exit)}): ${stderr().trim() || 'no output'}`);
    startFailed.abort(error);
    throw error;
  });
  exitedEarly.catch(() => {});
  return Promise.race([QmpClient.connect(qmpPath, { timeoutMs, signal: startFailed.signal }), exitedEarly]);
}

/** The QEMU process, on the host (ManagedProcess) or as a container. */
export interface QemuProcess {
  /** Host pid (of the container's first process for a container). */
  readonly pid: number;
  readonly exited: Promise<ProcessExit>;
  readonly running: boolean;
  stop(options?: { graceMs?: number }): Promise<ProcessExit>;
  signal(signal: NodeJS.Signals): void;
}

export interface QemuBindMount {
  readonly host: string;
  readonly container: string;
  readonly readOnly?: boolean;
}

/** Starts QEMU's command line in a container with these bind mounts; its stdout / stderr go to onOutput. */
export interface QemuContainerRunner {
  /** The image, for messages. */
  readonly image: string;
  run(spec: {
    readonly name: string;
    readonly command: readonly string[];
    readonly binds: readonly QemuBindMount[];
    readonly onOutput: (stream: 'stdout' | 'stderr', text: string) => void;
  }): Promise<QemuProcess>;
}

/** QEMU stopped on its own or the guest asked it to: reason text for Remoteproc.reportCrash. */
export type QemuFailureListener = (reason: string) => void;

const UART_ID = 'farm-uart0';
const RAM_ID = 'farm-ram';
/** Events that mean the machine stopped without us asking. */
const FAILURE_EVENTS = new Set(['GUEST_PANICKED', 'SHUTDOWN', 'GUEST_CRASHLOADED']);

/**
 * One QEMU process for one remote core: started paused (-S) with its RAM in a shared
 * memory-backend-file under /dev/shm (the host reads and writes guest RAM through it), QMP on
 * a UNIX socket, the remote's UART read through SerialConsole: a pseudo-terminal opened with
 * serialport by default, or a socket chardev (`uart: 'socket'`). The UART also carries the
 * firmware's kick bytes (`kick`). `close` (and the farm's exit hook) leave no process, socket
 * or RAM file behind.
 */
export class QemuInstance {
  /** performance.now() when QEMU was spawned (benchmarks measure from here). */
  readonly spawnedAt: number;
  private readonly failureListeners = new Set<QemuFailureListener>();
  private expectedStop = false;
  private closing = false;
  private closed = false;
  private readonly releaseFiles: () => void;

  private constructor(
    readonly profile: QemuMachineProfile,
    readonly name: string,
    readonly process: QemuProcess,
    readonly qmp: QmpClient,
    readonly console: SerialConsole,
    readonly ram: FileMemory,
    readonly memory: AddressSpace,
    readonly files: readonly string[],
    spawnedAt: number,
    releaseFiles: () => void,
  ) {
    this.spawnedAt = spawnedAt;
    this.releaseFiles = releaseFiles;
    qmp.onEvent((event) => this.onEvent(event));
    void process.exited.then((exit) => this.fail(`${name}: QEMU exited unexpectedly (${describeExit(exit)})`));
  }

  static async launch(options: QemuLaunchOptions): Promise<QemuInstance> {
    const { profile } = options;
    const name = options.name ?? `qemu-${profile.name}`;
    sweepStaleRunFiles();
    const stem = runFileStem('qemu');
    const { container } = options;
    const transport = options.uart ?? (container ? 'socket' : 'pty');
    if (container && transport === 'pty') {
      throw new InfrastructureError(`${name}: a pty UART inside a container is not reachable from the host: use uart socket with a container`);
    }
    // On the host: the files themselves. In a container: a run folder per side, bind-mounted,
    // and QEMU names the files by their paths inside the container.
    const shmDir = container ? `/dev/shm/${stem}.d` : '/dev/shm';
    const runDir = container ? `/tmp/${stem}.d` : '/tmp';
    const base = container ? '' : `${stem}.`;
    const ramPath = `${shmDir}/${base}ram`;
    const qmpPath = `${runDir}/${base}qmp`;
    const uartPath = `${runDir}/${base}uart`;
    const inQemu = (hostPath: string): string => {
      if (!container) return hostPath;
      if (hostPath.startsWith(`${shmDir}/`)) return `/farm/shm/${hostPath.slice(shmDir.length + 1)}`;
      if (hostPath.startsWith(`${runDir}/`)) return `/farm/run/${hostPath.slice(runDir.length + 1)}`;
      return `/farm/stubs/${path.basename(hostPath)}`;
    };
    const stub = (file: string): string => {
      const full = path.join(options.stubDir, file);
      if (!fs.existsSync(full)) throw new InfrastructureError(`${name}: boot stub ${full} is missing (build the firmware first)`);
      return inQemu(full);
    };
    const mib = profile.ram.size / (1024 * 1024);
    const args = [
      ...profile.machineArgs,
      '-m', `${mib}M`,
      '-object', `memory-backend-file,id=${RAM_ID},size=${mib}M,mem-path=${inQemu(ramPath)},share=on`,
      '-machine', `memory-backend=${RAM_ID}`,
      // QEMU puts its pty in raw mode (cfmakeraw) and serialport sets raw termios again on open,
      // so the kick byte 0x05 and CR/LF pass unchanged (base/serial/serial-console.test.ts).
      '-chardev', transport === 'pty' ? `pty,id=${UART_ID}` : `socket,id=${UART_ID},path=${inQemu(uartPath)},server=on,wait=off`,
      '-serial', `chardev:${UART_ID}`,
      '-qmp', `unix:${inQemu(qmpPath)},server=on,wait=off`,
      '-display', 'none', '-nodefaults', '-no-user-config', '-monitor', 'none', '-net', 'none',
      '-S',
      ...profile.stubArgs(stub),
    ];
    // Registered only now: a missing boot stub above throws before anything exists to clean up.
    const files = transport === 'socket' ? [ramPath, qmpPath, uartPath] : [ramPath, qmpPath];
    const removeFiles = (): void => {
      if (container) {
        for (const dir of [shmDir, runDir]) fs.rmSync(dir, { recursive: true, force: true });
      } else {
        for (const file of files) fs.rmSync(file, { force: true });
      }
    };
    const releaseExitHook = onProcessExit(removeFiles);
    const releaseFiles = (): void => {
      removeFiles();
      releaseExitHook();
    };
    let stderr = '';
    const spawnedAt = performance.now();
    const onOutput = (stream: 'stdout' | 'stderr', text: string): void => {
      if (stream !== 'stderr') return;
      stderr = (stderr + text).slice(-4000);
      options.onStderr?.(text);
    };
    let child: QemuProcess;
    try {
      if (container) {
        fs.mkdirSync(shmDir, { mode: 0o700 });
        fs.mkdirSync(runDir, { mode: 0o700 });
        child = await container.run({
          name,
          command: [profile.binary, ...args],
          binds: [
            { host: shmDir, container: '/farm/shm' },
            { host: runDir, container: '/farm/run' },
            { host: options.stubDir, container: '/farm/stubs', readOnly: true },
          ],
          onOutput,
        });
      } else {
        child = ManagedProcess.spawn({ name, file: profile.binary, args, debianPackage: profile.debianPackage, onOutput });
      }
    } catch (error) {
      releaseFiles();
      throw error;
    }
    const deadline = options.startTimeoutMs ?? 10_000;
    let qmp: QmpClient | undefined;
    let console: SerialConsole | undefined;
    let ram: FileMemory | undefined;
    // Ends the QMP connect retries (and closes a connection they opened) once the start failed,
    // or they would go on until the deadline and keep the socket of a late connect.
    const startFailed = new AbortController();
    try {
      qmp = await connectStartingQemu(name, child, qmpPath, deadline, () => stderr, startFailed);
      // Kick bytes are stripped whether or not anyone listens: they are not console text.
      const kick = options.kick ? { byte: options.kick.byte, onKick: options.kick.onKick ?? ((): void => {}) } : undefined;
      const consoleOptions = { name: `${name} uart0`, onText: options.onConsole, kick };
      if (transport === 'pty') {
        const chardevs = await qmp.execute<{ label: string; filename: string }[]>('query-chardev');
        const uart = chardevs.find((c) => c.label === UART_ID);
        if (!uart?.filename.startsWith('pty:')) throw new InfrastructureError(`${name}: QEMU did not give the UART a pty (${JSON.stringify(uart)})`);
        console = await SerialConsole.open({ path: uart.filename.slice(4), ...consoleOptions });
      } else {
        // QEMU listens once the QMP greeting came (chardevs are created before the monitor).
        console = await SerialConsole.connect({ path: uartPath, ...consoleOptions });
      }
      ram = FileMemory.open(ramPath, { size: profile.ram.size });
      const memory = new AddressSpace([{ name: `${profile.name} RAM`, da: profile.ram.base, pa: profile.ram.base, size: profile.ram.size, memory: ram, offset: 0 }]);
      return new QemuInstance(profile, name, child, qmp, console, ram, memory, files, spawnedAt, releaseFiles);
    } catch (error) {
      startFailed.abort(error);
      qmp?.close();
      await console?.close();
      ram?.close();
      await child.stop({ graceMs: 200 });
      releaseFiles();
      throw error instanceof QmpError || error instanceof InfrastructureError
        ? error
        : new InfrastructureError(`${name}: could not start QEMU: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Called once when the machine stops without being asked (guest shutdown, panic, QEMU exit). */
  onFailure(listener: QemuFailureListener): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  async resume(): Promise<void> {
    await this.qmp.execute('cont');
  }

  /** Pauses every vCPU. */
  async pause(): Promise<void> {
    this.expectedStop = true;
    await this.qmp.execute('stop');
  }

  /** Machine reset; the machine stays paused if it was. ROMs and boot stubs are copied in again. */
  async reset(): Promise<void> {
    // system_reset only requests the reset; the main loop performs it later. Wait for it, or
    // it could land after the next image was loaded and started.
    const done = this.qmp.waitForEvent('RESET', { timeoutMs: 5000 });
    done.catch(() => {});
    await this.qmp.execute('system_reset');
    await done;
  }

  async status(): Promise<string> {
    const result = await this.qmp.execute<{ status: string }>('query-status');
    return result.status;
  }

  /** Writes little-endian u32 words at guest physical `address`. */
  writeWords(address: number, words: readonly number[]): void {
    const { memory, offset } = this.memory.resolvePa(address, 4 * words.length);
    words.forEach((word, i) => memory.storeU32(offset + 4 * i, word));
  }

  readWord(address: number): number {
    const { memory, offset } = this.memory.resolvePa(address, 4);
    return memory.loadU32(offset);
  }

  /** Quits QEMU (QMP quit, then SIGKILL), closes the UART (pty or socket) and the RAM file, removes every file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    this.closed = true;
    try {
      if (this.process.running && !this.qmp.closed) await this.qmp.execute('quit', undefined, { timeoutMs: 1000 }).catch(() => {});
    } finally {
      this.qmp.close();
      await this.process.stop({ graceMs: 1000 });
      await this.console.close();
      this.ram.close();
      this.releaseFiles();
    }
  }

  private onEvent(event: QmpEvent): void {
    if (FAILURE_EVENTS.has(event.event)) {
      this.fail(`${this.name}: QEMU event ${event.event} ${JSON.stringify(event.data)}`);
    } else if (event.event === 'STOP' && !this.expectedStop) {
      this.fail(`${this.name}: the machine stopped on its own (QMP STOP)`);
    } else if (event.event === 'RESUME') {
      this.expectedStop = false;
    }
  }

  private fail(reason: string): void {
    // Our own quit (close, also when the power driver cycles the machine on a remoteproc stop) ends with SHUTDOWN
    // host-qmp-quit and an exit: not a failure of the machine.
    if (this.closing) return;
    for (const listener of [...this.failureListeners]) listener(reason);
  }
}

