import { assertMachine } from '../../openamp/elf/check-machine.js';
import type { ElfImage } from '../../openamp/elf/parse-elf.js';
import { FirmwareError, InfrastructureError, hex } from '../../openamp/errors.js';
import type { AddressSpace } from '../../openamp/memory/shared-memory.js';
import { CarveoutAllocator } from '../../openamp/remoteproc/carveout-allocator.js';
import type { Allocation, RemoteprocOps } from '../../openamp/remoteproc/remoteproc-ops.js';
import type { QemuInstance } from '../../qemu/qemu-instance.js';

/** A firmware segment would land outside the part of RAM the machine gives firmware. */
export class SegmentOutsideRamError extends FirmwareError {}

/**
 * Remoteproc operations for a core emulated by QEMU: memory is the guest RAM file, images must
 * be for the machine's core and fit its image window, vrings and buffers come from the
 * machine's carveout pool, start = (boot-stub mailbox) + QMP cont, stop = QMP stop + machine
 * reset (the core goes back to its reset state, paused). There is no interrupt to ring: the
 * remote polls its rings, and so does the host.
 */
export interface QemuOpsHooks {
  /** Called after the core was started (the target starts its crash watch here). */
  readonly onStarted?: () => void;
  /** Called before the core is stopped. */
  readonly onStopping?: () => void;
  /**
   * Replaces QEMU by a fresh, paused one on stop. TCG keeps translated code across a machine
   * reset and never sees our writes to the RAM file, so the next image would run stale code.
   */
  readonly relaunch?: () => Promise<QemuInstance>;
}

export class QemuRemoteprocOps implements RemoteprocOps {
  private readonly allocator: CarveoutAllocator;

  constructor(
    private qemu: QemuInstance,
    private readonly hooks: QemuOpsHooks = {},
  ) {
    const pool = qemu.profile.carveoutPool;
    this.allocator = new CarveoutAllocator({ name: `${qemu.name} carveout pool`, da: pool.base, pa: pool.base, size: pool.size });
  }

  get memory(): AddressSpace {
    return this.qemu.memory;
  }

  checkImage(image: ElfImage): void {
    const { profile } = this.qemu;
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
    const { mailbox } = this.qemu.profile;
    if (mailbox) this.qemu.writeWords(mailbox.address, mailbox.startWords(entry));
    await this.qemu.resume();
    if (mailbox?.ack) {
      const deadline = Date.now() + 2000;
      while (this.qemu.readWord(mailbox.address + mailbox.ack.offset) !== mailbox.ack.value) {
        if (Date.now() > deadline) {
          const ack = this.qemu.readWord(mailbox.address + mailbox.ack.offset);
          throw new InfrastructureError(`${this.qemu.name}: the boot stub did not acknowledge the start request within 2 s (ack word ${hex(ack)})`);
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    this.hooks.onStarted?.();
  }

  async stop(): Promise<void> {
    this.hooks.onStopping?.();
    if (this.hooks.relaunch) {
      this.qemu = await this.hooks.relaunch();
      return;
    }
    await this.qemu.pause();
    await this.qemu.reset();
    const { mailbox } = this.qemu.profile;
    // The whole mailbox, or a request word left behind would start the core at the next reset.
    if (mailbox) this.qemu.writeWords(mailbox.address, mailbox.startWords(0).map(() => 0));
  }

  kick(): void {}
}
