/**
 * Entry point of a remote core running in a worker thread: builds the core's view of memory,
 * finds and re-validates its resource table, runs the program, and reports console lines and
 * the outcome to the parent. A fault is an uncaught error: the thread dies, as a core that
 * takes an exception stops, and the parent sees the worker's 'error' event. A core that ended
 * without a fault (its memory and doorbell closed, nothing of it left) leaves the thread
 * waiting for the parent's next command: boot another core here, or exit. Starting a thread
 * (an isolate, these imports) costs ~15-20 ms, once per remoteproc start without this.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AtomicsDoorbell } from '../doorbell/atomics-doorbell.js';
import type { Doorbell } from '../doorbell/doorbell.js';
import { PollingDoorbell } from '../doorbell/polling-doorbell.js';
import { UnixSocketDoorbell } from '../doorbell/unix-socket-doorbell.js';
import { FirmwareError, hex } from '../../base/errors.js';
import { FileMemory } from '../memory/file-memory.js';
import { SabMemory } from '../memory/sab-memory.js';
import { AddressSpace, type SharedMemory } from '../memory/shared-memory.js';
import { VdevTransport } from '../rsc/vdev-transport.js';
import { parseResourceTable } from '../rsc/parse-resource-table.js';
import { createRpmsgRemote } from '../rpmsg/remote.js';
import { readBootRecord, type BootRecord } from './boot-record.js';
import { REMOTE_PROGRAMS } from './programs/index.js';
import { RemoteControl } from './remote-control.js';
import { RemoteCore, type RemoteCoreOutcome } from './remote-core.js';
import { isRemoteWorkerCommand, type RemoteDoorbellSpec, type RemoteMemorySpec, type RemoteWorkerData, type RemoteWorkerEvent } from './remote-worker-data.js';
import { TraceWriter } from './trace-writer.js';

function post(event: RemoteWorkerEvent): void {
  parentPort?.postMessage(event);
}

function openMemory(spec: RemoteMemorySpec): SharedMemory {
  return spec.kind === 'sab' ? new SabMemory(spec.buffer, spec.name) : FileMemory.open(spec.path, { size: spec.size });
}

async function openDoorbell(spec: RemoteDoorbellSpec): Promise<Doorbell> {
  switch (spec.kind) {
    case 'atomics':
      return AtomicsDoorbell.attach(spec.buffer, 'remote', spec.spinMicros === undefined ? {} : { spinMicros: spec.spinMicros });
    case 'unix-socket':
      return UnixSocketDoorbell.connect({ path: spec.path });
    case 'poll':
      return new PollingDoorbell({ intervalMs: spec.intervalMs });
  }
}

async function runCore(data: RemoteWorkerData): Promise<RemoteCoreOutcome> {
  const control = new RemoteControl(data.control);
  const memory = openMemory(data.memory);
  let doorbell: Doorbell | undefined;
  try {
    const space = new AddressSpace(data.regions.map((region) => ({ ...region, memory })));
    const boot: BootRecord = data.boot.kind === 'entry' ? readBootRecord(space, data.boot.entry) : data.boot;
    const where = `${data.label}: resource table at ${hex(boot.resourceTableDa)}`;
    const table = space.resolveDa(boot.resourceTableDa, boot.resourceTableSize);
    // The host has written into the table since it was linked: trust nothing, parse it again.
    const parsed = parseResourceTable(table.memory.read(table.offset, boot.resourceTableSize), where);
    const traceEntry = parsed.traces[0];
    const trace = traceEntry ? new TraceWriter(space, traceEntry.da, traceEntry.len) : undefined;
    const log = (line: string): void => {
      trace?.writeLine(line);
      post({ type: 'console', line });
    };
    log(`${data.label}: booting ${boot.program} (resource table ${hex(boot.resourceTableDa)}, ${parsed.entries.length} entries)`);
    if (parsed.vdevs.length === 0) throw new FirmwareError(`${where}: no vdev entry`);

    doorbell = await openDoorbell(data.doorbell);
    const ring = doorbell;
    const transport = VdevTransport.fromMemory({
      table: table.memory,
      tableOffset: table.offset,
      tableSize: boot.resourceTableSize,
      memory: space,
      notify: (notifyId) => ring.notify(notifyId),
      label: `${data.label} vdev`,
      source: where,
    });
    const core = new RemoteCore({
      program: REMOTE_PROGRAMS[boot.program],
      transport,
      doorbell: ring,
      control,
      log,
      createDevice: (t, d) => createRpmsgRemote({ transport: t, doorbell: d, bufferSize: boot.bufferSize, listen: false, statusPollMs: 0 }),
      ...(data.spinMicros === undefined ? {} : { spinMicros: data.spinMicros }),
      ...(data.idleWaitMs === undefined ? {} : { idleWaitMs: data.idleWaitMs }),
      ...(data.replyDelayUs === undefined ? {} : { replyDelayUs: data.replyDelayUs }),
      ...(data.driverOkTimeoutMs === undefined ? {} : { driverOkTimeoutMs: data.driverOkTimeoutMs }),
    });
    return await core.run();
  } catch (error) {
    control.setState('faulted');
    throw error;
  } finally {
    doorbell?.close();
    memory.close();
  }
}

/** The parent's next command: the data of the next core to boot, or undefined to end the thread. */
function nextBoot(): Promise<RemoteWorkerData | undefined> {
  const port = parentPort;
  if (!port) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    port.once('message', (message: unknown) => resolve(isRemoteWorkerCommand(message) && message.type === 'boot' ? message.data : undefined));
  });
}

// Bounded by the parent: each round waits for its command, and anything but 'boot' ends it.
for (let data: RemoteWorkerData | undefined = workerData as RemoteWorkerData; data; data = await nextBoot()) {
  post({ type: 'outcome', outcome: await runCore(data) });
}
