import { InfrastructureError, hex } from '../../base/errors.js';
import { UnixSocketDoorbell, UnixSocketDoorbellListener, DEFAULT_EVENT_SOCKET_PATH } from '../doorbell/unix-socket-doorbell.js';
import { FileMemory } from '../memory/file-memory.js';
import { AddressSpace, type MemoryRegion } from '../memory/shared-memory.js';
import { vringSize } from '../virtio/vring-layout.js';

/**
 * open-amp's "Linux generic machine": remote and host are two Linux processes sharing a POSIX
 * shm file (addresses in the resource table and descriptors are offsets into it: da == pa ==
 * offset) and kicking each other over one UNIX stream socket. Process 0 (the remote/device
 * side in the open-amp demos) creates the shm, writes the resource table and serves the
 * socket; process 1 (the host/driver side) connects.
 */
export const LINUX_GENERIC = {
  shmName: 'openamp.shm',
  shmPath: '/dev/shm/openamp.shm',
  shmSize: 0x80000,
  resourceTableOffset: 0x0,
  vdev: { notifyId: 0, dfeatures: 1 },
  vrings: [
    { da: 0x4000, align: 0x1000, num: 256, notifyId: 1 },
    { da: 0x8000, align: 0x1000, num: 256, notifyId: 2 },
  ],
  bufferPool: { offset: 0x10000, size: 0x40000, bufferSize: 512 },
  eventSocketPath: DEFAULT_EVENT_SOCKET_PATH,
} as const;

export interface LinuxGenericVring {
  da: number;
  align: number;
  num: number;
  notifyId: number;
}

/** The whole layout with the paths filled in; every run that may overlap another gets its own paths. */
export interface LinuxGenericLayout {
  shmPath: string;
  shmSize: number;
  resourceTableOffset: number;
  vdev: { notifyId: number; dfeatures: number };
  vrings: readonly [LinuxGenericVring, LinuxGenericVring];
  bufferPool: { offset: number; size: number; bufferSize: number };
  eventSocketPath: string;
}

export interface LinuxGenericPaths {
  /** Default /dev/shm/openamp.shm. */
  shmPath?: string;
  /** Default /tmp/openamp.event.0. */
  eventSocketPath?: string;
}

export function linuxGenericLayout(paths: LinuxGenericPaths = {}): LinuxGenericLayout {
  return {
    shmPath: paths.shmPath ?? LINUX_GENERIC.shmPath,
    shmSize: LINUX_GENERIC.shmSize,
    resourceTableOffset: LINUX_GENERIC.resourceTableOffset,
    vdev: { ...LINUX_GENERIC.vdev },
    vrings: [{ ...LINUX_GENERIC.vrings[0] }, { ...LINUX_GENERIC.vrings[1] }],
    bufferPool: { ...LINUX_GENERIC.bufferPool },
    eventSocketPath: paths.eventSocketPath ?? LINUX_GENERIC.eventSocketPath,
  };
}

/** Paths unique to this process and `tag`, for runs that must not collide with each other. */
export function uniqueLinuxGenericPaths(tag: string): Required<LinuxGenericPaths> {
  const safe = tag.replace(/[^A-Za-z0-9_.-]/g, '_');
  const id = `${safe}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  return { shmPath: `/dev/shm/openamp-${id}.shm`, eventSocketPath: `/tmp/openamp-${id}.event` };
}

/** Number of `bufferSize` buffers in the pool (0x40000 / 512 = 512). */
export function bufferCount(layout: LinuxGenericLayout): number {
  return Math.floor(layout.bufferPool.size / layout.bufferPool.bufferSize);
}

export interface LinuxGenericMemory {
  memory: FileMemory;
  /** One region over the whole file with da == pa == offset. */
  addressSpace: AddressSpace;
  layout: LinuxGenericLayout;
}

export interface OpenLinuxGenericShmOptions extends LinuxGenericPaths {
  /**
   * 'create': make or resize the file (process 0's job); 'open': use an existing file (process
   * 1), which must be at least shmSize bytes.
   */
  mode: 'create' | 'open';
  /** For 'create': remove the file on close (only if this call created it). */
  unlinkOnClose?: boolean;
}

export function openLinuxGenericShm(options: OpenLinuxGenericShmOptions): LinuxGenericMemory {
  const layout = linuxGenericLayout(options);
  checkLayout(layout);
  const memory =
    options.mode === 'create'
      ? FileMemory.create(layout.shmPath, layout.shmSize, { unlinkOnClose: options.unlinkOnClose === true })
      : FileMemory.open(layout.shmPath, { size: layout.shmSize });
  return { memory, addressSpace: linuxGenericAddressSpace(memory), layout };
}

export function linuxGenericAddressSpace(memory: FileMemory): AddressSpace {
  const region: MemoryRegion = { name: LINUX_GENERIC.shmName, da: 0, pa: 0, size: memory.size, memory, offset: 0 };
  return new AddressSpace([region]);
}

/** Process 0: bind the event socket now (before starting process 1), accept later. */
export function bindLinuxGenericEvent(layout: LinuxGenericLayout): Promise<UnixSocketDoorbellListener> {
  return UnixSocketDoorbellListener.bind(layout.eventSocketPath);
}

/** Process 1: connect to process 0's event socket, retrying until `timeoutMs`. */
export function connectLinuxGenericEvent(layout: LinuxGenericLayout, timeoutMs?: number): Promise<UnixSocketDoorbell> {
  return UnixSocketDoorbell.connect({ path: layout.eventSocketPath, connectTimeoutMs: timeoutMs });
}

/** Throws unless the tables, vrings and buffer pool fit the shm without overlapping. */
export function checkLayout(layout: LinuxGenericLayout): void {
  const areas: { name: string; start: number; size: number }[] = [
    { name: 'resource table', start: layout.resourceTableOffset, size: 1 },
    ...layout.vrings.map((v, i) => ({ name: `vring ${i}`, start: v.da, size: vringSize(v.num, v.align) })),
    { name: 'buffer pool', start: layout.bufferPool.offset, size: layout.bufferPool.size },
  ];
  const sorted = [...areas].sort((a, b) => a.start - b.start);
  for (const [i, area] of sorted.entries()) {
    if (area.start + area.size > layout.shmSize) {
      throw new InfrastructureError(`${area.name} at ${hex(area.start)} (+${hex(area.size)}) does not fit the ${hex(layout.shmSize)}-byte shm`);
    }
    const next = sorted[i + 1];
    if (next && area.start + area.size > next.start) {
      throw new InfrastructureError(`${area.name} at ${hex(area.start)} (+${hex(area.size)}) overlaps ${next.name} at ${hex(next.start)}`);
    }
  }
}
