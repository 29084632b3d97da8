import { hex } from '../../base/errors.js';
import type { SharedMemory } from '../../openamp/memory/shared-memory.js';
import type { RemoteprocVdev } from '../../openamp/remoteproc/remoteproc.js';
import { VDEV_FIELDS, VRING_FIELDS } from '../../openamp/rsc/rsc-layout.js';

interface GuardedField {
  readonly name: string;
  /** Offset inside the table memory. */
  readonly at: number;
  readonly width: 1 | 4;
  readonly value: number;
}

/**
 * The parts of a vdev entry only the host may change once it has attached: the status byte it
 * wrote, the vring count and every vring's address, alignment, size and
 * notify id. `check` says which field the remote rewrote since
 * (name, old and new value, and its device address), or undefined when none.
 */
export class VdevConfigGuard {
  private readonly fields: GuardedField[] = [];

  /**
   * The expected values are what the host attached to (the parsed entry, host-assigned
   * addresses included) and the status it wrote, not what memory holds now: a remote racing
   * the host cannot make its rewrite the reference.
   */
  constructor(
    private readonly memory: SharedMemory,
    private readonly tableOffset: number,
    private readonly tableDa: number,
    vdev: RemoteprocVdev,
    status: number,
  ) {
    const entry = tableOffset + vdev.entry.offset;
    this.guard('status', entry + VDEV_FIELDS.status, 1, status);
    this.guard('num_of_vrings', entry + VDEV_FIELDS.numOfVrings, 1, vdev.entry.vrings.length);
    vdev.entry.vrings.forEach((vring, i) => {
      const at = tableOffset + vring.offset;
      this.guard(`vring[${i}].da`, at + VRING_FIELDS.da, 4, vring.da);
      this.guard(`vring[${i}].align`, at + VRING_FIELDS.align, 4, vring.align);
      this.guard(`vring[${i}].num`, at + VRING_FIELDS.num, 4, vring.num);
      this.guard(`vring[${i}].notifyid`, at + VRING_FIELDS.notifyid, 4, vring.notifyid);
    });
  }

  check(): string | undefined {
    for (const field of this.fields) {
      const now = this.read(field.at, field.width);
      if (now !== field.value) {
        const width = field.width === 1 ? 2 : 8;
        return (
          `the remote rewrote ${field.name} at ${hex(this.tableDa + (field.at - this.tableOffset))} after the host attached: ` +
          `${hex(field.value, width)} -> ${hex(now, width)} (only the host may write it)`
        );
      }
    }
    return undefined;
  }

  private guard(name: string, at: number, width: 1 | 4, value: number): void {
    this.fields.push({ name, at, width, value: value >>> 0 });
  }

  private read(at: number, width: 1 | 4): number {
    return width === 1 ? this.memory.loadU8(at) : this.memory.loadU32(at);
  }
}
