import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from '../../base/errors.js';
import { AddressSpace } from '../memory/shared-memory.js';
import { SabMemory } from '../memory/sab-memory.js';
import { propertyRuns } from '../testing/fuzz-runs.js';
import { VringDevice } from './vring-device.js';
import { VringDriver, VringUsageError } from './vring-driver.js';
import { VringProtocolError, type VringErrorCode } from './vring-error.js';
import { VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, vringLayout } from './vring-layout.js';

const MEMORY_SIZE = 0x10000;
const BASE = 0x8000_0000;
const RING_OFFSET = 0x100;
const BUFFERS_OFFSET = 0x8000;
const BUFFER_SIZE = 64;

function ringPair(num = 8, eventIdx = false) {
  const memory = SabMemory.allocate(MEMORY_SIZE, 'sab:vring-test');
  const space = new AddressSpace([{ name: 'ram', da: BASE, pa: BASE, size: MEMORY_SIZE, memory, offset: 0 }]);
  const errors: VringProtocolError[] = [];
  const onError = (error: VringProtocolError): void => {
    errors.push(error);
  };
  const common = { memory, offset: RING_OFFSET, num, align: 16, eventIdx, onError };
  const driver = new VringDriver({ ...common, name: 'test-driver' });
  driver.init();
  const device = new VringDevice({ ...common, name: 'test-device', addresses: space });
  const layout = vringLayout(num, 16);
  const at = (field: number): number => RING_OFFSET + field;
  const bufferAddress = (i: number): number => BASE + BUFFERS_OFFSET + i * BUFFER_SIZE;
  return { memory, space, driver, device, errors, layout, at, bufferAddress, num };
}

function codes(errors: VringProtocolError[]): VringErrorCode[] {
  return errors.map((e) => e.code);
}

test('driver -> device -> driver: descriptors, avail and used round trip in order', () => {
  const { driver, device, errors, memory, bufferAddress } = ringPair();
  for (let i = 0; i < 3; i++) driver.add(i, bufferAddress(i), BUFFER_SIZE, true);
  assert.equal(driver.kickNeeded(), true);
  for (let i = 0; i < 3; i++) {
    assert.equal(device.getAvail(), true);
    assert.equal(device.head, i);
    assert.equal(device.bufferMemory, memory);
    assert.equal(device.bufferOffset, BUFFERS_OFFSET + i * BUFFER_SIZE);
    assert.equal(device.bufferLength, BUFFER_SIZE);
    assert.equal(device.bufferFlags, VRING_DESC_F_WRITE);
    device.putUsed(device.head, 10 + i);
  }
  assert.equal(device.getAvail(), false);
  assert.equal(device.interruptNeeded(), true);
  assert.equal(driver.inFlightCount, 3);
  for (let i = 0; i < 3; i++) {
    assert.equal(driver.getUsed(), i);
    assert.equal(driver.usedLen, 10 + i);
  }
  assert.equal(driver.getUsed(), -1);
  assert.equal(driver.inFlightCount, 0);
  assert.deepEqual(errors, []);
});

test('the driver writes the legacy wire format and publishes avail.idx only on publish()', () => {
  const { driver, memory, layout, at } = ringPair();
  driver.add(5, 0x1_2345_6789, 300, false);
  assert.equal(memory.getU16(at(layout.availIdx)), 0, 'not published yet');
  driver.publish();
  assert.equal(memory.getU16(at(layout.availIdx)), 1);
  assert.equal(memory.getU16(at(layout.availRing)), 5);
  const desc = at(layout.desc) + 5 * 16;
  assert.equal(memory.getU32(desc), 0x2345_6789);
  assert.equal(memory.getU32(desc + 4), 1);
  assert.equal(memory.getU32(desc + 8), 300);
  assert.equal(memory.getU16(desc + 12), 0);
  driver.add(6, 0x4000, 16, true);
  driver.publish();
  assert.equal(memory.getU16(at(layout.availRing) + 2), 6);
  assert.equal(memory.getU16(at(layout.desc) + 6 * 16 + 12), VRING_DESC_F_WRITE);
  assert.throws(() => driver.add(5, 0, 1, false), VringUsageError, 'descriptor 5 is already in flight');
  assert.throws(() => driver.add(8, 0, 1, false), VringUsageError, 'descriptor 8 is out of range');
});

test('init zeroes the ring and forgets every buffer', () => {
  const { driver, memory, layout, at, bufferAddress } = ringPair();
  driver.add(0, bufferAddress(0), 8, true);
  driver.publish();
  driver.init();
  assert.equal(driver.inFlightCount, 0);
  assert.equal(memory.getU16(at(layout.availIdx)), 0);
  assert.equal(memory.getU32(at(layout.desc) + 8), 0);
});

test('kick suppression: VRING_USED_F_NO_NOTIFY without event idx', () => {
  const { driver, device, bufferAddress } = ringPair();
  device.disableNotify();
  driver.add(0, bufferAddress(0), 8, false);
  assert.equal(driver.kickNeeded(), false);
  assert.equal(device.enableNotify(), true, 'an entry is already waiting');
  driver.add(1, bufferAddress(1), 8, false);
  assert.equal(driver.kickNeeded(), true);
  assert.equal(driver.kickNeeded(), false, 'nothing new since the last decision');
});

test('interrupt suppression: VRING_AVAIL_F_NO_INTERRUPT without event idx', () => {
  const { driver, device, bufferAddress } = ringPair();
  driver.add(0, bufferAddress(0), 8, false);
  driver.add(1, bufferAddress(1), 8, false);
  driver.publish();
  driver.disableInterrupts();
  assert.ok(device.getAvail());
  device.putUsed(device.head, 0);
  assert.equal(device.interruptNeeded(), false);
  assert.equal(driver.enableInterrupts(), true, 'a used entry is already waiting');
  assert.ok(device.getAvail());
  device.putUsed(device.head, 0);
  assert.equal(device.interruptNeeded(), true);
});

test('event idx: the driver kicks only when avail_event is crossed, the device interrupts only past used_event', () => {
  const { driver, device, bufferAddress } = ringPair(8, true);
  driver.add(0, bufferAddress(0), 8, false);
  assert.equal(driver.kickNeeded(), true, 'avail_event 0 is crossed by the first entry');
  driver.add(1, bufferAddress(1), 8, false);
  assert.equal(driver.kickNeeded(), false, 'the device has not asked for more');
  assert.ok(device.getAvail());
  assert.ok(device.getAvail());
  assert.equal(device.enableNotify(), false);
  driver.add(2, bufferAddress(2), 8, false);
  assert.equal(driver.kickNeeded(), true, 'the device wrote avail_event = 2');

  // used_event starts at 0: the first used entry interrupts, later ones only after re-arming.
  device.putUsed(0, 0);
  assert.equal(device.interruptNeeded(), true);
  device.putUsed(1, 0);
  assert.equal(device.interruptNeeded(), false);
  assert.equal(driver.getUsed(), 0);
  assert.equal(driver.getUsed(), 1);
  assert.equal(driver.enableInterrupts(), false);
  assert.ok(device.getAvail());
  device.putUsed(device.head, 0);
  assert.equal(device.interruptNeeded(), true);
});

// ---- hostile driver: what the device must refuse ------------------------------------------------

test('device: avail.idx jumping by more than num is reported once, consumes nothing, and recovers', () => {
  const { driver, device, errors, memory, layout, at, bufferAddress, num } = ringPair();
  driver.add(0, bufferAddress(0), 8, false);
  driver.publish();
  memory.storeU16(at(layout.availIdx), num + 1);
  assert.equal(device.getAvail(), false);
  assert.equal(device.getAvail(), false);
  assert.deepEqual(codes(errors), ['index-jump']);
  assert.ok(errors[0] instanceof ProtocolError);
  memory.storeU16(at(layout.availIdx), 1);
  assert.equal(device.getAvail(), true);
  assert.equal(device.head, 0);
});

test('device: after an avail.idx jump, enableNotify() says nothing is waiting (so no re-arm loop spins on it)', () => {
  for (const eventIdx of [false, true]) {
    const { driver, device, errors, memory, layout, at, bufferAddress, num } = ringPair(8, eventIdx);
    driver.add(0, bufferAddress(0), 8, false);
    driver.publish();
    memory.storeU16(at(layout.availIdx), num + 1);
    assert.equal(device.getAvail(), false);
    assert.equal(device.enableNotify(), false, `eventIdx ${eventIdx}`);
    assert.deepEqual(codes(errors), ['index-jump'], 'reported once, whichever call saw it');
    memory.storeU16(at(layout.availIdx), 1);
    assert.equal(device.enableNotify(), true, 'a sane index is waiting again');
  }
});

test('device: a head index out of range is reported and skipped', () => {
  const { driver, device, errors, memory, layout, at, bufferAddress } = ringPair();
  driver.add(0, bufferAddress(0), 8, false);
  driver.add(1, bufferAddress(1), 8, false);
  driver.publish();
  memory.setU16(at(layout.availRing), 0xbeef);
  assert.equal(device.getAvail(), true);
  assert.equal(device.head, 1);
  assert.deepEqual(codes(errors), ['id-out-of-range']);
  assert.equal(errors[0]!.value, 0xbeef);
});

test('device: descriptors pointing outside shared memory are reported, never followed', () => {
  const { driver, device, errors, memory, layout, at } = ringPair();
  driver.add(0, BASE - 16, 8, false); // below the region
  driver.add(1, BASE + MEMORY_SIZE - 8, 64, false); // runs off the end
  driver.add(2, 0xffff_ffff_0000, 8, false); // 48-bit address nowhere
  driver.add(3, BASE + BUFFERS_OFFSET, 0xffff_ffff, false); // huge length
  driver.add(4, BASE + BUFFERS_OFFSET, 64, false); // fine
  driver.publish();
  assert.equal(device.getAvail(), true);
  assert.equal(device.head, 4);
  assert.deepEqual(codes(errors), ['address-out-of-range', 'address-out-of-range', 'address-out-of-range', 'address-out-of-range']);
  assert.match(errors[1]!.message, /descriptor 1: buffer 0x8000fff8\+0x00000040 is outside shared memory/);
  // The accepted buffer is the one in range, even right after a failed translation.
  assert.equal(device.bufferOffset, BUFFERS_OFFSET);
  assert.equal(memory.getU16(at(layout.usedIdx)), 0, 'bad entries are not returned');
});

test('device: NEXT chains are bounded (loops, bad next) and INDIRECT is refused', () => {
  const { driver, device, errors, memory, layout, at, bufferAddress } = ringPair();
  for (let i = 0; i < 5; i++) driver.add(i, bufferAddress(i), 8, false);
  driver.publish();
  const desc = (i: number): number => at(layout.desc) + i * 16;
  // 0 -> 1 -> 0 ... a loop
  memory.setU16(desc(0) + 12, VRING_DESC_F_NEXT);
  memory.setU16(desc(0) + 14, 1);
  memory.setU16(desc(1) + 12, VRING_DESC_F_NEXT);
  memory.setU16(desc(1) + 14, 0);
  // 2 -> 999
  memory.setU16(desc(2) + 12, VRING_DESC_F_NEXT);
  memory.setU16(desc(2) + 14, 999);
  // 3 is indirect
  memory.setU16(desc(3) + 12, VRING_DESC_F_INDIRECT);
  assert.equal(device.getAvail(), true, 'entry 4 is fine');
  assert.equal(device.head, 4);
  assert.deepEqual(codes(errors), ['chain-too-long', 'chain-too-long', 'id-out-of-range', 'indirect-descriptor']);
});

test('device: a valid two-descriptor chain yields the head buffer', () => {
  const { driver, device, errors, memory, layout, at, bufferAddress } = ringPair();
  driver.add(0, bufferAddress(0), 8, false);
  driver.add(1, bufferAddress(1), 8, false);
  driver.publish();
  memory.setU16(at(layout.desc) + 12, VRING_DESC_F_NEXT);
  memory.setU16(at(layout.desc) + 14, 1);
  assert.equal(device.getAvail(), true);
  assert.equal(device.head, 0);
  assert.equal(device.bufferOffset, BUFFERS_OFFSET);
  assert.deepEqual(errors, []);
});

// ---- hostile device: what the driver must refuse --------------------------------------------------

test('driver: used.idx jumping by more than num is reported once and consumes nothing', () => {
  const { driver, errors, memory, layout, at, bufferAddress, num } = ringPair();
  driver.add(0, bufferAddress(0), 8, true);
  driver.publish();
  memory.storeU16(at(layout.usedIdx), 0x8000);
  assert.equal(driver.getUsed(), -1);
  assert.equal(driver.getUsed(), -1);
  assert.deepEqual(codes(errors), ['index-jump']);
  assert.equal(driver.inFlightCount, 1);
  assert.ok(num < 0x8000);
});

test('driver: after a used.idx jump, enableInterrupts() says nothing is waiting (so no re-arm loop spins on it)', () => {
  for (const eventIdx of [false, true]) {
    const { driver, errors, memory, layout, at, bufferAddress } = ringPair(8, eventIdx);
    driver.add(0, bufferAddress(0), 8, true);
    driver.publish();
    memory.storeU16(at(layout.usedIdx), 0x8000);
    assert.equal(driver.enableInterrupts(), false, `eventIdx ${eventIdx}`);
    assert.equal(driver.getUsed(), -1);
    assert.deepEqual(codes(errors), ['index-jump'], 'reported once, whichever call saw it');
  }
});

test('driver: used ids out of range or not in flight are dropped; a too-long length is reported', () => {
  const { driver, errors, memory, layout, at, bufferAddress } = ringPair();
  driver.add(0, bufferAddress(0), BUFFER_SIZE, true);
  driver.add(1, bufferAddress(1), BUFFER_SIZE, true);
  driver.publish();
  const used = (slot: number, id: number, len: number): void => {
    memory.setU32(at(layout.usedRing) + slot * 8, id);
    memory.setU32(at(layout.usedRing) + slot * 8 + 4, len);
  };
  used(0, 77, 4); // out of range
  used(1, 3, 4); // in range, never added
  used(2, 0, BUFFER_SIZE + 1); // too long
  used(3, 0, 4); // already returned
  used(4, 1, 4); // fine
  memory.storeU16(at(layout.usedIdx), 5);
  assert.equal(driver.getUsed(), 0);
  assert.equal(driver.usedLen, -1, 'contents of an over-long entry are not valid');
  assert.equal(driver.getUsed(), 1);
  assert.equal(driver.usedLen, 4);
  assert.equal(driver.getUsed(), -1);
  assert.deepEqual(codes(errors), ['id-out-of-range', 'id-not-in-flight', 'length-too-large', 'id-not-in-flight']);
  assert.equal(driver.inFlightCount, 0);
  assert.match(errors[2]!.message, /len is 65 for descriptor 0, larger than its buffer \(64 bytes\)/);
});

test('driver: the length of a device-readable buffer is not checked (Linux ignores it)', () => {
  const { driver, device, errors, bufferAddress } = ringPair();
  driver.add(0, bufferAddress(0), 16, false);
  driver.publish();
  assert.ok(device.getAvail());
  device.putUsed(0, 4096);
  assert.equal(driver.getUsed(), 0);
  assert.deepEqual(errors, []);
});

// ---- property: arbitrary corruption never escapes as anything but a reported protocol error ------

type Step =
  | { kind: 'add'; count: number }
  | { kind: 'serve'; count: number; len: number }
  | { kind: 'reap' }
  | { kind: 'corrupt'; offset: number; value: number; width: 1 | 2 | 4 }
  /** A hostile device returning an entry of its choosing; a hostile driver offering one. */
  | { kind: 'forge-used'; id: number; len: number; skip: number }
  | { kind: 'forge-avail'; head: number; addr: number; len: number; flags: number; next: number; skip: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('serve' as const), count: fc.integer({ min: 1, max: 8 }), len: fc.integer({ min: 0, max: BUFFER_SIZE }) }),
  fc.record({ kind: fc.constant('reap' as const) }),
  fc.record({
    kind: fc.constant('corrupt' as const),
    offset: fc.integer({ min: 0, max: vringLayout(8, 16).size - 1 }),
    value: fc.integer({ min: 0, max: 0xffffffff }),
    width: fc.constantFrom(1 as const, 2 as const, 4 as const),
  }),
  fc.record({
    kind: fc.constant('forge-used' as const),
    id: fc.integer({ min: 0, max: 12 }),
    len: fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 0xffffffff })),
    skip: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 0xffff })),
  }),
  fc.record({
    kind: fc.constant('forge-avail' as const),
    head: fc.integer({ min: 0, max: 12 }),
    addr: fc.oneof(fc.integer({ min: BASE - 64, max: BASE + MEMORY_SIZE + 64 }), fc.integer({ min: 0, max: 0xffffffff })),
    len: fc.oneof(fc.integer({ min: 0, max: 128 }), fc.integer({ min: 0, max: 0xffffffff })),
    flags: fc.integer({ min: 0, max: 7 }),
    next: fc.integer({ min: 0, max: 12 }),
    skip: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 0xffff })),
  }),
);

test('property: driver and device under random ring corruption stay in bounds and only report VringProtocolErrors', () => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), fc.boolean(), (steps, eventIdx) => {
      const { driver, device, errors, memory, bufferAddress, num, layout } = ringPair(8, eventIdx);
      const free: number[] = Array.from({ length: num }, (_, i) => num - 1 - i);
      let corrupted = false;
      for (const s of steps) {
        if (s.kind === 'add') {
          for (let i = 0; i < s.count && free.length > 0; i++) {
            const id = free.pop()!;
            driver.add(id, bufferAddress(id), BUFFER_SIZE, true);
          }
          driver.kickNeeded();
        } else if (s.kind === 'serve') {
          for (let i = 0; i < s.count && device.getAvail(); i++) {
            assert.ok(device.head >= 0 && device.head < num);
            assert.ok(device.bufferOffset >= 0 && device.bufferOffset + device.bufferLength <= MEMORY_SIZE);
            device.bufferMemory.fill(device.bufferOffset, Math.min(device.bufferLength, s.len), 0xa5);
            device.putUsed(device.head, s.len);
          }
          device.interruptNeeded();
          device.enableNotify();
        } else if (s.kind === 'reap') {
          for (let id = driver.getUsed(); id >= 0; id = driver.getUsed()) {
            assert.ok(id < num && !free.includes(id), `id ${id} came back twice`);
            if (!corrupted) assert.ok(driver.usedLen >= 0 && driver.usedLen <= BUFFER_SIZE);
            free.push(id);
          }
          driver.enableInterrupts();
        } else if (s.kind === 'forge-used') {
          corrupted = true;
          const usedIdx = memory.getU16(RING_OFFSET + layout.usedIdx);
          const entry = RING_OFFSET + layout.usedRing + (usedIdx % num) * 8;
          memory.setU32(entry, s.id);
          memory.setU32(entry + 4, s.len);
          memory.storeU16(RING_OFFSET + layout.usedIdx, (usedIdx + s.skip) & 0xffff);
        } else if (s.kind === 'forge-avail') {
          corrupted = true;
          const availIdx = memory.getU16(RING_OFFSET + layout.availIdx);
          memory.setU16(RING_OFFSET + layout.availRing + (availIdx % num) * 2, s.head);
          if (s.head < num) {
            const desc = RING_OFFSET + layout.desc + s.head * 16;
            memory.setU32(desc, s.addr);
            memory.setU32(desc + 4, 0);
            memory.setU32(desc + 8, s.len);
            memory.setU16(desc + 12, s.flags);
            memory.setU16(desc + 14, s.next);
          }
          memory.storeU16(RING_OFFSET + layout.availIdx, (availIdx + s.skip) & 0xffff);
        } else {
          corrupted = true;
          const at = RING_OFFSET + Math.min(s.offset, vringLayout(8, 16).size - s.width);
          if (s.width === 1) memory.setU8(at, s.value & 0xff);
          else if (s.width === 2) memory.setU16(at, s.value & 0xffff);
          else memory.setU32(at, s.value);
        }
      }
      for (const error of errors) assert.ok(error instanceof VringProtocolError, String(error));
      if (!corrupted) {
        assert.deepEqual(errors, [], 'no corruption, no error');
      }
      assert.equal(free.length + driver.inFlightCount, num, 'every descriptor is either free or in flight');
    }),
    { numRuns: propertyRuns('vring: driver and device under ring corruption') },
  );
});
