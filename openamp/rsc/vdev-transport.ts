import { ProtocolError, hex } from '../../base/errors.js';
import type { AddressSpace, SharedMemory } from '../memory/shared-memory.js';
import { VIRTIO_ID_RPMSG, type VirtioTransport, type VringInfo } from '../virtio/transport.js';
import { vringSize } from '../virtio/vring-layout.js';
import { parseResourceTable, type VdevEntry } from './parse-resource-table.js';
import { FW_RSC_ADDR_ANY, VDEV_FIELDS, VRING_FIELDS } from './rsc-layout.js';
import { ResourceTableError } from './rsc-error.js';

/** The virtio device was torn down (remote stopped, crashed or detached): make a new one. */
export class TransportClosedError extends ProtocolError {}

/** A vring was read before the host assigned its address (remote read it before DRIVER_OK). */
export class VringNotAssignedError extends ProtocolError {}

export interface VdevTransportOptions {
  /** The memory holding the loaded resource table. */
  table: SharedMemory;
  /** Where the table starts inside `table`. */
  tableOffset: number;
  /** The vdev entry, as parsed from that same table. */
  vdev: VdevEntry;
  /** Device-address translation for the vrings and buffers. */
  memory: AddressSpace;
  /** Rings the other side (a doorbell, the remoteproc kick). */
  notify: (notifyId: number) => void;
  /** For messages ("sim-r5: vdev 0"). */
  label?: string;
}

export interface VdevTransportFromMemoryOptions extends Omit<VdevTransportOptions, 'vdev'> {
  /** Bytes of the table in memory (the section size, or what the platform reports). */
  tableSize: number;
  /** Which vdev, counted among the table's vdevs; by default the first RPMsg vdev. */
  vdevIndex?: number;
  /** Names the table in errors. */
  source?: string;
}

/**
 * A VirtioTransport over the vdev entry of a resource table that lives in shared memory, for
 * both roles: the host writes status and driver features, the remote reads them. Status and
 * features go through the ordered accessors because the other core polls them. The vring
 * addresses and notify ids are read live from the table (the host may assign them after the
 * remote found the table); num and align come from the validated entry.
 */
export class VdevTransport implements VirtioTransport {
  readonly memory: AddressSpace;
  readonly deviceFeatures: number;
  readonly vdev: VdevEntry;
  readonly label: string;
  private readonly table: SharedMemory;
  private readonly base: number;
  private readonly kick: (notifyId: number) => void;
  private closedReason: string | undefined;
  private cachedVrings: readonly VringInfo[] = [];

  constructor(options: VdevTransportOptions) {
    this.table = options.table;
    this.base = options.tableOffset + options.vdev.offset;
    this.vdev = options.vdev;
    this.memory = options.memory;
    this.kick = options.notify;
    this.deviceFeatures = options.vdev.dfeatures;
    this.label = options.label ?? `vdev ${options.vdev.index}`;
  }

  /**
   * Re-reads and re-validates the table found in memory (the remote must not trust what the
   * host wrote) and builds a transport over one of its vdevs.
   */
  static fromMemory(options: VdevTransportFromMemoryOptions): VdevTransport {
    const source = options.source ?? `${options.table.name}@${hex(options.tableOffset, 0)}`;
    const table = parseResourceTable(options.table.read(options.tableOffset, options.tableSize), source);
    const vdev = options.vdevIndex === undefined ? table.vdevs.find((v) => v.id === VIRTIO_ID_RPMSG) : table.vdevs[options.vdevIndex];
    if (!vdev) {
      throw new ResourceTableError(source, options.vdevIndex, 0, options.vdevIndex === undefined ? 'no RPMsg vdev (virtio id 7) in the table' : `no vdev number ${options.vdevIndex} in the table`);
    }
    return new VdevTransport({ ...options, vdev });
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Every later access throws TransportClosedError with `reason`. */
  close(reason: string): void {
    this.closedReason ??= reason;
  }

  /**
   * The vrings with the addresses and notify ids currently in the table. Throws
   * VringNotAssignedError while a da is still ANY, MemoryAccessError when a ring does not lie
   * inside mapped memory.
   */
  get vrings(): readonly VringInfo[] {
    this.checkOpen();
    const current = this.vdev.vrings.map((vring) => {
      const at = this.base - this.vdev.offset + vring.offset;
      return { da: this.table.loadU32(at + VRING_FIELDS.da), notifyId: this.table.loadU32(at + VRING_FIELDS.notifyid) };
    });
    const unchanged =
      this.cachedVrings.length === current.length && current.every((c, i) => c.da === this.cachedVrings[i]!.da && c.notifyId === this.cachedVrings[i]!.notifyId);
    if (unchanged) return this.cachedVrings;
    const vrings = this.vdev.vrings.map((vring, i): VringInfo => {
      const { da, notifyId } = current[i]!;
      if (da === FW_RSC_ADDR_ANY) {
        throw new VringNotAssignedError(`${this.label}: vring ${i} has no device address yet (da = ANY); wait for DRIVER_OK before reading vrings`);
      }
      this.memory.resolveDa(da, vringSize(vring.num, vring.align));
      return Object.freeze({ da, num: vring.num, align: vring.align, notifyId });
    });
    this.cachedVrings = Object.freeze(vrings);
    return this.cachedVrings;
  }

  getDriverFeatures(): number {
    this.checkOpen();
    return this.table.loadU32(this.base + VDEV_FIELDS.gfeatures);
  }

  setDriverFeatures(features: number): void {
    this.checkOpen();
    this.table.storeU32(this.base + VDEV_FIELDS.gfeatures, features >>> 0);
  }

  getStatus(): number {
    this.checkOpen();
    return this.table.loadU8(this.base + VDEV_FIELDS.status);
  }

  setStatus(status: number): void {
    this.checkOpen();
    this.table.storeU8(this.base + VDEV_FIELDS.status, status & 0xff);
  }

  /** The device-specific config space, read live. */
  readConfig(): Uint8Array {
    this.checkOpen();
    return this.table.read(this.base - this.vdev.offset + this.vdev.configOffset, this.vdev.configLen);
  }

  notify(notifyId: number): void {
    this.checkOpen();
    this.kick(notifyId);
  }

  private checkOpen(): void {
    if (this.closedReason !== undefined) throw new TransportClosedError(`${this.label}: virtio device is gone (${this.closedReason})`);
  }
}
