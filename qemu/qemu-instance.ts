import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { InfrastructureError } from '../base/errors.js';
import { FileMemory } from '../openamp/memory/file-memory.js';
import { AddressSpace } from '../openamp/memory/shared-memory.js';
import { ManagedProcess, describeExit } from '../base/process/managed-process.js';
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
    readonly process: ManagedProcess,
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
    const ramPath = `/dev/shm/${stem}.ram`;
    const qmpPath = `/tmp/${stem}.qmp`;
    const transport = options.uart ?? 'pty';
    const uartPath = `/tmp/${stem}.uart`;
    const stub = (file: string): string => {
      const full = path.join(options.stubDir, file);
      if (!fs.existsSync(full)) throw new InfrastructureError(`${name}: boot stub ${full} is missing (build the firmware first)`);
      return full;
    };
    const mib = profile.ram.size / (1024 * 1024);
    const args = [
      ...profile.machineArgs,
      '-m', `${mib}M`,
      '-object', `memory-backend-file,id=${RAM_ID},size=${mib}M,mem-path=${ramPath},share=on`,
      '-machine', `memory-backend=${RAM_ID}`,
      // QEMU puts its pty in raw mode (cfmakeraw) and serialport sets raw termios again on open,
      // so the kick byte 0x05 and CR/LF pass unchanged (base/serial/serial-console.test.ts).
      '-chardev', transport === 'pty' ? `pty,id=${UART_ID}` : `socket,id=${UART_ID},path=${uartPath},server=on,wait=off`,
      '-serial', `chardev:${UART_ID}`,
      '-qmp', `unix:${qmpPath},server=on,wait=off`,
      '-display', 'none', '-nodefaults', '-no-user-config', '-monitor', 'none', '-net', 'none',
      '-S',
      ...profile.stubArgs(stub),
    ];
    // Registered only now: a missing boot stub above throws before anything exists to clean up.
    const files = transport === 'socket' ? [ramPath, qmpPath, uartPath] : [ramPath, qmpPath];
    const removeFiles = (): void => {
      for (const file of files) fs.rmSync(file, { force: true });
    };
    const releaseExitHook = onProcessExit(removeFiles);
    const releaseFiles = (): void => {
      removeFiles();
      releaseExitHook();
    };
    let stderr = '';
    const spawnedAt = performance.now();
    let child: ManagedProcess;
    try {
      child = ManagedProcess.spawn({
        name,
        file: profile.binary,
        args,
        debianPackage: profile.debianPackage,
        onOutput: (stream, text) => {
          if (stream !== 'stderr') return;
          stderr = (stderr + text).slice(-4000);
          options.onStderr?.(text);
        },
      });
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
      const exitedEarly = child.exited.then((exit) => {
        const error = new InfrastructureError(`${name}: QEMU exited while starting (${describeExit(exit)}): ${stderr.trim() || 'no output'}`);
        startFailed.abort(error);
        throw error;
      });
      exitedEarly.catch(() => {});
      qmp = await Promise.race([QmpClient.connect(qmpPath, { timeoutMs: deadline, signal: startFailed.signal }), exitedEarly]);
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
    // Our own quit (close, also on a relaunch during an orderly stop) ends with SHUTDOWN
    // host-qmp-quit and an exit: not a failure of the machine.
    if (this.closing) return;
    for (const listener of [...this.failureListeners]) listener(reason);
  }
}

