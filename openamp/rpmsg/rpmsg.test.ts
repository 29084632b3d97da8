import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TimeoutError } from '../../base/errors.js';
import { VIRTIO_RING_F_EVENT_IDX, VIRTIO_RPMSG_F_NS, VIRTIO_STATUS } from '../virtio/transport.js';
import { VRING_DESC_F_WRITE, vringLayout } from '../virtio/vring-layout.js';
import {
  RPMSG_ADDR_ANY,
  RPMSG_NS_CREATE,
  RPMSG_NS_DESTROY,
  type NameServiceAnnouncement,
  type RpmsgEndpoint,
  type RpmsgMessage,
} from './api.js';
import { EndpointNotBoundError, NoBufferError, PayloadTooLargeError, RpmsgClosedError, RpmsgConfigError } from './errors.js';
import { createRpmsgHost, rpmsgBufferCount } from './host.js';
import { createRpmsgRemote } from './remote.js';
import { MemoryVdevTransport, createRpmsgPair, createTestMachine } from './test-machine.js';

const DEMO = 'rpmsg-openamp-demo-channel';

/** A remote echo endpoint: replies to each message's sender with the same bytes. */
const echo = (message: RpmsgMessage, endpoint: RpmsgEndpoint): void => endpoint.trySend(message.data, message.src);

async function until(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

test('host status sequence: reset to 0, ACKNOWLEDGE, DRIVER, features, DRIVER_OK = 0x07, then a kick', () => {
  const machine = createTestMachine({ deviceFeatures: VIRTIO_RPMSG_F_NS | VIRTIO_RING_F_EVENT_IDX | (1 << 5) });
  const calls: string[] = [];
  const transport = new (class extends MemoryVdevTransport {
    override setStatus(status: number): void {
      calls.push(`status ${status}`);
      super.setStatus(status);
    }
    override setDriverFeatures(features: number): void {
      calls.push(`features ${features.toString(16)}`);
      super.setDriverFeatures(features);
    }
  })(machine.space, machine.memory, 0, machine.hostTransport.vrings, machine.hostDoorbell);
  const host = createRpmsgHost({ transport, doorbell: machine.hostDoorbell, bufferPool: machine.bufferPool, listen: false });
  assert.deepEqual(calls, ['status 0', 'status 1', 'status 3', `features ${(VIRTIO_RPMSG_F_NS | VIRTIO_RING_F_EVENT_IDX).toString(16)}`, 'status 7']);
  assert.equal(host.eventIdx, true);
  assert.equal(machine.hostDoorbell.rings, 1, 'the host kicks vring 0 once DRIVER_OK is set');
  host.close();
  assert.equal(machine.hostTransport.getStatus(), 0, 'close resets the device');
  machine.close();
});

test("host buffers: min(2*num, 512), first half posted on vring 0 device-writable, Linux's split", () => {
  assert.equal(rpmsgBufferCount(64), 128);
  assert.equal(rpmsgBufferCount(256), 512);
  assert.equal(rpmsgBufferCount(1024), 512);
  for (const num of [4, 64, 256]) {
    const machine = createTestMachine({ num });
    const host = createRpmsgHost({ transport: machine.hostTransport, doorbell: machine.hostDoorbell, bufferPool: machine.bufferPool, listen: false });
    const half = rpmsgBufferCount(num) / 2;
    assert.equal(host.rxBufferCount, half);
    assert.equal(host.txBufferCount, half);
    const layout = vringLayout(num, 0x1000);
    const ring = machine.vringOffsets[0];
    assert.equal(machine.memory.getU16(ring + layout.availIdx), half, `num ${num}`);
    for (const i of [0, half - 1]) {
      const head = machine.memory.getU16(ring + layout.availRing + 2 * i);
      assert.equal(head, i);
      const desc = ring + head * 16;
      assert.equal(machine.memory.getU32(desc), machine.bufferPool.da + i * 512);
      assert.equal(machine.memory.getU32(desc + 8), 512);
      assert.equal(machine.memory.getU16(desc + 12), VRING_DESC_F_WRITE);
    }
    host.close();
    machine.close();
  }
});

test('host options: a missing or too small buffer pool is a config error', () => {
  const machine = createTestMachine({ num: 8 });
  assert.throws(() => createRpmsgHost({ transport: machine.hostTransport, doorbell: machine.hostDoorbell }), RpmsgConfigError);
  assert.throws(
    () => createRpmsgHost({ transport: machine.hostTransport, doorbell: machine.hostDoorbell, bufferPool: { da: machine.bufferPool.da, size: 16 * 512 - 1 } }),
    RpmsgConfigError,
  );
  assert.throws(() => createRpmsgHost({ transport: machine.hostTransport, doorbell: machine.hostDoorbell, bufferPool: machine.bufferPool, bufferSize: 40 }), RpmsgConfigError);
  machine.close();
});

test('remote: touches nothing before the DRIVER_OK bit, starts on 0x04 alone (open-amp host)', () => {
  const machine = createTestMachine({ num: 8 });
  let vringReads = 0;
  const transport = new (class extends MemoryVdevTransport {
    override get vrings() {
      vringReads++;
      return super.vrings;
    }
  })(machine.space, machine.memory, 0, machine.remoteTransport.vrings, machine.remoteDoorbell);
  const errors: Error[] = [];
  const remote = createRpmsgRemote({ transport, doorbell: machine.remoteDoorbell, listen: false, statusPollMs: 0, onProtocolError: (e) => errors.push(e) });
  remote.createEndpoint({ name: DEMO, announce: true });
  for (const status of [0, VIRTIO_STATUS.ACKNOWLEDGE, VIRTIO_STATUS.ACKNOWLEDGE | VIRTIO_STATUS.DRIVER]) {
    machine.remoteTransport.setStatus(status);
    remote.poll();
    assert.equal(remote.ready, false);
  }
  assert.equal(vringReads, 0, 'vring addresses are not read before DRIVER_OK');
  // An open-amp host: rings set up by hand, features, then status 0x04 only.
  const host = createRpmsgHost({ transport: machine.hostTransport, doorbell: machine.hostDoorbell, bufferPool: machine.bufferPool, listen: false });
  machine.remoteTransport.setStatus(VIRTIO_STATUS.DRIVER_OK);
  remote.poll();
  assert.equal(remote.ready, true);
  assert.ok(vringReads > 0);
  assert.deepEqual(errors, []);
  host.close();
  remote.close();
  machine.close();
});

test('echo both ways: the remote announces, the host binds by name, the remote learns the host address from the first message', () => {
  const pair = createRpmsgPair({ num: 16 });
  const { host, remote } = pair;
  const remoteEp = remote.createEndpoint({ name: DEMO, announce: true, onMessage: echo });
  const received: RpmsgMessage[] = [];
  const hostEp = host.createEndpoint({ name: DEMO, onMessage: (m) => received.push(m) });
  assert.equal(hostEp.dest, RPMSG_ADDR_ANY);
  pair.pump();
  assert.equal(hostEp.dest, remoteEp.addr, 'bound by the announcement');
  assert.equal(remoteEp.dest, RPMSG_ADDR_ANY, 'the remote does not know the host yet');
  for (let size = 0; size <= host.maxPayload; size += 31) {
    const payload = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff);
    hostEp.trySend(payload);
    pair.pump();
    const reply = received.shift();
    assert.ok(reply, `echo of ${size} bytes`);
    assert.deepEqual(reply.data, payload);
    assert.equal(reply.src, remoteEp.addr);
    assert.equal(reply.dst, hostEp.addr);
  }
  assert.equal(remoteEp.dest, hostEp.addr, 'learned from the first message');
  const full = new Uint8Array(host.maxPayload).fill(0x5a);
  remoteEp.trySend(full);
  pair.pump();
  assert.deepEqual(received.shift()?.data, full);
  assert.deepEqual(pair.hostErrors, []);
  assert.deepEqual(pair.remoteErrors, []);
  pair.close();
});

test('doorbell-driven echo (no manual polling), queue receive and async iteration', async () => {
  const pair = createRpmsgPair({ num: 8, listen: true });
  const { host, remote } = pair;
  const remoteEp = remote.createEndpoint({ name: DEMO, announce: true, onMessage: echo });
  const hostEp = host.createEndpoint({ name: DEMO });
  await until(() => hostEp.dest === remoteEp.addr, 'the announcement');
  // More messages than buffers: send() waits for returned buffers.
  const count = 40;
  const sends: Promise<void>[] = [];
  for (let i = 0; i < count; i++) sends.push(hostEp.send(Uint8Array.of(i, i + 1)));
  await Promise.all(sends);
  let n = 0;
  for await (const message of hostEp) {
    assert.deepEqual(message.data, Uint8Array.of(n, n + 1));
    if (++n === count - 1) break;
  }
  const last = await hostEp.receive(1000);
  assert.deepEqual(last.data, Uint8Array.of(count - 1, count));
  assert.deepEqual(pair.hostErrors, []);
  assert.deepEqual(pair.remoteErrors, []);
  pair.close();
});

test('name service: listeners create endpoints from announcements; late endpoints bind at once', () => {
  const pair = createRpmsgPair({ num: 8 });
  const { host, remote } = pair;
  const seen: NameServiceAnnouncement[] = [];
  const created: RpmsgEndpoint[] = [];
  host.onNameService((a) => {
    seen.push(a);
    if (a.flags === RPMSG_NS_CREATE && a.name === 'rpmsg-raw') created.push(host.createEndpoint({ name: a.name, dest: a.addr }));
  });
  const raw = remote.createEndpoint({ name: 'rpmsg-raw', addr: 0x402, announce: true });
  const tty = remote.createEndpoint({ name: 'rpmsg-tty', addr: 0x401, announce: true });
  pair.pump();
  assert.deepEqual(seen, [
    { name: 'rpmsg-raw', addr: 0x402, flags: RPMSG_NS_CREATE },
    { name: 'rpmsg-tty', addr: 0x401, flags: RPMSG_NS_CREATE },
  ]);
  assert.equal(created.length, 1);
  assert.equal(created[0]!.dest, raw.addr);
  const late = host.createEndpoint({ name: 'rpmsg-tty' });
  assert.equal(late.dest, tty.addr, 'bound from the remembered announcement');
  assert.equal(host.announcedServices.get('rpmsg-tty'), 0x401);
  pair.close();
});

test('NS DESTROY unbinds (dest back to ANY, onUnbind), and a new announcement rebinds', () => {
  const pair = createRpmsgPair({ num: 8 });
  const { host, remote } = pair;
  const unbound: RpmsgEndpoint[] = [];
  const hostEp = host.createEndpoint({ name: DEMO, onUnbind: (ep) => unbound.push(ep) });
  const first = remote.createEndpoint({ name: DEMO, announce: true });
  pair.pump();
  assert.equal(hostEp.dest, first.addr);
  first.destroy();
  pair.pump();
  assert.equal(hostEp.dest, RPMSG_ADDR_ANY);
  assert.deepEqual(unbound, [hostEp]);
  assert.throws(() => hostEp.trySend(Uint8Array.of(1)), EndpointNotBoundError);
  const second = remote.createEndpoint({ name: DEMO, announce: true });
  assert.notEqual(second.addr, first.addr);
  pair.pump();
  assert.equal(hostEp.dest, second.addr);
  // Destroying an endpoint that never announced sends nothing.
  const sentBefore = remote.stats.sent;
  remote.createEndpoint({ name: 'quiet' }).destroy();
  assert.equal(remote.stats.sent, sentBefore);
  assert.equal(first.destroyed, true);
  assert.throws(() => first.trySend(Uint8Array.of(1), 1024), RpmsgClosedError);
  pair.close();
});

test('host-announced channel: the remote binds by name and must be written to first', async () => {
  const pair = createRpmsgPair({ num: 8 });
  const { host, remote } = pair;
  const hostTty = host.createEndpoint({ name: 'rpmsg-tty', addr: 257, announce: true });
  const remoteSeen: NameServiceAnnouncement[] = [];
  remote.onNameService((a) => {
    remoteSeen.push(a);
    if (a.flags !== RPMSG_NS_CREATE) return;
    const ep = remote.createEndpoint({ name: a.name, dest: a.addr });
    ep.trySend(new TextEncoder().encode('bound'));
  });
  pair.pump();
  assert.deepEqual(remoteSeen, [{ name: 'rpmsg-tty', addr: 257, flags: RPMSG_NS_CREATE }]);
  const bound = await hostTty.receive(0);
  assert.equal(new TextDecoder().decode(bound.data), 'bound');
  assert.equal(hostTty.dest, bound.src, 'the host learned the remote endpoint from its first message');
  hostTty.destroy();
  pair.pump();
  assert.deepEqual(remoteSeen.at(-1), { name: 'rpmsg-tty', addr: 257, flags: RPMSG_NS_DESTROY });
  pair.close();
});

test('buffer exhaustion: trySend fails at once, send times out with NoBufferError, a waiting send goes out when buffers return', async () => {
  const pair = createRpmsgPair({ num: 4, listen: true });
  const { host, remote } = pair;
  const remoteEp = remote.createEndpoint({ name: DEMO, addr: 1100 });
  const hostEp = host.createEndpoint({ name: DEMO, dest: remoteEp.addr });
  await until(() => remote.ready, 'remote ready');
  // Keep the remote from consuming anything: stop its doorbell.
  pair.machine.remoteDoorbell.listen(() => {});
  for (let i = 0; i < host.txBufferCount; i++) hostEp.trySend(Uint8Array.of(i));
  const started = Date.now();
  assert.throws(() => hostEp.trySend(Uint8Array.of(99)), NoBufferError);
  assert.ok(Date.now() - started < 50, 'trySend does not wait');
  await assert.rejects(hostEp.send(Uint8Array.of(98), { timeoutMs: 60 }), NoBufferError);
  assert.ok(Date.now() - started >= 55, 'send waited for its timeout');
  const waiting = hostEp.send(Uint8Array.of(100), { timeoutMs: 5000 });
  remote.poll(); // consumes everything; the host asked for a tx-complete kick, so the remote rings
  await waiting;
  remote.poll();
  assert.equal(remote.stats.received, host.txBufferCount + 1);
  assert.deepEqual(pair.hostErrors, []);
  pair.close();
});

test('remote exhaustion: no host buffer posted -> trySend fails at once, send waits for the host to repost', async () => {
  const pair = createRpmsgPair({ num: 4, listen: true });
  const { host, remote } = pair;
  const hostEp = host.createEndpoint({ name: 'sink', addr: 2000 });
  await until(() => remote.ready, 'remote ready');
  const remoteEp = remote.createEndpoint({ name: 'src', dest: hostEp.addr });
  pair.machine.hostDoorbell.listen(() => {}); // the host stops looking
  for (let i = 0; i < host.rxBufferCount; i++) remoteEp.trySend(Uint8Array.of(i));
  assert.throws(() => remoteEp.trySend(Uint8Array.of(9)), NoBufferError);
  const waiting = remoteEp.send(Uint8Array.of(10), { timeoutMs: 5000 });
  host.poll(); // reposts, kicks the remote
  await waiting;
  host.poll();
  for (let i = 0; i <= host.rxBufferCount; i++) assert.deepEqual((await hostEp.receive(0)).data, Uint8Array.of(i === host.rxBufferCount ? 10 : i));
  assert.equal(host.stats.received, host.rxBufferCount + 1);
  pair.close();
});

test('payloads larger than maxPayload are refused with PayloadTooLargeError, never truncated', async () => {
  const pair = createRpmsgPair({ num: 8, bufferSize: 256 });
  const { host, remote } = pair;
  pair.pump();
  assert.equal(host.maxPayload, 240);
  assert.equal(remote.maxPayload, 240);
  const remoteEp = remote.createEndpoint({ name: 'x', addr: 1500 });
  const hostEp = host.createEndpoint({ name: 'x', dest: 1500 });
  const before = host.stats.sent;
  assert.throws(() => hostEp.trySend(new Uint8Array(241)), PayloadTooLargeError);
  await assert.rejects(hostEp.send(new Uint8Array(241)), PayloadTooLargeError);
  assert.throws(() => remoteEp.trySend(new Uint8Array(241), 1024), PayloadTooLargeError);
  assert.equal(host.stats.sent, before);
  hostEp.trySend(new Uint8Array(240).fill(1));
  pair.pump();
  assert.deepEqual((await remoteEp.receive(0)).data, new Uint8Array(240).fill(1));
  pair.close();
});

test('messages to unknown addresses are dropped and counted', () => {
  const pair = createRpmsgPair({ num: 8 });
  const { host, remote } = pair;
  pair.pump();
  const hostEp = host.createEndpoint({ name: 'x', dest: 4242 });
  hostEp.trySend(Uint8Array.of(1));
  hostEp.trySend(Uint8Array.of(2));
  pair.pump();
  assert.equal(remote.stats.droppedUnknownAddress, 2);
  assert.equal(remote.stats.received, 0);
  assert.deepEqual(pair.remoteErrors, []);
  pair.close();
});

test('receive times out with TimeoutError; destroy ends iterators and fails receivers', async () => {
  const pair = createRpmsgPair({ num: 8 });
  const ep = pair.host.createEndpoint({ name: 'x' });
  await assert.rejects(ep.receive(20), TimeoutError);
  const iterator = ep[Symbol.asyncIterator]();
  const pendingNext = iterator.next();
  const pendingReceive = ep.receive(5000);
  ep.destroy();
  assert.deepEqual(await pendingNext, { done: true, value: undefined });
  await assert.rejects(pendingReceive, RpmsgClosedError);
  pair.close();
});

test('close fails pending sends and receives', async () => {
  const pair = createRpmsgPair({ num: 4 });
  pair.pump();
  const ep = pair.host.createEndpoint({ name: 'x', dest: 3000 });
  for (let i = 0; i < pair.host.txBufferCount; i++) ep.trySend(Uint8Array.of(i));
  const waiting = ep.send(Uint8Array.of(1), { timeoutMs: 10000 });
  const receiving = ep.receive(10000);
  pair.host.close();
  await assert.rejects(waiting, RpmsgClosedError);
  await assert.rejects(receiving, RpmsgClosedError);
  assert.throws(() => pair.host.createEndpoint({ name: 'y' }), RpmsgClosedError);
  pair.close();
});

test('event idx negotiated: echo works doorbell-driven and with waiting sends', async () => {
  const pair = createRpmsgPair({ num: 4, listen: true, deviceFeatures: VIRTIO_RPMSG_F_NS | VIRTIO_RING_F_EVENT_IDX });
  const { host, remote } = pair;
  assert.equal(host.eventIdx, true);
  const remoteEp = remote.createEndpoint({ name: DEMO, announce: true, onMessage: echo });
  const hostEp = host.createEndpoint({ name: DEMO });
  await until(() => hostEp.dest === remoteEp.addr, 'the announcement');
  assert.equal(remote.eventIdxNegotiated, true);
  const count = 50;
  await Promise.all(Array.from({ length: count }, (_, i) => hostEp.send(Uint8Array.of(i), { timeoutMs: 2000 })));
  for (let i = 0; i < count; i++) assert.deepEqual((await hostEp.receive(2000)).data, Uint8Array.of(i));
  assert.deepEqual(pair.hostErrors, []);
  assert.deepEqual(pair.remoteErrors, []);
  pair.close();
});

test('without the NS feature nothing is announced and fixed addresses still talk', () => {
  const pair = createRpmsgPair({ num: 8, deviceFeatures: 0 });
  const { host, remote } = pair;
  const remoteEp = remote.createEndpoint({ name: 'fixed', addr: 1, announce: true, onMessage: echo });
  pair.pump();
  assert.equal(remote.stats.sent, 0, 'no NS message without VIRTIO_RPMSG_F_NS');
  const got: RpmsgMessage[] = [];
  const hostEp = host.createEndpoint({ name: 'fixed', dest: remoteEp.addr, onMessage: (m) => got.push(m) });
  hostEp.trySend(Uint8Array.of(7));
  pair.pump();
  assert.deepEqual(got.map((m) => [...m.data]), [[7]]);
  pair.close();
});

test('host restart: the remote resets quietly on status 0, then announces again to the new host', () => {
  const pair = createRpmsgPair({ num: 8 });
  const { remote, machine } = pair;
  const remoteEp = remote.createEndpoint({ name: DEMO, announce: true, onMessage: echo });
  pair.pump();
  pair.host.close();
  remote.poll();
  assert.equal(remote.ready, false);
  assert.deepEqual(pair.remoteErrors, [], 'a reset to 0 is not an error');
  const host2 = createRpmsgHost({ transport: machine.hostTransport, doorbell: machine.hostDoorbell, bufferPool: machine.bufferPool, listen: false });
  const got: RpmsgMessage[] = [];
  const hostEp = host2.createEndpoint({ name: DEMO, onMessage: (m) => got.push(m) });
  remote.poll();
  host2.poll();
  assert.equal(hostEp.dest, remoteEp.addr);
  hostEp.trySend(Uint8Array.of(1, 2, 3));
  remote.poll();
  host2.poll();
  assert.deepEqual(got.map((m) => [...m.data]), [[1, 2, 3]]);
  assert.deepEqual(pair.remoteErrors, []);
  host2.close();
  pair.close();
});

test('createEndpoint checks names and addresses', () => {
  const pair = createRpmsgPair({ num: 8 });
  const { host } = pair;
  assert.throws(() => host.createEndpoint({ name: 'x'.repeat(32) }), RpmsgConfigError);
  assert.throws(() => host.createEndpoint({ name: '' }), RpmsgConfigError);
  host.createEndpoint({ name: 'a', addr: 1024 });
  assert.equal(host.createEndpoint({ name: 'x'.repeat(31) }).addr, 1025);
  assert.throws(() => host.createEndpoint({ name: 'b', addr: 1024 }), RpmsgConfigError);
  assert.throws(() => host.createEndpoint({ name: 'ns', addr: 0x35 }), RpmsgConfigError);
  assert.equal(host.createEndpoint({ name: 'c' }).addr, 1026, 'next free dynamic address');
  assert.equal(host.endpoint(1024)?.name, 'a');
  pair.close();
});

test('one notify route: both roles kick only through transport.notify (virtio notify -> remoteproc ops kick), never their doorbell directly', () => {
  const machine = createTestMachine({ num: 16 });
  const kicks: string[] = [];
  /** The side's doorbell, as the device sees it: listening works, ringing it directly is a bypass. */
  const listenOnly = (doorbell: typeof machine.hostDoorbell, side: string): typeof machine.hostDoorbell =>
    Object.assign(Object.create(doorbell) as typeof machine.hostDoorbell, {
      notify: () => assert.fail(`the ${side} rang its doorbell directly, bypassing transport.notify`),
    });
  const recording = (side: string, doorbell: typeof machine.hostDoorbell, vrings: typeof machine.hostTransport.vrings): MemoryVdevTransport =>
    new (class extends MemoryVdevTransport {
      override notify(notifyId: number): void {
        kicks.push(`${side} ${notifyId}`);
        super.notify(notifyId);
      }
    })(machine.space, machine.memory, 0, vrings, doorbell);
  const remote = createRpmsgRemote({
    transport: recording('remote', machine.remoteDoorbell, machine.remoteTransport.vrings),
    doorbell: listenOnly(machine.remoteDoorbell, 'remote'),
    listen: false,
    statusPollMs: 0,
  });
  const host = createRpmsgHost({
    transport: recording('host', machine.hostDoorbell, machine.hostTransport.vrings),
    doorbell: listenOnly(machine.hostDoorbell, 'host'),
    bufferPool: machine.bufferPool,
    listen: false,
  });
  const [vring0, vring1] = machine.hostTransport.vrings;
  assert.deepEqual(kicks, [`host ${vring0!.notifyId}`], 'DRIVER_OK is followed by a kick of vring 0, through the transport');
  remote.createEndpoint({ name: DEMO, announce: true, onMessage: echo });
  const received: RpmsgMessage[] = [];
  const hostEp = host.createEndpoint({ name: DEMO, onMessage: (m) => received.push(m) });
  for (let round = 0; round < 4; round++) {
    remote.poll();
    host.poll();
  }
  hostEp.trySend(new Uint8Array([1, 2, 3]));
  for (let round = 0; round < 4 && received.length === 0; round++) {
    remote.poll();
    host.poll();
  }
  assert.deepEqual(received[0]?.data, new Uint8Array([1, 2, 3]));
  assert.ok(kicks.includes(`host ${vring1!.notifyId}`), `the host kicked vring 1 after its send: ${kicks.join(', ')}`);
  assert.ok(kicks.some((kick) => kick.startsWith('remote ')), `the remote kicked the host: ${kicks.join(', ')}`);
  assert.equal(machine.hostDoorbell.rings + machine.remoteDoorbell.rings, kicks.length, 'every ring of a doorbell came from a transport kick');
  host.close();
  remote.close();
  machine.close();
});

test('spin after send: past its first µs the spin gives the core away (spinYield); after 8 empty spins in a row the next 64 sends do not spin; a remote that answers later keeps those rests short, one-way traffic doubles them', async () => {
  // The loopback doorbell answers from the event loop, never during the host's spin: every spin
  // here runs its whole budget and comes back empty.
  let yields = 0;
  const pair = createRpmsgPair({ num: 8, listen: true, hostSpinAfterSendUs: 2000, hostSpinYield: () => yields++ });
  const { host, remote } = pair;
  let sunk = 0;
  const echoEp = remote.createEndpoint({ name: DEMO, announce: true, onMessage: echo });
  const sinkEp = remote.createEndpoint({ name: 'sink', announce: true, onMessage: () => sunk++ });
  const hostEcho = host.createEndpoint({ name: DEMO });
  const hostSink = host.createEndpoint({ name: 'sink' });
  await until(() => hostEcho.dest === echoEp.addr && hostSink.dest === sinkEp.addr, 'the announcements');

  // Echo: answers come, later than the spin. Sends 1-8 spin (and yield: 2 ms found nothing),
  // 9-72 rest, 73-80 spin, 81-144 rest, 145-152 spin.
  const spun: number[] = [];
  for (let i = 1; i <= 160; i++) {
    const before = yields;
    await hostEcho.send(Uint8Array.of(i & 0xff));
    if (yields > before) spun.push(i);
    // Every echo still arrives (from the doorbell), in order.
    assert.deepEqual((await hostEcho.receive(5000)).data, Uint8Array.of(i & 0xff));
  }
  const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, k) => from + k);
  assert.deepEqual(spun, [...range(1, 8), ...range(73, 80), ...range(145, 152)]);

  // One way: nothing comes back. The rest begun at 153 runs to 216 (echoes came during it), so
  // 217-224 spin, 225-288 rest (64) with nothing received, 289 spins, 290-417 rest (128), 418 spins.
  const oneWay: number[] = [];
  for (let i = 161; i <= 420; i++) {
    const before = yields;
    await hostSink.send(Uint8Array.of(i & 0xff));
    if (yields > before) oneWay.push(i);
    if (i % 8 === 0) await until(() => sunk === i - 160, `the remote took message ${i}`);
  }
  assert.deepEqual(oneWay, [...range(217, 224), 289, 418]);
  assert.deepEqual(pair.hostErrors, []);
  assert.deepEqual(pair.remoteErrors, []);
  pair.close();
});
