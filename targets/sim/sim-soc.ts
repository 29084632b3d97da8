import { assertMachine } from '../../openamp/elf/check-machine.js';
import type { ElfImage } from '../../openamp/elf/parse-elf.js';
import { AtomicsDoorbell, type AtomicsDoorbellPair } from '../../openamp/doorbell/atomics-doorbell.js';
import { NOTIFY_ID_UNKNOWN, type Doorbell } from '../../openamp/doorbell/doorbell.js';
import { InfrastructureError } from '../../base/errors.js';
import { SabMemory } from '../../openamp/memory/sab-memory.js';
import { AddressSpace } from '../../openamp/memory/shared-memory.js';
import { CarveoutAllocator } from '../../openamp/remoteproc/carveout-allocator.js';
import type { Allocation, RemoteprocOps } from '../../openamp/remoteproc/remoteproc-ops.js';
import { RemoteWorkerHandle, endIdleThread, type IdleRemoteThread, type RemoteWorkerExit } from '../../openamp/remote/remote-worker-handle.js';
import {
  SIM_CARVEOUT_POOL_OFFSET,
  SIM_DDR_BASE,
  SIM_DDR_NAME,
  SIM_DEFAULT_MEMORY_SIZE,
  SIM_ELF_CLASS,
  SIM_ELF_MACHINE,
  SIM_MAX_MEMORY_SIZE,
  SIM_MIN_MEMORY_SIZE,
} from './sim-machine.js';

export interface SimSocOptions {
  /** For logs and the worker's console lines ("sim0"). */
  name?: string;
  /** DDR size in bytes (default 4 MiB). */
  memorySize?: number;
  /** How long the remote core spins on its rings before blocking on the doorbell, in µs. */
  remoteSpinMicros?: number;
  /** How long the remote core waits before each reply, in µs (a deliberately slow firmware). */
  replyDelayUs?: number;
  /** Each line the remote core prints on its console (UART). */
  onConsole?: (line: string) => void;
  /** Called when the core dies on its own (fault, unexpected exit); wire it to Remoteproc.reportCrash. */
  onCrash?: (reason: string) => void;
  /** How long stop waits for the core to end by itself before terminating its thread, in ms. */
  stopTimeoutMs?: number;
  /** The longest the idle core sleeps on its doorbell between looks at its control words, in ms (default 20). */
  remoteIdleWaitMs?: number;
}

/**
 * The simulated AMP SoC as remoteproc drives it (RemoteprocOps): one DDR region in a
 * SharedArrayBuffer, a carveout pool above the image area, an Atomics doorbell pair, and a
 * remote core that is a worker thread started at the image's entry point. Only ELF32 EM_RISCV
 * images pass `checkImage`. A core that throws or exits without being asked is reported
 * through `onCrash`.
 */
export class SimSoc implements RemoteprocOps {
  readonly name: string;
  readonly ddr: SabMemory;
  readonly memory: AddressSpace;
  private readonly doorbells: AtomicsDoorbellPair;
  private readonly allocator: CarveoutAllocator;
  private core: RemoteWorkerHandle | undefined;
  /** The thread of the last core, when it ended without a fault: the next start boots in it. */
  private idleThread: IdleRemoteThread | undefined;
  private stopping = false;
  private closed = false;
  /** Set after construction by whoever builds the Remoteproc over this SoC. */
  onCrash: ((reason: string) => void) | undefined;
  private readonly onConsole: (line: string) => void;

  constructor(private readonly options: SimSocOptions = {}) {
    this.name = options.name ?? 'sim';
    const size = options.memorySize ?? SIM_DEFAULT_MEMORY_SIZE;
    if (!Number.isInteger(size) || size < SIM_MIN_MEMORY_SIZE || size > SIM_MAX_MEMORY_SIZE || size % 0x1000 !== 0) {
      throw new InfrastructureError(
        `${this.name}: memory size ${size} must be a multiple of 4 KiB between ${SIM_MIN_MEMORY_SIZE} and ${SIM_MAX_MEMORY_SIZE}`,
      );
    }
    this.ddr = SabMemory.allocate(size, `sab:${this.name}-ddr`);
    this.memory = new AddressSpace([{ name: SIM_DDR_NAME, da: SIM_DDR_BASE, pa: SIM_DDR_BASE, size, memory: this.ddr, offset: 0 }]);
    this.allocator = new CarveoutAllocator({
      name: `${this.name} carveout pool`,
      da: SIM_DDR_BASE + SIM_CARVEOUT_POOL_OFFSET,
      pa: SIM_DDR_BASE + SIM_CARVEOUT_POOL_OFFSET,
      size: size - SIM_CARVEOUT_POOL_OFFSET,
    });
    this.doorbells = AtomicsDoorbell.createPair();
    this.onCrash = options.onCrash;
    this.onConsole = options.onConsole ?? (() => {});
  }

  /** The host's end of the doorbell (the RPMsg host device listens on it). */
  get hostDoorbell(): Doorbell {
    return this.doorbells.host;
  }

  /** True while the core's thread exists. */
  get coreRunning(): boolean {
    return this.core?.running ?? false;
  }

  /** The core's thread id while it runs (diagnostics, tests). */
  get coreThreadId(): number | undefined {
    return this.core?.running ? this.core.threadId : undefined;
  }

  checkImage(image: ElfImage): void {
    assertMachine(image, SIM_ELF_MACHINE, SIM_ELF_CLASS);
  }

  allocate(size: number, align: number, purpose: string): Allocation {
    return this.allocator.allocate(size, align, purpose);
  }

  free(allocation: Allocation): void {
    this.allocator.free(allocation);
  }

  async start(entry: number): Promise<void> {
    if (this.closed) throw new InfrastructureError(`${this.name}: the SoC was shut down`);
    if (this.core?.running) throw new InfrastructureError(`${this.name}: the remote core is already running`);
    this.stopping = false;
    // A core that halted by itself (its program returned) left its thread idle too.
    const thread = this.idleThread ?? this.core?.takeThread();
    this.idleThread = undefined;
    const region = this.memory.regions[0]!;
    const core = new RemoteWorkerHandle(
      {
        label: `${this.name} core`,
        memory: { kind: 'sab', buffer: this.ddr.buffer, name: this.ddr.name },
        regions: [{ name: region.name, da: region.da, pa: region.pa, size: region.size, offset: region.offset }],
        boot: { kind: 'entry', entry },
        doorbell: { kind: 'atomics', buffer: this.doorbells.buffer },
        ...(this.options.remoteSpinMicros === undefined ? {} : { spinMicros: this.options.remoteSpinMicros }),
        ...(this.options.replyDelayUs ? { replyDelayUs: this.options.replyDelayUs } : {}),
        ...(this.options.remoteIdleWaitMs === undefined ? {} : { idleWaitMs: this.options.remoteIdleWaitMs }),
      },
      {
        onConsole: (line) => this.onConsole(line),
        onExit: (exit) => this.coreExited(core, exit),
      },
      // Each start is a fresh core (new control words, memory view, doorbell, program state);
      // only the thread, whose start-up was most of a start's cost, is kept.
      { keepThread: true, ...(thread ? { thread } : {}) },
    );
    this.core = core;
    await core.online;
  }

  async stop(): Promise<void> {
    const core = this.core;
    if (!core) return;
    this.stopping = true;
    const stopped = core.stop(this.options.stopTimeoutMs);
    // An idle core sleeps on its doorbell for up to its idle wait (20 ms) between looks at the
    // stop request: ring it, so that it sees the request now.
    this.doorbells.host.notify(NOTIFY_ID_UNKNOWN);
    await stopped;
    if (this.core === core) {
      this.core = undefined;
      this.idleThread = core.takeThread();
    }
  }

  kick(notifyId: number): void {
    this.doorbells.host.notify(notifyId);
  }

  /** Stops the core and releases the doorbells. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    await this.stop();
    this.closed = true;
    const thread = this.idleThread ?? this.core?.takeThread();
    this.idleThread = undefined;
    if (thread) await endIdleThread(thread);
    this.doorbells.host.close();
    this.doorbells.remote.close();
  }

  private coreExited(core: RemoteWorkerHandle, exit: RemoteWorkerExit): void {
    if (this.core !== core || this.stopping) return;
    switch (exit.kind) {
      case 'fault':
        this.onCrash?.(`remote core faulted: ${exit.error.message}`);
        return;
      case 'terminated':
        this.onCrash?.(`remote core thread exited unexpectedly (exit code ${exit.exitCode})`);
        return;
      case 'outcome':
        // The program returned (shutdown message): the core halts, which is not a crash.
        this.onConsole(`${this.name} core halted: ${JSON.stringify(exit.outcome)}`);
        return;
    }
  }
}
