import { FarmError, InfrastructureError, MemoryAccessError, hex } from '../../base/errors.js';
import { RESOURCE_TABLE_SECTION, SHT_NOBITS } from '../elf/elf-constants.js';
import { parseElf, type ElfImage } from '../elf/parse-elf.js';
import type { SharedMemory } from '../memory/shared-memory.js';
import { parseResourceTable, type ParseResourceTableOptions, type ResourceTable, type TraceEntry, type VdevEntry } from '../rsc/parse-resource-table.js';
import { patchCarveout, patchVdevNotifyId, patchVring } from '../rsc/patch-resource-table.js';
import { FW_RSC_ADDR_ANY, FW_RSC_NOTIFY_ID_ANY } from '../rsc/rsc-layout.js';
import { readTraceText } from '../rsc/trace-buffer.js';
import { VdevTransport } from '../rsc/vdev-transport.js';
import { vringSize } from '../virtio/vring-layout.js';
import { quoteRemote } from '../../base/remote-text.js';
import type { Allocation, RemoteprocOps, ResourceTableLocation } from './remoteproc-ops.js';
import { FirmwareLoadError, RemoteprocStateError } from './remoteproc-errors.js';
import { checkLayout, resourceTableRegions, type LayoutRegion } from './memory-layout.js';

/** As Linux names them in /sys/class/remoteproc/remoteprocN/state (same values as targets' RemoteState). */
export type RemoteprocState = 'offline' | 'running' | 'crashed' | 'attached' | 'detached';

export interface RemoteprocOptions {
  /** For messages and logs ("sim-r5"); "remoteproc" by default. */
  name?: string;
  /**
   * Refuse firmware without a `.resource_table` section (default true: an RPMsg firmware needs
   * one). Linux accepts such firmware and just starts it; set false for that behaviour.
   */
  requireResourceTable?: boolean;
  vendorHandler?: ParseResourceTableOptions['vendorHandler'];
  /** Progress lines ("loaded segment 0 at 0x10000000 (0x2000 bytes)"). */
  log?: (message: string) => void;
}

/** One virtio device of the running remote, ready for the RPMsg host driver. */
export interface RemoteprocVdev {
  /** Index among the table's vdevs (Linux's `vdev<N>`). */
  readonly index: number;
  /** The vdev entry as written to the loaded table (assigned vring addresses and notify ids). */
  readonly entry: VdevEntry;
  /** Closed (TransportClosedError) once the remote stops, crashes or is detached. */
  readonly transport: VdevTransport;
  /** The carveout named `vdev<N>buffer`, where Linux takes the RPMsg buffers from, if the table has one. */
  readonly bufferCarveout?: { readonly da: number; readonly pa: number; readonly len: number };
}

/** The resource table as loaded into device memory. */
export interface LoadedResourceTable {
  /** Parsed from the table as written (host-assigned addresses included). */
  readonly table: ResourceTable;
  readonly da: number;
  readonly memory: SharedMemory;
  /** Offset of the table inside `memory`. */
  readonly offset: number;
}

interface TrackedAllocation {
  readonly allocation: Allocation;
  readonly size: number;
  readonly purpose: string;
}

const CARVEOUT_ALIGN = 0x1000;
const VRING_MIN_ALIGN = 16;

/**
 * The host side of one remote core, with Linux remoteproc's lifecycle: load an ELF image
 * (segments copied to their physical addresses through the target's address translation),
 * validate the resource table, allocate what the firmware left to the host, assign notify ids,
 * write the table to its loaded place, start the core and hand out its virtio devices. `stop`
 * tears the devices down (their transports refuse further use) so a restart builds new ones.
 */
export class Remoteproc {
  readonly name: string;
  private currentState: RemoteprocState = 'offline';
  private readonly requireResourceTable: boolean;
  private image: ElfImage | undefined;
  /** Set by load(), consumed by start(): the memory holds a fresh copy of `image`. */
  private loaded = false;
  private loadedTable: LoadedResourceTable | undefined;
  private currentVdevs: RemoteprocVdev[] = [];
  private currentLayout: readonly LayoutRegion[] = [];
  private allocations: TrackedAllocation[] = [];
  private busy: string | undefined;
  private lastCrash: string | undefined;
  /** A crash reported while ops.start was still running: applied once the core counts as running. */
  private crashDuringStart: string | undefined;
  private readonly stateListeners = new Set<(state: RemoteprocState, previous: RemoteprocState) => void>();
  private readonly crashListeners = new Set<(reason: string) => void>();

  constructor(
    readonly ops: RemoteprocOps,
    private readonly options: RemoteprocOptions = {},
  ) {
    this.name = options.name ?? 'remoteproc';
    this.requireResourceTable = options.requireResourceTable ?? true;
  }

  get state(): RemoteprocState {
    return this.currentState;
  }

  /** The image last loaded (kept across stop so start can reload it). */
  get firmware(): ElfImage | undefined {
    return this.image;
  }

  get resourceTable(): LoadedResourceTable | undefined {
    return this.loadedTable;
  }

  /** The virtio devices of the running (or attached) remote; empty otherwise. */
  get vdevs(): readonly RemoteprocVdev[] {
    return this.currentVdevs;
  }

  /** Why the remote last crashed, until the next start. */
  get crashReason(): string | undefined {
    return this.lastCrash;
  }

  onStateChange(listener: (state: RemoteprocState, previous: RemoteprocState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  onCrash(listener: (reason: string) => void): () => void {
    this.crashListeners.add(listener);
    return () => this.crashListeners.delete(listener);
  }

  /**
   * Loads an image into device memory without starting it. Every check (machine, segment
   * translation, resource table) happens before the first byte is written. Allowed while
   * offline only.
   */
  async load(firmware: Uint8Array | ElfImage, source?: string): Promise<void> {
    await this.exclusive('load', async () => {
      this.requireState('load', ['offline']);
      const image = firmware instanceof Uint8Array ? parseElf(firmware, source ?? `${this.name} firmware`) : firmware;
      this.loadImage(image);
    });
  }

  /**
   * Starts the loaded image (reloading the last image if it ran since it was loaded) and
   * returns its virtio devices. On failure everything allocated is released and the state
   * stays offline.
   */
  async start(): Promise<readonly RemoteprocVdev[]> {
    return this.exclusive('start', async () => {
      this.requireState('start', ['offline']);
      if (!this.image) throw new RemoteprocStateError(`${this.name}: start without firmware: call load() or boot() first`);
      if (!this.loaded) this.loadImage(this.image);
      const image = this.image;
      this.loaded = false;
      this.crashDuringStart = undefined;
      try {
        this.log(`starting at entry ${hex(image.entry, 0)}`);
        await this.ops.start(image.entry);
      } catch (error) {
        this.releaseAllocations();
        throw classify(error, (message) => new InfrastructureError(`${this.name}: start failed: ${message}`, { cause: error }));
      }
      this.lastCrash = undefined;
      this.currentVdevs = this.createVdevs();
      this.setState('running');
      const early = this.crashDuringStart;
      this.crashDuringStart = undefined;
      if (early !== undefined) this.reportCrash(early);
      return this.currentVdevs;
    });
  }

  /** load + start. */
  async boot(firmware: Uint8Array | ElfImage, source?: string): Promise<readonly RemoteprocVdev[]> {
    await this.load(firmware, source);
    return this.start();
  }

  /**
   * Stops the core from any state; the virtio devices are reset (status 0, as Linux's virtio
   * removal writes) and closed, host allocations are released. A no-op when already offline.
   */
  async stop(): Promise<void> {
    await this.exclusive('stop', async () => {
      if (this.currentState === 'offline') return;
      this.closeVdevs('remote stopped', true);
      try {
        await this.ops.stop();
      } catch (error) {
        throw classify(error, (message) => new InfrastructureError(`${this.name}: stop failed: ${message}`, { cause: error }));
      }
      this.releaseAllocations();
      this.loaded = false;
      this.setState('offline');
    });
  }

  /**
   * Takes over a core that already runs: reads and validates the resource table where
   * `ops.attach` says it is, assigns what is still ANY, and hands out the virtio devices.
   */
  async attach(): Promise<readonly RemoteprocVdev[]> {
    return this.exclusive('attach', async () => {
      this.requireState('attach', ['offline', 'detached']);
      if (!this.ops.attach) throw new RemoteprocStateError(`${this.name}: this target cannot attach to a running core`);
      let location: ResourceTableLocation;
      try {
        location = await this.ops.attach();
      } catch (error) {
        throw classify(error, (message) => new InfrastructureError(`${this.name}: attach failed: ${message}`, { cause: error }));
      }
      const where = this.resolve(location.da, location.size, `resource table at ${hex(location.da)}`);
      const source = `${this.name}: resource table at ${hex(location.da)}`;
      const bytes = where.memory.read(where.offset, location.size);
      const table = parseResourceTable(bytes, source, { vendorHandler: this.options.vendorHandler });
      this.assignResources(bytes, table, source, 'attach');
      const assigned = parseResourceTable(bytes, source);
      this.checkLayout(assigned, location.da, location.size, source);
      where.memory.write(where.offset, bytes);
      this.loadedTable = { table: assigned, da: location.da, memory: where.memory, offset: where.offset };
      this.lastCrash = undefined;
      this.currentVdevs = this.createVdevs();
      this.setState('attached');
      return this.currentVdevs;
    });
  }

  /** Lets go of a running or attached core without stopping it; its virtio devices are reset. */
  async detach(): Promise<void> {
    await this.exclusive('detach', async () => {
      this.requireState('detach', ['running', 'attached']);
      if (!this.ops.detach) throw new RemoteprocStateError(`${this.name}: this target cannot detach from its core`);
      this.closeVdevs('remote detached', true);
      try {
        await this.ops.detach();
      } catch (error) {
        throw classify(error, (message) => new InfrastructureError(`${this.name}: detach failed: ${message}`, { cause: error }));
      }
      this.setState('detached');
    });
  }

  /**
   * Called by the target when the core faulted, its process died or it stopped making
   * progress. Running or attached -> crashed (a report while start() is under way applies
   * once the start completes): the virtio devices close (their transports
   * throw), crash listeners hear `reason`. Ignored in other states (a late report after stop).
   */
  reportCrash(reason: string): void {
    if (this.busy === 'start' && this.currentState === 'offline') {
      this.crashDuringStart ??= reason;
      return;
    }
    if (this.currentState !== 'running' && this.currentState !== 'attached') {
      this.log(`crash report ignored in state ${this.currentState}: ${reason}`);
      return;
    }
    this.lastCrash = reason;
    this.closeVdevs(`remote crashed: ${reason}`, false);
    this.setState('crashed', reason);
    for (const listener of [...this.crashListeners]) this.callListener(() => listener(reason));
  }

  /** Text of trace buffer `index` (up to the first NUL); '' when the table has no such trace. */
  readTrace(index = 0): string {
    const trace = this.loadedTable?.table.traces[index];
    return trace ? readTraceText(this.ops.memory, trace) : '';
  }

  /** Every trace buffer of the loaded table, with its name. */
  readTraces(): { name: string; text: string }[] {
    return (this.loadedTable?.table.traces ?? []).map((trace: TraceEntry) => ({ name: trace.name, text: readTraceText(this.ops.memory, trace) }));
  }

  /**
   * Host memory for the RPMsg host driver (e.g. the buffer pool when the table has no
   * `vdev0buffer` carveout); released with everything else on stop.
   */
  allocate(size: number, align: number, purpose: string): Allocation {
    return this.allocateTracked(size, align, purpose);
  }

  private loadImage(image: ElfImage): void {
    const source = image.source;
    if (this.ops.checkImage) {
      try {
        this.ops.checkImage(image);
      } catch (error) {
        throw classify(error, (message) => new FirmwareLoadError(`${source}: rejected by ${this.name}: ${message}`, { cause: error }));
      }
    }
    if (image.loadSegments.length === 0) throw new FirmwareLoadError(`${source}: no PT_LOAD segment to load`);

    // Translate every segment before writing anything: a bad image must not half-load.
    const placements = image.loadSegments
      .filter((segment) => segment.memsz > 0)
      .map((segment) => {
        const target = this.ops.memory.findDa(segment.paddr, segment.memsz);
        if (!target) {
          throw new FirmwareLoadError(
            `${source}: program header ${segment.index} (PT_LOAD) needs device memory ${hex(segment.paddr)}+${hex(segment.memsz, 0)}, ` +
              `which ${this.name} does not map (${this.describeRegions()})`,
          );
        }
        return { segment, ...this.ops.memory.resolveDa(segment.paddr, segment.memsz) };
      });

    const section = image.section(RESOURCE_TABLE_SECTION);
    let tableBytes: Uint8Array | undefined;
    let table: ResourceTable | undefined;
    let tablePlace: { memory: SharedMemory; offset: number } | undefined;
    if (!section) {
      if (this.requireResourceTable) {
        throw new FirmwareLoadError(
          `${source}: no ${RESOURCE_TABLE_SECTION} section: an RPMsg firmware needs a resource table (requireResourceTable is on)`,
        );
      }
      this.log(`${source}: no resource table, starting without virtio devices`);
    } else {
      if (section.type === SHT_NOBITS) throw new FirmwareLoadError(`${source}: ${RESOURCE_TABLE_SECTION} has no contents in the file (SHT_NOBITS)`);
      tableBytes = section.bytes();
      table = parseResourceTable(tableBytes, source, { vendorHandler: this.options.vendorHandler });
      for (const warning of table.warnings) this.log(warning);
      tablePlace = this.resolve(section.addr, section.size, `${source}: ${RESOURCE_TABLE_SECTION} at ${hex(section.addr)}`);
    }

    this.releaseAllocations();
    try {
      if (tableBytes && table && section) {
        this.assignResources(tableBytes, table, source, 'load');
        this.checkLayout(parseResourceTable(tableBytes, source), section.addr, section.size, source);
      }
      for (const { segment, memory, offset } of placements) {
        memory.write(offset, segment.bytes());
        if (segment.memsz > segment.filesz) memory.fill(offset + segment.filesz, segment.memsz - segment.filesz, 0);
        this.log(`loaded program header ${segment.index} at ${hex(segment.paddr)} (${segment.filesz} of ${segment.memsz} bytes from the file)`);
      }
      if (tableBytes && tablePlace && section) {
        tablePlace.memory.write(tablePlace.offset, tableBytes);
        this.loadedTable = { table: parseResourceTable(tableBytes, source), da: section.addr, ...tablePlace };
      } else {
        this.loadedTable = undefined;
      }
    } catch (error) {
      this.releaseAllocations();
      throw error;
    }
    this.image = image;
    this.loaded = true;
  }

  /**
   * Linux's resource handling on a working copy of the table: carveouts and vrings whose da is
   * ANY get host memory (da and pa written back), fixed ones must translate, traces must
   * translate, vring notify ids are reassigned 0, 1, 2... across all vdevs (Linux's idr), and
   * a vdev notify id left ANY gets the next free id (open-amp). Vring memory is zeroed on load.
   * On attach the core already runs with its table: its rings are not wiped and the notify ids
   * it set are kept (open-amp's Linux machine fixes them at 1 and 2); only ANY ones are assigned.
   */
  private assignResources(bytes: Uint8Array, table: ResourceTable, source: string, mode: 'load' | 'attach'): void {
    const zeroVrings = mode === 'load';
    let nextNotifyId = 0;
    const kept = new Set<number>();
    if (mode === 'attach') {
      for (const vdev of table.vdevs) {
        if (vdev.notifyid !== FW_RSC_NOTIFY_ID_ANY) kept.add(vdev.notifyid);
        for (const vring of vdev.vrings) if (vring.notifyid !== FW_RSC_NOTIFY_ID_ANY) kept.add(vring.notifyid);
      }
    }
    const nextFreeId = (): number => {
      // Bounded: at most kept.size ids are skipped.
      while (kept.has(nextNotifyId)) nextNotifyId++;
      return nextNotifyId++;
    };
    for (const carveout of table.carveouts) {
      const what = `${source}: carveout ${quoteRemote(carveout.name)} (entry ${carveout.index})`;
      if (carveout.da === FW_RSC_ADDR_ANY) {
        const allocation = this.allocateTracked(carveout.len, CARVEOUT_ALIGN, `carveout ${carveout.name}`);
        patchCarveout(bytes, carveout, { da: allocation.da, pa: allocation.pa });
        this.log(`${what}: allocated ${carveout.len} bytes at da ${hex(allocation.da)}`);
      } else {
        this.resolve(carveout.da, carveout.len, `${what} at ${hex(carveout.da)}+${hex(carveout.len, 0)}`);
        if (carveout.pa === FW_RSC_ADDR_ANY) patchCarveout(bytes, carveout, { pa: this.ops.memory.daToPa(carveout.da) });
      }
    }
    for (const devmem of table.devmems) this.log(`${source}: devmem ${quoteRemote(devmem.name)} ignored (no IOMMU to map it)`);
    for (const trace of table.traces) {
      this.resolve(trace.da, trace.len, `${source}: trace ${quoteRemote(trace.name)} (entry ${trace.index}) at ${hex(trace.da)}+${hex(trace.len, 0)}`);
    }

    table.vdevs.forEach((vdev, vdevIndex) => {
      vdev.vrings.forEach((vring, ringIndex) => {
        const size = vringSize(vring.num, vring.align);
        const purpose = `vdev${vdevIndex}vring${ringIndex}`;
        let da = vring.da;
        let pa: number;
        if (da === FW_RSC_ADDR_ANY) {
          ({ da, pa } = this.allocateTracked(size, Math.max(vring.align, VRING_MIN_ALIGN), purpose));
        } else {
          this.resolve(da, size, `${source}: ${purpose} at ${hex(da)}+${hex(size, 0)}`);
          pa = this.ops.memory.daToPa(da);
        }
        if (zeroVrings) {
          const place = this.ops.memory.resolveDa(da, size);
          place.memory.fill(place.offset, size, 0);
        }
        const keep = mode === 'attach' && vring.notifyid !== FW_RSC_NOTIFY_ID_ANY;
        patchVring(bytes, vring, { da, pa, notifyid: keep ? vring.notifyid : nextFreeId() });
      });
    });
    for (const vdev of table.vdevs) {
      if (vdev.notifyid === FW_RSC_NOTIFY_ID_ANY) patchVdevNotifyId(bytes, vdev, nextFreeId());
    }
  }

  /** The memory the current table's resources use (empty when no table is loaded). */
  get layout(): readonly LayoutRegion[] {
    return this.currentLayout;
  }

  /** Vrings, carveouts, traces and the table itself must not overlap (see checkLayout). */
  private checkLayout(table: ResourceTable, tableDa: number, tableSize: number, source: string): void {
    const regions = resourceTableRegions(table, tableDa, tableSize);
    checkLayout(regions, source);
    this.currentLayout = regions;
  }

  private createVdevs(): RemoteprocVdev[] {
    const loaded = this.loadedTable;
    if (!loaded) return [];
    return loaded.table.vdevs.map((entry, index) => {
      const transport = new VdevTransport({
        table: loaded.memory,
        tableOffset: loaded.offset,
        vdev: entry,
        memory: this.ops.memory,
        notify: (notifyId) => this.ops.kick(notifyId),
        label: `${this.name}: vdev ${index}`,
      });
      // Linux resets the device before registering it; the remote waits for DRIVER_OK.
      transport.setStatus(0);
      const buffer = loaded.table.carveouts.find((c) => c.name === `vdev${index}buffer`);
      return { index, entry, transport, ...(buffer ? { bufferCarveout: { da: buffer.da, pa: buffer.pa, len: buffer.len } } : {}) };
    });
  }

  private closeVdevs(reason: string, resetStatus: boolean): void {
    for (const vdev of this.currentVdevs) {
      if (resetStatus && !vdev.transport.closed) {
        try {
          vdev.transport.setStatus(0);
        } catch (error) {
          this.log(`could not reset the status of vdev ${vdev.index}: ${String(error)}`);
        }
      }
      vdev.transport.close(reason);
    }
    this.currentVdevs = [];
  }

  private allocateTracked(size: number, align: number, purpose: string): Allocation {
    let allocation: Allocation;
    try {
      allocation = this.ops.allocate(size, align, purpose);
    } catch (error) {
      throw classify(error, (message) => new FirmwareLoadError(`${this.name}: cannot allocate ${size} bytes for ${purpose}: ${message}`, { cause: error }));
    }
    this.allocations.push({ allocation, size, purpose });
    if (!this.ops.memory.findDa(allocation.da, size) || allocation.da % align !== 0) {
      throw new InfrastructureError(
        `${this.name}: the target allocated ${purpose} at da ${hex(allocation.da)} (${size} bytes, align ${hex(align, 0)}), which is misaligned or not mapped`,
      );
    }
    return allocation;
  }

  private releaseAllocations(): void {
    const allocations = this.allocations.reverse();
    this.allocations = [];
    for (const { allocation, size } of allocations) this.ops.free?.(allocation, size);
  }

  /** Translates a device range the image depends on, or says which one does not map. */
  private resolve(da: number, size: number, what: string): { memory: SharedMemory; offset: number } {
    try {
      const { memory, offset } = this.ops.memory.resolveDa(da, size);
      return { memory, offset };
    } catch (error) {
      if (!(error instanceof MemoryAccessError)) throw error;
      throw new FirmwareLoadError(`${what} is not in device memory ${this.name} maps (${this.describeRegions()})`, { cause: error });
    }
  }

  private describeRegions(): string {
    return this.ops.memory.regions.map((r) => `${r.name} ${hex(r.da)}+${hex(r.size, 0)}`).join(', ') || 'no regions';
  }

  private requireState(action: string, allowed: readonly RemoteprocState[]): void {
    if (!allowed.includes(this.currentState)) {
      throw new RemoteprocStateError(`${this.name}: cannot ${action} while ${this.currentState} (allowed from ${allowed.join(', ')})`);
    }
  }

  private async exclusive<T>(action: string, body: () => Promise<T>): Promise<T> {
    if (this.busy) throw new RemoteprocStateError(`${this.name}: cannot ${action} while ${this.busy} is in progress`);
    this.busy = action;
    try {
      return await body();
    } finally {
      this.busy = undefined;
    }
  }

  /** `reason` (why a remote crashed) goes into the log line. */
  private setState(state: RemoteprocState, reason?: string): void {
    const previous = this.currentState;
    if (previous === state) return;
    this.currentState = state;
    this.log(`state ${previous} -> ${state}${reason ? `: ${reason}` : ''}`);
    for (const listener of [...this.stateListeners]) this.callListener(() => listener(state, previous));
  }

  private callListener(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.log(`listener failed: ${String(error)}`);
    }
  }

  private log(message: string): void {
    this.options.log?.(`${this.name}: ${message}`);
  }
}

/** Our own errors keep their class; anything else becomes `wrap(message)`. */
function classify(error: unknown, wrap: (message: string) => FarmError): FarmError {
  if (error instanceof FarmError) return error;
  return wrap(error instanceof Error ? error.message : String(error));
}
