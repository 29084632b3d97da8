import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FarmError, MemoryAccessError, ProtocolError } from '../../base/errors.js';
import type { SharedMemory } from '../memory/shared-memory.js';
import { propertyRuns } from '../testing/fuzz-runs.js';
import { VIRTIO_RING_F_EVENT_IDX, VIRTIO_RPMSG_F_NS, VIRTIO_STATUS } from '../virtio/transport.js';
import { VringProtocolError, type VringErrorCode } from '../virtio/vring-error.js';
import { VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, vringLayout } from '../virtio/vring-layout.js';
import { RPMSG_NS_ADDR, type RpmsgMessage } from './api.js';
import { DeviceStatusError, NameServiceMessageError, NoBufferError, RpmsgHeaderError } from './errors.js';
import { createRpmsgHost } from './host.js';
import { createRpmsgRemote } from './remote.js';
import { MemoryVdevTransport, TEST_VDEV_STATUS, createRpmsgPair, createTestMachine, type RpmsgPair } from './test-machine.js';

/**
 * One side is played by the test, writing whatever it likes into the shared rings; the other
 * side must report a typed protocol error at once (poll() is synchronous: the deadline is the
 * poll call itself), drop the entry, never read or write outside shared memory (every access
 * goes through bounds-checked SharedMemory, so an overrun would surface as a thrown
 * MemoryAccessError) and never hang: each poll's work is bounded by counting its accesses to
 * shared memory, not by timing it, so the check does not depend on how loaded the machine is.
 */

const NUM = 8;
const LAYOUT = vringLayout(NUM, 0x1000);
/**
 * Shared-memory accesses one poll may make. A poll handles at most one ring's worth of entries
 * (NUM), each with a bounded number of reads and writes: the most seen in one poll over 5x the
 * default cases of these properties is 166, so 4096 leaves room for honest changes while a loop
 * driven by hostile indices would blow through it at once.
 */
const POLL_ACCESS_BUDGET = 4096;
/** A runaway poll is stopped here (the access throws) rather than left to spin. */
const RUNAWAY_ACCESSES = 16 * POLL_ACCESS_BUDGET;

let pollAccesses = 0;

/** Counts every access made through `memory` (the object both sides share) from now on. */
function countAccesses(memory: SharedMemory): void {
  const methods = ['read', 'readInto', 'write', 'fill', 'getU8', 'getU16', 'getU32', 'setU8', 'setU16', 'setU32', 'loadU8', 'storeU8', 'loadU16', 'storeU16', 'loadU32', 'storeU32'] as const;
  const target = memory as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of methods) {
    const original = target[method] as (...args: unknown[]) => unknown;
    target[method] = function counted(this: unknown, ...args: unknown[]) {
      if (++pollAccesses > RUNAWAY_ACCESSES) throw new Error(`runaway poll: more than ${RUNAWAY_ACCESSES} shared-memory accesses`);
      return original.apply(this, args);
    };
  }
}

function timedPoll(device: { poll(): number }): number {
  pollAccesses = 0;
  const handled = device.poll();
  assert.ok(pollAccesses <= POLL_ACCESS_BUDGET, `poll made ${pollAccesses} shared-memory accesses (budget ${POLL_ACCESS_BUDGET}): its work is not bounded by the ring`);
  assert.ok(handled <= NUM, `poll handled ${handled} entries of a ${NUM}-entry ring`);
  return handled;
}

function readyPair(): RpmsgPair & { memory: SharedMemory; v0: number; v1: number } {
  const pair = createRpmsgPair({ num: NUM });
  countAccesses(pair.machine.memory);
  pair.pump();
  assert.equal(pair.remote.ready, true);
  const [v0, v1] = pair.machine.vringOffsets;
  return { ...pair, memory: pair.machine.memory, v0, v1 };
}

/** A hostile device returning used entry {id, len} and moving used.idx by `step`. */
function forgeUsed(memory: SharedMemory, ring: number, id: number, len: number, step = 1): void {
  const idx = memory.getU16(ring + LAYOUT.usedIdx);
  const entry = ring + LAYOUT.usedRing + (idx % NUM) * 8;
  memory.setU32(entry, id);
  memory.setU32(entry + 4, len);
  memory.storeU16(ring + LAYOUT.usedIdx, (idx + step) & 0xffff);
}

/** A hostile driver offering avail entry `head` (with descriptor `desc` written when given). */
function forgeAvail(
  memory: SharedMemory,
  ring: number,
  head: number,
  desc?: { addr: number; len: number; flags?: number; next?: number },
  step = 1,
): void {
  const idx = memory.getU16(ring + LAYOUT.availIdx);
  memory.setU16(ring + LAYOUT.availRing + (idx % NUM) * 2, head);
  if (desc && head < NUM) {
    const at = ring + LAYOUT.desc + head * 16;
    memory.setU32(at, desc.addr % 0x1_0000_0000);
    memory.setU32(at + 4, Math.floor(desc.addr / 0x1_0000_0000));
    memory.setU32(at + 8, desc.len);
    memory.setU16(at + 12, desc.flags ?? 0);
    memory.setU16(at + 14, desc.next ?? 0);
  }
  memory.storeU16(ring + LAYOUT.availIdx, (idx + step) & 0xffff);
}

function writeMessage(memory: SharedMemory, offset: number, src: number, dst: number, payload: Uint8Array, lenField = payload.length): void {
  memory.setU32(offset, src);
  memory.setU32(offset + 4, dst);
  memory.setU32(offset + 8, 0);
  memory.setU16(offset + 12, lenField);
  memory.setU16(offset + 14, 0);
  memory.write(offset + 16, payload);
}

function vringCodes(errors: Error[]): VringErrorCode[] {
  return errors.map((e) => (e instanceof VringProtocolError ? e.code : (`not a vring error: ${e.name}` as VringErrorCode)));
}

// ---- hostile remote, host must cope ---------------------------------------------------------------

test('hostile remote: used ids out of range and over-long lengths on vring 0', () => {
  const pair = readyPair();
  const { host, memory, v0, hostErrors } = pair;
  const got: RpmsgMessage[] = [];
  const ep = host.createEndpoint({ name: 'x', addr: 1024, onMessage: (m) => got.push(m) });
  const poolOffset = pair.machine.bufferPool.da - pair.machine.base;
  const availBefore = memory.getU16(v0 + LAYOUT.availIdx);
  writeMessage(memory, poolOffset + 2 * 512, 1, ep.addr, Uint8Array.of(1));
  forgeUsed(memory, v0, 999, 17); // out of range
  forgeUsed(memory, v0, 2, 513); // longer than the 512-byte buffer
  timedPoll(host);
  assert.deepEqual(vringCodes(hostErrors), ['id-out-of-range', 'length-too-large']);
  assert.equal(got.length, 0, 'nothing from a dropped entry is delivered');
  assert.equal(memory.getU16(v0 + LAYOUT.availIdx), (availBefore + 1) & 0xffff, 'the over-long buffer went back on the ring');
  // Posted again, so the remote may legitimately return it now.
  forgeUsed(memory, v0, 2, 17);
  timedPoll(host);
  assert.deepEqual(got.map((m) => [...m.data]), [[1]]);
  assert.equal(hostErrors.length, 2);
  // Sending (vring 1) is unaffected.
  const remoteGot: RpmsgMessage[] = [];
  pair.remote.createEndpoint({ name: 'y', addr: 1500, onMessage: (m) => remoteGot.push(m) });
  host.createEndpoint({ name: 'z', dest: 1500 }).trySend(Uint8Array.of(42));
  timedPoll(pair.remote);
  assert.deepEqual(remoteGot.map((m) => [...m.data]), [[42]]);
  pair.close();
});

test('hostile remote: used.idx jumping by more than the ring is one typed error, then nothing is consumed', () => {
  const { host, memory, v0, hostErrors, close } = readyPair();
  const before = host.stats.received;
  forgeUsed(memory, v0, 0, 16, NUM + 1);
  for (let i = 0; i < 3; i++) timedPoll(host);
  assert.deepEqual(vringCodes(hostErrors), ['index-jump']);
  assert.equal(host.stats.received, before);
  close();
});

test('hostile remote: malformed RPMsg headers and NS messages are dropped with typed errors', () => {
  const pair = readyPair();
  const { host, memory, v0, hostErrors } = pair;
  const got: RpmsgMessage[] = [];
  host.createEndpoint({ name: 'x', addr: 1024, onMessage: (m) => got.push(m) });
  const poolOffset = pair.machine.bufferPool.da - pair.machine.base;
  const buffer = (id: number): number => poolOffset + id * 512;
  // The real remote already used slot 0 of vring 0? No: nothing was announced, so ids 0..7 are in flight.
  writeMessage(memory, buffer(0), 5, 1024, new Uint8Array(8), 600); // len overruns the buffer
  forgeUsed(memory, v0, 0, 24);
  forgeUsed(memory, v0, 1, 8); // shorter than a header
  writeMessage(memory, buffer(2), 5, RPMSG_NS_ADDR, new Uint8Array(39).fill(0x61));
  forgeUsed(memory, v0, 2, 16 + 39); // NS of 39 bytes
  writeMessage(memory, buffer(3), 5, 1024, Uint8Array.of(9, 8, 7));
  forgeUsed(memory, v0, 3, 16 + 3); // fine
  timedPoll(host);
  assert.deepEqual(
    hostErrors.map((e) => e.constructor),
    [RpmsgHeaderError, RpmsgHeaderError, NameServiceMessageError],
  );
  assert.deepEqual(got.map((m) => [...m.data]), [[9, 8, 7]]);
  assert.equal(host.stats.droppedMalformed, 3);
  pair.close();
});

test('hostile remote: a status byte written by the remote is reported once per value', () => {
  const { host, machine, hostErrors, close } = readyPair();
  machine.memory.storeU8(TEST_VDEV_STATUS, 0x87);
  timedPoll(host);
  timedPoll(host);
  assert.equal(hostErrors.length, 1);
  assert.ok(hostErrors[0] instanceof DeviceStatusError);
  assert.equal((hostErrors[0] as DeviceStatusError).status, 0x87);
  machine.memory.storeU8(TEST_VDEV_STATUS, 0x07);
  timedPoll(host);
  machine.memory.storeU8(TEST_VDEV_STATUS, 0x87);
  timedPoll(host);
  assert.equal(hostErrors.length, 2, 'a new flip is a new error');
  close();
});

test('hostile remote: bogus used entries on the host transmit ring do not stop sending', () => {
  const pair = readyPair();
  const { host, memory, v1, hostErrors } = pair;
  const ep = host.createEndpoint({ name: 'x', dest: 1234 });
  forgeUsed(memory, v1, 5, 16); // never handed out
  for (let i = 0; i < host.txBufferCount; i++) ep.trySend(Uint8Array.of(i));
  assert.deepEqual(vringCodes(hostErrors), ['id-not-in-flight']);
  assert.throws(() => ep.trySend(Uint8Array.of(0)), NoBufferError);
  pair.close();
});

// ---- hostile host, remote must cope ---------------------------------------------------------------

test('hostile host: head out of range, descriptors outside shared memory, INDIRECT and loops on vring 1', () => {
  const pair = readyPair();
  const { remote, memory, v1, remoteErrors, machine } = pair;
  const got: RpmsgMessage[] = [];
  remote.createEndpoint({ name: 'x', addr: 1500, onMessage: (m) => got.push(m) });
  const inPool = machine.bufferPool.da + 8 * 512;
  writeMessage(memory, inPool - machine.base, 1024, 1500, Uint8Array.of(1, 2));
  forgeAvail(memory, v1, 200); // head out of range
  forgeAvail(memory, v1, 0, { addr: 0x1000, len: 512 }); // below shared memory
  forgeAvail(memory, v1, 1, { addr: machine.base + machine.memory.size - 100, len: 512 }); // runs past the end
  forgeAvail(memory, v1, 2, { addr: inPool, len: 0xffff_ffff }); // absurd length
  forgeAvail(memory, v1, 3, { addr: inPool, len: 512, flags: VRING_DESC_F_INDIRECT });
  forgeAvail(memory, v1, 4, { addr: inPool, len: 512, flags: VRING_DESC_F_NEXT, next: 4 }); // loops on itself
  forgeAvail(memory, v1, 5, { addr: inPool, len: 512 }); // fine
  timedPoll(remote);
  assert.deepEqual(vringCodes(remoteErrors), [
    'id-out-of-range',
    'address-out-of-range',
    'address-out-of-range',
    'address-out-of-range',
    'indirect-descriptor',
    'chain-too-long',
  ]);
  assert.ok(remoteErrors.every((e) => e instanceof ProtocolError));
  assert.deepEqual(got.map((m) => [...m.data]), [[1, 2]]);
  pair.close();
});

test('hostile host: avail.idx jumping by more than the ring, and an RPMsg len overrunning the descriptor', () => {
  const pair = readyPair();
  const { remote, memory, v1, remoteErrors, machine } = pair;
  remote.createEndpoint({ name: 'x', addr: 1500 });
  const inPool = machine.bufferPool.da + 8 * 512;
  writeMessage(memory, inPool - machine.base, 1024, 1500, new Uint8Array(4), 100);
  forgeAvail(memory, v1, 0, { addr: inPool, len: 32 }); // header says 100, descriptor holds 16
  timedPoll(remote);
  assert.ok(remoteErrors[0] instanceof RpmsgHeaderError);
  forgeAvail(memory, v1, 1, { addr: inPool, len: 32 }, 0x4000);
  timedPoll(remote);
  timedPoll(remote);
  assert.deepEqual(vringCodes(remoteErrors.slice(1)), ['index-jump']);
  pair.close();
});

test('hostile host: host buffers on vring 0 too small for a header are reported, the send fails typed', () => {
  const pair = readyPair();
  const { remote, memory, v0, remoteErrors } = pair;
  const ep = remote.createEndpoint({ name: 'x', dest: 1024 });
  // Shrink every posted receive buffer to 8 bytes.
  for (let id = 0; id < NUM; id++) memory.setU32(v0 + LAYOUT.desc + id * 16 + 8, 8);
  assert.throws(() => ep.trySend(Uint8Array.of(1)), NoBufferError);
  assert.equal(remoteErrors.length, NUM, 'every posted buffer was too small, and each is reported');
  assert.ok(remoteErrors.every((e) => e instanceof RpmsgHeaderError));
  pair.close();
});

test('hostile host: DRIVER_OK cleared while running is a typed error; the remote stops using the rings', () => {
  const { remote, machine, remoteErrors, close } = readyPair();
  machine.memory.storeU8(TEST_VDEV_STATUS, VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER);
  timedPoll(remote);
  assert.equal(remote.ready, false);
  assert.ok(remoteErrors[0] instanceof DeviceStatusError);
  const ep = remote.createEndpoint({ name: 'x', dest: 1024 });
  assert.throws(() => ep.trySend(Uint8Array.of(1)), NoBufferError);
  close();
});

test('hostile host: vring addresses outside shared memory at DRIVER_OK are reported once, nothing is touched', () => {
  const machine = createTestMachine({ num: NUM });
  const bad = machine.remoteTransport.vrings.map((v, i) => (i === 1 ? { ...v, da: 0x10 } : v));
  const transport = new MemoryVdevTransport(machine.space, machine.memory, 0, bad, machine.remoteDoorbell);
  const errors: Error[] = [];
  const remote = createRpmsgRemote({ transport, doorbell: machine.remoteDoorbell, listen: false, statusPollMs: 0, onProtocolError: (e) => errors.push(e) });
  const host = createRpmsgHost({ transport: machine.hostTransport, doorbell: machine.hostDoorbell, bufferPool: machine.bufferPool, listen: false });
  timedPoll(remote);
  timedPoll(remote);
  assert.equal(remote.ready, false);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof MemoryAccessError);
  host.close();
  remote.close();
  machine.close();
});

// ---- with event idx: the re-arm loop must not spin on a hostile peer ------------------------------

/**
 * A ready host/remote pair with event idx negotiated, each side's protocol errors going to
 * `onHostError` / `onRemoteError` (which may play the hostile peer, writing more into the rings
 * while the other side is inside poll()).
 */
function eventIdxPair(onHostError: (e: Error) => void, onRemoteError: (e: Error) => void) {
  const machine = createTestMachine({ num: NUM, deviceFeatures: VIRTIO_RPMSG_F_NS | VIRTIO_RING_F_EVENT_IDX });
  const remote = createRpmsgRemote({ transport: machine.remoteTransport, doorbell: machine.remoteDoorbell, listen: false, statusPollMs: 0, onProtocolError: onRemoteError });
  const host = createRpmsgHost({ transport: machine.hostTransport, doorbell: machine.hostDoorbell, bufferPool: machine.bufferPool, listen: false, onProtocolError: onHostError });
  remote.poll();
  host.poll();
  assert.equal(host.eventIdx, true);
  assert.equal(remote.eventIdxNegotiated, true);
  const [v0, v1] = machine.vringOffsets;
  return {
    memory: machine.memory,
    host,
    remote,
    v0,
    v1,
    close(): void {
      host.close();
      remote.close();
      machine.close();
    },
  };
}

test('hostile peers with event idx: used.idx / avail.idx jumping by more than the ring is one typed error, poll() returns', () => {
  const hostErrors: Error[] = [];
  const remoteErrors: Error[] = [];
  const { memory, host, remote, v0, v1, close } = eventIdxPair((e) => hostErrors.push(e), (e) => remoteErrors.push(e));
  forgeUsed(memory, v0, 0, 16, NUM + 1);
  forgeAvail(memory, v1, 0, undefined, 0x4000);
  for (let i = 0; i < 3; i++) {
    assert.equal(timedPoll(host), 0);
    assert.equal(timedPoll(remote), 0);
  }
  assert.deepEqual(vringCodes(hostErrors), ['index-jump']);
  assert.deepEqual(vringCodes(remoteErrors), ['index-jump']);
  close();
});

test('hostile peers with event idx: a peer that writes a bad entry for each one we drop cannot hold poll()', () => {
  // Without a bound the re-arm loop would run until the peer stops: here after FORGE_CAP entries.
  const FORGE_CAP = 10_000;
  let hostForged = 0;
  let remoteForged = 0;
  const hostErrors: Error[] = [];
  const remoteErrors: Error[] = [];
  const pair = eventIdxPair(
    (e) => {
      hostErrors.push(e);
      if (hostForged++ < FORGE_CAP) forgeUsed(pair.memory, pair.v0, 999, 17);
    },
    (e) => {
      remoteErrors.push(e);
      if (remoteForged++ < FORGE_CAP) forgeAvail(pair.memory, pair.v1, 999);
    },
  );
  forgeUsed(pair.memory, pair.v0, 999, 17);
  forgeAvail(pair.memory, pair.v1, 999);
  assert.equal(timedPoll(pair.host), 0);
  assert.equal(timedPoll(pair.remote), 0);
  // (budget + 1) rounds of at most NUM entries each.
  assert.ok(hostErrors.length > 0 && hostErrors.length <= (NUM + 1) * NUM, `host: ${hostErrors.length} errors in one poll`);
  assert.ok(remoteErrors.length > 0 && remoteErrors.length <= (NUM + 1) * NUM, `remote: ${remoteErrors.length} errors in one poll`);
  assert.deepEqual(new Set(vringCodes([...hostErrors, ...remoteErrors])), new Set(['id-out-of-range']));
  pair.close();
});

// ---- properties -------------------------------------------------------------------------------------

const anyU32 = fc.oneof(fc.integer({ min: 0, max: 2 * NUM }), fc.integer({ min: 0, max: 0xffffffff }));

test('property: whatever a remote returns on vring 0, the host delivers exact messages or reports a typed error', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          id: anyU32,
          len: fc.oneof(fc.integer({ min: 0, max: 600 }), anyU32),
          src: anyU32,
          dst: fc.constantFrom(1024, RPMSG_NS_ADDR, 77),
          lenField: fc.integer({ min: 0, max: 0xffff }),
          fill: fc.integer({ min: 0, max: 255 }),
          step: fc.oneof(fc.constant(1), fc.constant(1), fc.integer({ min: 0, max: 0xffff })),
        }),
        { minLength: 1, maxLength: 12 },
      ),
      (entries) => {
        const pair = readyPair();
        const { host, memory, v0, hostErrors, machine } = pair;
        const got: RpmsgMessage[] = [];
        host.createEndpoint({ name: 'x', addr: 1024, onMessage: (m) => got.push(m) });
        const poolOffset = machine.bufferPool.da - machine.base;
        for (const e of entries) {
          if (e.id < NUM) writeMessage(memory, poolOffset + e.id * 512, e.src, e.dst, new Uint8Array(Math.min(e.lenField, 496)).fill(e.fill), e.lenField);
          forgeUsed(memory, v0, e.id, e.len, e.step);
          timedPoll(host);
        }
        for (const error of hostErrors) assert.ok(error instanceof ProtocolError, String(error));
        for (const message of got) {
          assert.equal(message.dst, 1024);
          assert.ok(message.data.length <= host.maxPayload);
          assert.ok(message.data.every((b) => b === message.data[0]));
        }
        pair.close();
      },
    ),
    { numRuns: propertyRuns('rpmsg hostile: remote returns anything on vring 0') },
  );
});

test('property: whatever a host offers on vring 1, the remote stays in bounds and reports typed errors', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          head: anyU32,
          addrPick: fc.integer({ min: 0, max: 0xffffffff }),
          near: fc.boolean(),
          len: fc.oneof(fc.integer({ min: 0, max: 600 }), anyU32),
          flags: fc.integer({ min: 0, max: 7 }),
          next: fc.integer({ min: 0, max: 2 * NUM }),
          lenField: fc.integer({ min: 0, max: 0xffff }),
          step: fc.oneof(fc.constant(1), fc.constant(1), fc.integer({ min: 0, max: 0xffff })),
        }),
        { minLength: 1, maxLength: 12 },
      ),
      (entries) => {
        const pair = readyPair();
        const { remote, memory, v1, remoteErrors, machine } = pair;
        const got: RpmsgMessage[] = [];
        remote.createEndpoint({ name: 'x', addr: 1500, onMessage: (m) => got.push(m) });
        for (const e of entries) {
          const addr = e.near ? machine.base + (e.addrPick % (machine.memory.size + 2048)) - 1024 : e.addrPick;
          if (addr >= machine.base && addr + 16 <= machine.base + machine.memory.size) {
            writeMessage(memory, addr - machine.base, 1024, 1500, new Uint8Array(0), e.lenField);
          }
          forgeAvail(memory, v1, e.head, { addr, len: e.len, flags: e.flags, next: e.next }, e.step);
          timedPoll(remote);
        }
        for (const error of remoteErrors) assert.ok(error instanceof ProtocolError, String(error));
        pair.close();
      },
    ),
    { numRuns: propertyRuns('rpmsg hostile: host offers anything on vring 1') },
  );
});

test('property: random corruption of rings and status during live traffic never escapes as anything but typed errors', () => {
  const ringBytes = LAYOUT.size;
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({ kind: fc.constant('host-send' as const), size: fc.integer({ min: 0, max: 496 }) }),
          fc.record({ kind: fc.constant('remote-send' as const), size: fc.integer({ min: 0, max: 496 }) }),
          fc.record({ kind: fc.constant('pump' as const) }),
          fc.record({
            kind: fc.constant('corrupt' as const),
            where: fc.constantFrom('v0', 'v1', 'status'),
            offset: fc.integer({ min: 0, max: ringBytes - 4 }),
            value: fc.integer({ min: 0, max: 0xffffffff }),
            width: fc.constantFrom(1, 2, 4),
          }),
        ),
        { minLength: 1, maxLength: 30 },
      ),
      (steps) => {
        const pair = readyPair();
        const { host, remote, memory, v0, v1 } = pair;
        const remoteEp = remote.createEndpoint({
          name: 'echo',
          addr: 1500,
          onMessage: (m, ep) => {
            try {
              ep.trySend(m.data, m.src);
            } catch (error) {
              assert.ok(error instanceof FarmError, String(error));
            }
          },
        });
        const hostEp = host.createEndpoint({ name: 'echo', addr: 1024, dest: remoteEp.addr });
        const trySend = (send: () => void): void => {
          try {
            send();
          } catch (error) {
            assert.ok(error instanceof FarmError && error.failureClass === 'protocol', String(error));
          }
        };
        for (const s of steps) {
          if (s.kind === 'host-send') trySend(() => hostEp.trySend(new Uint8Array(s.size)));
          else if (s.kind === 'remote-send') trySend(() => remoteEp.trySend(new Uint8Array(s.size), 1024));
          else if (s.kind === 'pump') {
            timedPoll(remote);
            timedPoll(host);
          } else {
            const at = s.where === 'status' ? TEST_VDEV_STATUS : (s.where === 'v0' ? v0 : v1) + s.offset;
            const width = s.where === 'status' ? 1 : s.width;
            if (width === 1) memory.storeU8(at, s.value & 0xff);
            else if (width === 2) memory.storeU16(at, s.value & 0xffff);
            else memory.storeU32(at, s.value);
          }
        }
        for (const error of [...pair.hostErrors, ...pair.remoteErrors]) {
          assert.ok(error instanceof FarmError && error.failureClass === 'protocol', String(error));
        }
        pair.close();
      },
    ),
    { numRuns: propertyRuns('rpmsg hostile: ring and status corruption in live traffic') },
  );
});
