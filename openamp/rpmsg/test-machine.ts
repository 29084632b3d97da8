import type { Doorbell } from '../doorbell/doorbell.js';
import { AddressSpace, type SharedMemory } from '../memory/shared-memory.js';
import { SabMemory } from '../memory/sab-memory.js';
import { VIRTIO_RPMSG_F_NS, type VirtioTransport, type VringInfo } from '../virtio/transport.js';
import { vringSize } from '../virtio/vring-layout.js';
import { createRpmsgHost, type VirtioRpmsgHost } from './host.js';
import { createRpmsgRemote, type VirtioRpmsgRemote } from './remote.js';

/**
 * An in-process machine for the RPMsg unit tests: one SharedArrayBuffer holding a minimal
 * vdev (status, features), two vrings and a buffer pool, with a doorbell pair that rings
 * through setImmediate (never re-entering the caller). Not a remoteproc: the resource table
 * and firmware loading live in openamp/rsc and openamp/remoteproc.
 */

/** Where the vdev fields live in the test machine's memory (store offsets). */
export const TEST_VDEV_STATUS = 0x0;
export const TEST_VDEV_DFEATURES = 0x4;
export const TEST_VDEV_GFEATURES = 0x8;

/** A vdev whose status and feature words are three fields of shared memory. */
export class MemoryVdevTransport implements VirtioTransport {
  constructor(
    readonly memory: AddressSpace,
    private readonly store: SharedMemory,
    private readonly vdevOffset: number,
    private readonly rings: readonly VringInfo[],
    /** This side's end of the doorbell pair: `notify` rings the other side through it. */
    private readonly doorbell: Doorbell,
  ) {}

  get vrings(): readonly VringInfo[] {
    return this.rings;
  }

  get deviceFeatures(): number {
    return this.store.loadU32(this.vdevOffset + TEST_VDEV_DFEATURES);
  }

  getDriverFeatures(): number {
    return this.store.loadU32(this.vdevOffset + TEST_VDEV_GFEATURES);
  }

  setDriverFeatures(features: number): void {
    this.store.storeU32(this.vdevOffset + TEST_VDEV_GFEATURES, features);
  }

  getStatus(): number {
    return this.store.loadU8(this.vdevOffset + TEST_VDEV_STATUS);
  }

  setStatus(status: number): void {
    this.store.storeU8(this.vdevOffset + TEST_VDEV_STATUS, status);
  }

  notify(notifyId: number): void {
    this.doorbell.notify(notifyId);
  }
}

/** One end of an in-process doorbell pair. Rings are coalesced and delivered on setImmediate. */
export class LoopbackDoorbell implements Doorbell {
  readonly kind = 'loopback';
  peer: LoopbackDoorbell | undefined;
  rings = 0;
  private handler: ((notifyId: number) => void) | undefined;
  private scheduled: NodeJS.Immediate | undefined;
  private lastNotifyId = 0;
  private closed = false;

  static pair(): [LoopbackDoorbell, LoopbackDoorbell] {
    const a = new LoopbackDoorbell();
    const b = new LoopbackDoorbell();
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  notify(notifyId: number): void {
    if (this.closed) return;
    this.rings++;
    this.peer?.ring(notifyId);
  }

  listen(handler: (notifyId: number) => void): () => void {
    this.handler = handler;
    return () => {
      if (this.handler === handler) this.handler = undefined;
    };
  }

  close(): void {
    this.closed = true;
    this.handler = undefined;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
  }

  private ring(notifyId: number): void {
    this.lastNotifyId = notifyId;
    if (this.scheduled || this.closed) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      this.handler?.(this.lastNotifyId);
    });
  }
}

export interface TestMachineOptions {
  num?: number;
  align?: number;
  bufferSize?: number;
  /** What the remote offers; VIRTIO_RPMSG_F_NS by default. */
  deviceFeatures?: number;
  /** Bus (= device) address of the shared memory; 0x3ed00000 by default. */
  base?: number;
}

export interface TestMachine {
  memory: SabMemory;
  space: AddressSpace;
  base: number;
  hostTransport: MemoryVdevTransport;
  remoteTransport: MemoryVdevTransport;
  hostDoorbell: LoopbackDoorbell;
  remoteDoorbell: LoopbackDoorbell;
  bufferPool: { da: number; size: number };
  /** Store offsets of vring 0 and vring 1. */
  vringOffsets: [number, number];
  close(): void;
}

/**
 * Layout (store offsets): vdev at 0, vring 0 at 0x4000, vring 1 after it (page aligned), buffer
 * pool after that holding min(2*num, 512) buffers. One region, da == pa.
 */
export function createTestMachine(options: TestMachineOptions = {}): TestMachine {
  const num = options.num ?? 256;
  const align = options.align ?? 0x1000;
  const bufferSize = options.bufferSize ?? 512;
  const base = options.base ?? 0x3ed0_0000;
  const ringBytes = Math.ceil(vringSize(num, align) / 0x1000) * 0x1000;
  const vring0 = 0x4000;
  const vring1 = vring0 + ringBytes;
  const poolOffset = vring1 + ringBytes;
  const poolSize = Math.min(2 * num, 512) * bufferSize;
  const size = poolOffset + poolSize;
  const memory = SabMemory.allocate(size, 'sab:test-machine');
  const space = new AddressSpace([{ name: 'test-ddr', da: base, pa: base, size, memory, offset: 0 }]);
  memory.storeU32(TEST_VDEV_DFEATURES, options.deviceFeatures ?? VIRTIO_RPMSG_F_NS);
  const vrings: VringInfo[] = [
    { da: base + vring0, num, align, notifyId: 1 },
    { da: base + vring1, num, align, notifyId: 2 },
  ];
  const [hostDoorbell, remoteDoorbell] = LoopbackDoorbell.pair();
  return {
    memory,
    space,
    base,
    hostTransport: new MemoryVdevTransport(space, memory, 0, vrings, hostDoorbell),
    remoteTransport: new MemoryVdevTransport(space, memory, 0, vrings, remoteDoorbell),
    hostDoorbell,
    remoteDoorbell,
    bufferPool: { da: base + poolOffset, size: poolSize },
    vringOffsets: [vring0, vring1],
    close(): void {
      hostDoorbell.close();
      remoteDoorbell.close();
    },
  };
}

export interface RpmsgPairOptions extends TestMachineOptions {
  /** Both devices listen on the loopback doorbells (default false: the test calls pump()). */
  listen?: boolean;
  hostBufferSize?: number;
  remoteBufferSize?: number;
  /** The host's cap on announced channels (RpmsgDeviceOptions.maxChannels). */
  hostMaxChannels?: number;
  /** The host's spin after each send and what it calls while spinning (RpmsgVirtioOptions). */
  hostSpinAfterSendUs?: number;
  hostSpinYield?: () => void;
}

export interface RpmsgPair {
  machine: TestMachine;
  host: VirtioRpmsgHost;
  remote: VirtioRpmsgRemote;
  hostErrors: Error[];
  remoteErrors: Error[];
  /** Polls remote then host until a round handles nothing (at most `maxRounds`); returns rounds. */
  pump(maxRounds?: number): number;
  close(): void;
}

/** A remote waiting for DRIVER_OK, then a host bringing the device up, on one test machine. */
export function createRpmsgPair(options: RpmsgPairOptions = {}): RpmsgPair {
  const machine = createTestMachine({ ...options, bufferSize: options.hostBufferSize ?? options.bufferSize });
  const hostErrors: Error[] = [];
  const remoteErrors: Error[] = [];
  const listen = options.listen ?? false;
  const remote = createRpmsgRemote({
    transport: machine.remoteTransport,
    doorbell: machine.remoteDoorbell,
    bufferSize: options.remoteBufferSize ?? options.bufferSize,
    listen,
    statusPollMs: listen ? 5 : 0,
    onProtocolError: (error) => remoteErrors.push(error),
  });
  const host = createRpmsgHost({
    transport: machine.hostTransport,
    doorbell: machine.hostDoorbell,
    bufferPool: machine.bufferPool,
    bufferSize: options.hostBufferSize ?? options.bufferSize,
    listen,
    onProtocolError: (error) => hostErrors.push(error),
    ...(options.hostMaxChannels === undefined ? {} : { maxChannels: options.hostMaxChannels }),
    spinAfterSendUs: options.hostSpinAfterSendUs ?? 0,
    spinYield: options.hostSpinYield,
  });
  return {
    machine,
    host,
    remote,
    hostErrors,
    remoteErrors,
    pump(maxRounds = 1000): number {
      for (let round = 1; round <= maxRounds; round++) {
        if (remote.poll() + host.poll() === 0 && round > 1) return round;
      }
      return maxRounds;
    },
    close(): void {
      host.close();
      remote.close();
      machine.close();
    },
  };
}
