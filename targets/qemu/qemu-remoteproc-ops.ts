import { assertMachine } from '../../openamp/elf/check-machine.js';
import type { ElfImage } from '../../openamp/elf/parse-elf.js';
import { FirmwareError, InfrastructureError, hex } from '../../base/errors.js';
import type { AddressSpace } from '../../openamp/memory/shared-memory.js';
import { CarveoutAllocator } from '../../openamp/remoteproc/carveout-allocator.js';
import type { Allocation, RemoteprocOps } from '../../openamp/remoteproc/remoteproc-ops.js';
import type { QemuInstance } from '../../qemu/qemu-instance.js';
import type { Doorbell } from '../../openamp/doorbell/doorbell.js';

/** A firmware segment would land outside the part of RAM the machine gives firmware. */
export class SegmentOutsideRamError extends FirmwareError {}

/**
 * Remoteproc operations for a core emulated by QEMU: memory is the guest RAM file, images must
 * be for the machine's core and fit its image window, vrings and buffers come from the
 * machine's carveout pool, start = (boot-stub mailbox) + QMP cont, stop = a power cycle of the
 * machine (a fresh paused QEMU) or, without a power driver, QMP stop + machine reset. There is
 * no interrupt to ring in the guest: the remote polls its rings; kicks go to the host's
 * doorbell end.
 */
export interface QemuOpsHooks {
  /** Called after the core was started (the target starts its crash watch here). */
  readonly onStarted?: () => void;
  /** Called before the core is stopped. */
  readonly onStopping?: () => void;
  /**
   * The host's end of the doorbell: `kick` tells it the host rang (a polling doorbell then
   * looks at the rings on every turn for a burst). The guest has no interrupt line from us.
   */
  readonly doorbell?: Doorbell;
}

/**
 * How the ops reach QEMU without owning it: the QEMU power driver (targets/drivers/qemu-power.ts)
 * owns the process; the ops ask it for the running instance, and for a power cycle on stop.
 */
export interface QemuMachineAccess {
  /** The running QEMU (throws when the machine is off). */
  current(): QemuInstance;
  /** Replaces QEMU by a fresh, paused one; without it, stop pauses and resets the machine. */
  cycle?(): Promise<void>;
}

export class QemuRemoteprocOps implements RemoteprocOps {
  private readonly allocator: CarveoutAllocator;

  constructor(
    private readonly machine: QemuMachineAccess,
    private readonly hooks: QemuOpsHooks = {},
  ) {
    const qemu = machine.current();
    const pool = qemu.profile.carveoutPool;
    this.allocator = new CarveoutAllocator({ name: `${qemu.name} carveout pool`, da: pool.base, pa: pool.base, size: pool.size });
  }

  get memory(): AddressSpace {
    return this.machine.current().memory;
  }

  checkImage(image: ElfImage): void {
    const { profile } = this.machine.current();
    assertMachine(image, profile.elfMachine, profile.elfClass);
    const window = profile.imageWindow;
    for (const segment of image.loadSegments) {
      if (segment.memsz === 0) continue;
      const end = segment.paddr + segment.memsz;
      if (segment.paddr < window.base || end > window.base + window.size) {
        throw new SegmentOutsideRamError(
          `${image.source}: segment ${segment.index} at ${hex(segment.paddr)}..${hex(end)} is outside the ${profile.name} firmware RAM ` +
            `${hex(window.base)}..${hex(window.base + window.size)}`,
        );
      }
    }
  }

  allocate(size: number, align: number, purpose: string): Allocation {
    return this.allocator.allocate(size, align, purpose);
  }

  free(allocation: Allocation): void {
    this.allocator.free(allocation);
  }

  async start(entry: number): Promise<void> {
    const qemu = this.machine.current();
    const { mailbox } = qemu.profile;
    if (mailbox) qemu.writeWords(mailbox.address, mailbox.startWords(entry));
    await qemu.resume();
    if (mailbox?.ack) {
      const deadline = Date.now() + 2000;
      while (qemu.readWord(mailbox.address + mailbox.ack.offset) !== mailbox.ack.value) {
        if (Date.now() > deadline) {
          const ack = qemu.readWord(mailbox.address + mailbox.ack.offset);
          throw new InfrastructureError(`${qemu.name}: the boot stub did not acknowledge the start request within 2 s (ack word ${hex(ack)})`);
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    this.hooks.onStarted?.();
  }

  async stop(): Promise<void> {
    this.hooks.onStopping?.();
    if (this.machine.cycle) {
      await this.machine.cycle();
      return;
    }
    const qemu = this.machine.current();
    await qemu.pause();
    await qemu.reset();
    const { mailbox } = qemu.profile;
    // The whole mailbox, or a request word left behind would start the core at the next reset.
    if (mailbox) qemu.writeWords(mailbox.address, mailbox.startWords(0).map(() => 0));
  }

  /**
   * Host -> guest: the reference firmware polls its rings (there is no interrupt to raise in
   * the guest), so a kick only reaches the host's own doorbell end, which may poll harder now
   * that an answer is due. Every host kick comes here (virtio notify -> remoteproc ops).
   */
  kick(notifyId: number): void {
    this.hooks.doorbell?.notify(notifyId);
  }
}
