import type { AddressSpace } from '../memory/shared-memory.js';

/** Virtio device status bits (legacy virtio, as the remoteproc vdev uses them). */
export const VIRTIO_STATUS = {
  ACKNOWLEDGE: 0x01,
  DRIVER: 0x02,
  DRIVER_OK: 0x04,
  FEATURES_OK: 0x08,
  NEEDS_RESET: 0x40,
  FAILED: 0x80,
} as const;

export const VIRTIO_ID_RPMSG = 7;
export const VIRTIO_RPMSG_F_NS = 1 << 0;
/** VIRTIO_RING_F_EVENT_IDX, bit 29 of the (32-bit, legacy) feature word. */
export const VIRTIO_RING_F_EVENT_IDX = 1 << 29;

/** One vring as the resource table describes it once the host has assigned it. */
export interface VringInfo {
  /** Device address (what the remote core uses; `vring[i].da` in the resource table). */
  readonly da: number;
  readonly num: number;
  readonly align: number;
  readonly notifyId: number;
}

/**
 * A remoteproc virtio device as the virtio layer sees it: the vdev entry of a loaded resource
 * table, living in shared memory. The host side writes status and driver features; the remote
 * side reads them. Vring memory is reached through `memory` (device addresses).
 */
export interface VirtioTransport {
  readonly memory: AddressSpace;
  readonly vrings: readonly VringInfo[];
  readonly deviceFeatures: number;
  getDriverFeatures(): number;
  setDriverFeatures(features: number): void;
  getStatus(): number;
  setStatus(status: number): void;
  /** Ring the other side for vring `notifyId`. */
  notify(notifyId: number): void;
}
