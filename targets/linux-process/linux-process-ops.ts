import * as fs from 'node:fs';
import { UnixSocketDoorbell } from '../../openamp/doorbell/unix-socket-doorbell.js';
import { FirmwareError, InfrastructureError, hex } from '../../base/errors.js';
import { linuxGenericAddressSpace, linuxGenericLayout, type LinuxGenericLayout } from '../../openamp/machines/linux-generic.js';
import { FileMemory } from '../../openamp/memory/file-memory.js';
import type { AddressSpace } from '../../openamp/memory/shared-memory.js';
import { CarveoutAllocator } from '../../openamp/remoteproc/carveout-allocator.js';
import type { Allocation, RemoteprocOps, ResourceTableLocation } from '../../openamp/remoteproc/remoteproc-ops.js';
import { onProcessExit } from '../../base/process/exit-cleanup.js';
import { ManagedProcess, describeExit, type ProcessExit } from '../../base/process/managed-process.js';

/** The remote process is gone before it served its event socket (bad command, wrong arguments). */
export class RemoteDidNotStartError extends InfrastructureError {}

/** A linux-process remote cannot be loaded from an ELF image: it is a command. */
export class NotAnImageTargetError extends FirmwareError {}

export interface RemoteLaunch {
  /** Executable (resolved) and arguments, placeholders already substituted. */
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** This start's shm file and event socket. */
  readonly shmPath: string;
  readonly socketPath: string;
}

export interface LinuxProcessOpsOptions {
  readonly name: string;
  readonly startTimeoutMs: number;
  readonly stopGraceMs: number;
  /** Remote stdout / stderr. */
  readonly onOutput: (stream: 'stdout' | 'stderr', text: string) => void;
  /**
   * The remote process ended without being asked (any exit or signal while attached or
   * starting). The target decides whether it is a crash.
   */
  readonly onExit: (exit: ProcessExit) => void;
  readonly log: (line: string) => void;
  /** farm-reaper's executable (firmware/tools): the remote runs under it. Without it, setpriv --pdeathsig only. */
  readonly reaperPath?: string;
}

/** How many bytes at shm offset 0 hold the resource table: everything below vring 0. */
function tableArea(layout: LinuxGenericLayout): number {
  return layout.vrings[0].da - layout.resourceTableOffset;
}

/**
 * Remoteproc operations for a remote that is a Linux process speaking open-amp's Linux generic
 * machine: `launch` spawns it (as process 0 it creates the shm, writes its resource table and
 * serves the event socket), `attach` waits until it serves the socket, connects as process 1
 * and opens the shm (the table is at offset 0), `allocate` hands out the layout's fixed buffer
 * pool (0x10000, 0x40000 bytes), `stop` ends the process (SIGTERM, SIGKILL after the grace)
 * and removes its shm and socket files. ELF images are refused: there is nothing to load.
 */
export class LinuxProcessOps implements RemoteprocOps {
  private process: ManagedProcess | undefined;
  private shm: FileMemory | undefined;
  private space: AddressSpace | undefined;
  private bell: UnixSocketDoorbell | undefined;
  private layout: LinuxGenericLayout = linuxGenericLayout();
  private allocator: CarveoutAllocator;
  /** Files of the current start, removed on stop and (exit hook) when the farm dies first. */
  private files: string[] = [];
  private releaseFileHook: (() => void) | undefined;
  /** Set when we end the process ourselves: its exit is not news. */
  private ending = false;
  /** Counts launches and stops: an attach begun before one of them keeps nothing it opens. */
  private epoch = 0;

  constructor(private readonly options: LinuxProcessOpsOptions) {
    this.allocator = this.poolAllocator();
  }

  get memory(): AddressSpace {
    if (!this.space) throw new InfrastructureError(`${this.options.name}: no remote process is attached (no shared memory open)`);
    return this.space;
  }

  /** The host's end of the event socket of the current start. */
  get doorbell(): UnixSocketDoorbell {
    if (!this.bell) throw new InfrastructureError(`${this.options.name}: no remote process is attached (no event socket)`);
    return this.bell;
  }

  get running(): ManagedProcess | undefined {
    return this.process?.running ? this.process : undefined;
  }

  /**
   * Spawns the remote. What a previous start left (it ended without a stop) is released first;
   * stale files at this start's paths are removed (a killed run's).
   */
  launch(launch: RemoteLaunch): void {
    if (this.process?.running) throw new InfrastructureError(`${this.options.name}: a remote process (pid ${this.process.pid}) is already running`);
    this.epoch++;
    this.releaseStart();
    this.layout = linuxGenericLayout({ shmPath: launch.shmPath, eventSocketPath: launch.socketPath });
    this.allocator = this.poolAllocator();
    this.files = [launch.shmPath, launch.socketPath];
    this.removeFiles();
    const files = [...this.files];
    this.releaseFileHook = onProcessExit(() => {
      for (const file of files) fs.rmSync(file, { force: true });
    });
    this.ending = false;
    const process = ManagedProcess.spawn({
      name: `${this.options.name} remote`,
      file: launch.file,
      args: launch.args,
      cwd: launch.cwd,
      onOutput: this.options.onOutput,
      // The remote's whole process tree ends with it, setsid() children included.
      ...(this.options.reaperPath ? { reaper: { path: this.options.reaperPath, graceMs: this.options.stopGraceMs } } : {}),
    });
    this.process = process;
    this.options.log(`${this.options.name}: remote pid ${process.pid}: ${[launch.file, ...launch.args].join(' ')}`);
    void process.exited.then((exit) => {
      if (this.process === process && !this.ending) this.options.onExit(exit);
    });
  }

  checkImage(): void {
    throw new NotAnImageTargetError(`${this.options.name}: a linux-process remote is a command (params.commands), not an image to load`);
  }

  async start(): Promise<void> {
    throw new NotAnImageTargetError(`${this.options.name}: a linux-process remote is started by launching its command, not at an entry point`);
  }

  /**
   * Waits until the remote serves its event socket (it has written its resource table by then),
   * connects, opens the shm. Fails early when the process ends first, or a stop (or another
   * launch) comes meanwhile: then it closes what it connected and keeps nothing.
   */
  async attach(): Promise<ResourceTableLocation> {
    const process = this.process;
    if (!process) throw new InfrastructureError(`${this.options.name}: attach without a launched remote`);
    const epoch = this.epoch;
    const stoppedMeanwhile = (): RemoteDidNotStartError =>
      new RemoteDidNotStartError(`${this.options.name}: the remote (pid ${process.pid}) was stopped while the host was attaching`);
    const path = this.layout.eventSocketPath;
    const { startTimeoutMs } = this.options;
    const deadline = Date.now() + startTimeoutMs;
    // Bounded by the deadline; every round waits 10 ms or ends.
    for (;;) {
      if (epoch !== this.epoch) throw stoppedMeanwhile();
      if (process.exit) {
        throw new RemoteDidNotStartError(`${this.options.name}: the remote process ended (${describeExit(process.exit)}) before it served its event socket ${path}`);
      }
      let bell: UnixSocketDoorbell;
      try {
        bell = await UnixSocketDoorbell.connect({ path, connectTimeoutMs: 0 });
      } catch (error) {
        if (Date.now() >= deadline) {
          throw new RemoteDidNotStartError(
            `${this.options.name}: the remote (pid ${process.pid}) did not serve its event socket ${path} within ${startTimeoutMs} ms ` +
              `(does it take the names the target gave it? see params.shmPath / socketPath): ${(error as Error).message}`,
          );
        }
        await Promise.race([process.exited, new Promise((resolve) => setTimeout(resolve, 10))]);
        continue;
      }
      if (epoch !== this.epoch) {
        bell.close();
        throw stoppedMeanwhile();
      }
      this.bell = bell;
      break;
    }
    try {
      this.shm = FileMemory.open(this.layout.shmPath, { size: this.layout.shmSize });
    } catch (error) {
      throw new RemoteDidNotStartError(`${this.options.name}: the remote serves ${path} but its shared memory is not usable: ${(error as Error).message}`, { cause: error });
    }
    this.space = linuxGenericAddressSpace(this.shm);
    return { da: this.layout.resourceTableOffset, size: tableArea(this.layout) };
  }

  /** From now on the process ending is expected (stop follows). */
  async detach(): Promise<void> {
    this.ending = true;
  }

  allocate(size: number, align: number, purpose: string): Allocation {
    return this.allocator.allocate(size, align, purpose);
  }

  free(allocation: Allocation): void {
    this.allocator.free(allocation);
  }

  kick(notifyId: number): void {
    this.bell?.notify(notifyId);
  }

  /** Ends the process (SIGTERM, SIGKILL after the grace), closes everything, removes the files. Idempotent. */
  async stop(): Promise<void> {
    this.ending = true;
    this.epoch++;
    const process = this.process;
    try {
      this.bell?.close();
      if (process?.running) {
        const stopping = process.stop({ graceMs: this.options.stopGraceMs });
        process.signal('SIGCONT'); // a remote stopped on purpose (hang fault) must see the SIGTERM
        const exit = await stopping;
        this.options.log(`${this.options.name}: remote pid ${process.pid} ended (${describeExit(exit)})`);
      }
    } finally {
      this.releaseStart();
    }
  }

  /** Closes the event socket and the shm of the current start, removes its files. */
  private releaseStart(): void {
    this.bell?.close();
    this.bell = undefined;
    this.shm?.close();
    this.shm = undefined;
    this.space = undefined;
    this.removeFiles();
    this.releaseFileHook?.();
    this.releaseFileHook = undefined;
  }

  /** The shared memory while it is open (until stop), e.g. to read a crash record after the process died. */
  get attachedMemory(): AddressSpace | undefined {
    return this.space;
  }

  describeLayout(): string {
    const { layout } = this;
    return `shm ${layout.shmPath} (${hex(layout.shmSize)} bytes), event socket ${layout.eventSocketPath}`;
  }

  private removeFiles(): void {
    for (const file of this.files) {
      try {
        fs.rmSync(file, { force: true });
      } catch (error) {
        this.options.log(`${this.options.name}: could not remove ${file}: ${(error as Error).message}`);
      }
    }
  }

  private poolAllocator(): CarveoutAllocator {
    const pool = this.layout.bufferPool;
    return new CarveoutAllocator({ name: `${this.options.name} buffer pool`, da: pool.offset, pa: pool.offset, size: pool.size });
  }
}
