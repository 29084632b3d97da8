import type { ElfImage } from '../elf/parse-elf.js';
import type { AddressSpace } from '../memory/shared-memory.js';

/** Memory the host allocated for the remote (a carveout or vring whose da was ANY). */
export interface Allocation {
  readonly da: number;
  readonly pa: number;
}

/** Where a running core's resource table is (for attach): device address and size. */
export interface ResourceTableLocation {
  readonly da: number;
  readonly size: number;
}

/**
 * What a target provides to run a remote core, split the way open-amp splits its
 * remoteproc ops: memory, image check, allocation, start/stop, attach/detach, kick. The
 * target reports a crash by calling `Remoteproc.reportCrash` on the Remoteproc it built.
 */
export interface RemoteprocOps {
  /** Device-visible memory: every segment, carveout, trace buffer and vring is reached through it. */
  readonly memory: AddressSpace;

  /** Rejects images this core cannot run (machine, class): throw a FirmwareError. */
  checkImage?(image: ElfImage): void;

  /**
   * Host memory for a resource whose da is ANY, `size` bytes aligned to `align` (a power of
   * two), reachable through `memory`. `purpose` names it ("carveout vdev0buffer",
   * "vdev0vring1"). Throw CarveoutExhaustedError when there is no room. CarveoutAllocator
   * implements this over one region.
   */
  allocate(size: number, align: number, purpose: string): Allocation;
  /** Gives back an allocation on stop or on a failed load (optional: a pool reset at start works too). */
  free?(allocation: Allocation, size: number): void;

  /** Starts the core at `entry`; resolves once it runs. */
  start(entry: number): Promise<void>;
  /** Stops the core (halts, resets, kills the process); resolves once it no longer runs. */
  stop(): Promise<void>;

  /** Rings the remote for vring `notifyId` (the mailbox / doorbell kick). */
  kick(notifyId: number): void;

  /** Takes over a core that is already running; says where its resource table is. */
  attach?(): Promise<ResourceTableLocation>;
  /** Lets go of an attached core without stopping it. */
  detach?(): Promise<void>;
}
