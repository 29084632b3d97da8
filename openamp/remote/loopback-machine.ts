import { AtomicsDoorbell } from '../doorbell/atomics-doorbell.js';
import type { Doorbell } from '../doorbell/doorbell.js';
import { PollingDoorbell } from '../doorbell/polling-doorbell.js';
import { UnixSocketDoorbell } from '../doorbell/unix-socket-doorbell.js';
import { InfrastructureError } from '../../base/errors.js';
import { linuxGenericLayout, openLinuxGenericShm, uniqueLinuxGenericPaths, type LinuxGenericLayout } from '../machines/linux-generic.js';
import { SabMemory } from '../memory/sab-memory.js';
import { AddressSpace, type SharedMemory } from '../memory/shared-memory.js';
import { createRpmsgHost, type VirtioRpmsgHost } from '../rpmsg/host.js';
import { buildRpmsgResourceTable } from '../rsc/build-resource-table.js';
import { VdevTransport } from '../rsc/vdev-transport.js';
import type { RemoteProgramName } from './program.js';
import type { RemoteDoorbellSpec, RemoteMemorySpec } from './remote-worker-data.js';
import { RemoteWorkerHandle, type RemoteWorkerExit } from './remote-worker-handle.js';

export type LoopbackMemoryKind = 'sab' | 'file';
export type LoopbackDoorbellKind = 'atomics' | 'unix-socket' | 'poll';

export interface LoopbackMachineOptions {
  program: RemoteProgramName;
  memory: LoopbackMemoryKind;
  doorbell: LoopbackDoorbellKind;
  /** Let the host device listen on its doorbell (default true); false for a caller that busy-polls. */
  listen?: boolean;
  /** Remote spin before blocking, in µs. */
  remoteSpinMicros?: number;
  /** Host spin on the rings after each send, in µs (RpmsgVirtioOptions.spinAfterSendUs; default 0). */
  hostSpinMicros?: number;
  /** Interval of the polling doorbell, in ms (default 1). */
  pollIntervalMs?: number;
  /** Each console line of the remote. */
  onConsole?: (line: string) => void;
}

export interface LoopbackMachine {
  readonly host: VirtioRpmsgHost;
  readonly remote: RemoteWorkerHandle;
  readonly layout: LinuxGenericLayout;
  readonly label: string;
  /** Stops the remote, closes the host device, doorbell and memory, removes the files. */
  close(): Promise<RemoteWorkerExit>;
}

/**
 * Both roles of our stack over open-amp's Linux generic machine layout (table at 0, vrings at
 * 0x4000 / 0x8000, buffer pool at 0x10000): the host device in this thread, the TypeScript
 * remote in a worker thread, over a SharedArrayBuffer or a shared file (the same pread/pwrite
 * path the QEMU and linux-process targets use), kicking each other with an Atomics pair, a
 * UNIX socket or nothing (polling). For tests and benchmarks of the transport paths.
 */
export async function startLoopbackMachine(options: LoopbackMachineOptions): Promise<LoopbackMachine> {
  const label = `${options.memory}+${options.doorbell}`;
  const paths = uniqueLinuxGenericPaths(`loopback-${label}`);
  const layout = linuxGenericLayout(paths);
  const [vring0, vring1] = layout.vrings;
  const table = buildRpmsgResourceTable({
    num: vring0.num,
    align: vring0.align,
    vringDa: [vring0.da, vring1.da],
    vringNotifyIds: [vring0.notifyId, vring1.notifyId],
    vdevNotifyId: layout.vdev.notifyId,
    dfeatures: layout.vdev.dfeatures,
  });

  let memory: SharedMemory;
  let space: AddressSpace;
  let memorySpec: RemoteMemorySpec;
  if (options.memory === 'sab') {
    const sab = SabMemory.allocate(layout.shmSize, 'sab:loopback');
    memory = sab;
    space = new AddressSpace([{ name: 'shm', da: 0, pa: 0, size: layout.shmSize, memory: sab, offset: 0 }]);
    memorySpec = { kind: 'sab', buffer: sab.buffer, name: sab.name };
  } else {
    const shm = openLinuxGenericShm({ ...paths, mode: 'create', unlinkOnClose: true });
    memory = shm.memory;
    space = shm.addressSpace;
    memorySpec = { kind: 'file', path: layout.shmPath, size: layout.shmSize };
  }
  memory.write(layout.resourceTableOffset, table);

  let hostDoorbell: Doorbell | undefined;
  let remote: RemoteWorkerHandle | undefined;
  try {
    let remoteDoorbell: RemoteDoorbellSpec;
    let pendingHostDoorbell: Promise<Doorbell> | undefined;
    switch (options.doorbell) {
      case 'atomics': {
        const pair = AtomicsDoorbell.createPair();
        hostDoorbell = pair.host;
        remoteDoorbell = { kind: 'atomics', buffer: pair.buffer };
        break;
      }
      case 'unix-socket':
        // Bound before the worker starts, so its connect never has to retry.
        pendingHostDoorbell = UnixSocketDoorbell.serve({ path: layout.eventSocketPath });
        remoteDoorbell = { kind: 'unix-socket', path: layout.eventSocketPath };
        break;
      case 'poll':
        hostDoorbell = new PollingDoorbell({ intervalMs: options.pollIntervalMs ?? 1 });
        remoteDoorbell = { kind: 'poll', intervalMs: options.pollIntervalMs ?? 1 };
        break;
    }
    remote = new RemoteWorkerHandle(
      {
        label: `loopback ${label} remote`,
        memory: memorySpec,
        regions: [{ name: 'shm', da: 0, pa: 0, size: layout.shmSize, offset: 0 }],
        boot: {
          kind: 'table',
          program: options.program,
          resourceTableDa: layout.resourceTableOffset,
          resourceTableSize: table.length,
          bufferSize: layout.bufferPool.bufferSize,
        },
        doorbell: remoteDoorbell,
        ...(options.remoteSpinMicros === undefined ? {} : { spinMicros: options.remoteSpinMicros }),
      },
      options.onConsole ? { onConsole: options.onConsole } : {},
    );
    if (pendingHostDoorbell) hostDoorbell = await pendingHostDoorbell;
    const ring = hostDoorbell!;
    const transport = VdevTransport.fromMemory({
      table: memory,
      tableOffset: layout.resourceTableOffset,
      tableSize: table.length,
      memory: space,
      notify: (notifyId) => ring.notify(notifyId),
      label: `loopback ${label} host`,
    });
    const host = createRpmsgHost({
      transport,
      doorbell: ring,
      bufferSize: layout.bufferPool.bufferSize,
      bufferPool: { da: layout.bufferPool.offset, size: layout.bufferPool.size },
      listen: options.listen ?? true,
      spinAfterSendUs: options.hostSpinMicros ?? 0,
    });
    const worker = remote;
    let closed: Promise<RemoteWorkerExit> | undefined;
    return {
      host,
      remote: worker,
      layout,
      label,
      close: () =>
        (closed ??= (async () => {
          host.close();
          transport.close('loopback machine closed');
          const exit = await worker.stop();
          ring.close();
          memory.close();
          return exit;
        })()),
    };
  } catch (error) {
    await remote?.stop().catch(() => undefined);
    hostDoorbell?.close();
    memory.close();
    throw error instanceof Error ? error : new InfrastructureError(String(error));
  }
}
