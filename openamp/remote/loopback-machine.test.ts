import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import type { RpmsgEndpoint } from '../rpmsg/api.js';
import { startLoopbackMachine, type LoopbackDoorbellKind, type LoopbackMemoryKind, type LoopbackMachine } from './loopback-machine.js';
import { DEMO_CHANNEL } from './program.js';
import { controlMessage } from './control-words.js';

async function demoEndpoint(machine: LoopbackMachine): Promise<RpmsgEndpoint> {
  const deadline = Date.now() + 5000;
  while (!machine.host.announcedServices.has(DEMO_CHANNEL)) {
    assert.ok(Date.now() < deadline, 'the remote announced its channel');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return machine.host.createEndpoint({ name: DEMO_CHANNEL });
}

const backends: [LoopbackMemoryKind, LoopbackDoorbellKind][] = [
  ['sab', 'atomics'],
  ['file', 'atomics'],
  ['file', 'unix-socket'],
  ['sab', 'poll'],
];

for (const [memory, doorbell] of backends) {
  test(`host and TypeScript remote echo over ${memory} memory + ${doorbell} doorbell`, async () => {
    const machine = await startLoopbackMachine({ program: 'echo', memory, doorbell });
    try {
      const endpoint = await demoEndpoint(machine);
      assert.equal(endpoint.dest, 0x400, 'bound to the remote announcement (first dynamic address)');
      // open-amp ping sizes: a 16-byte header then 1..480 bytes, plus the extremes.
      const sizes = [1, 17, 100, 255, 256, 495, 496];
      for (let n = 0; n < 40; n++) sizes.push(17 + ((n * 53) % 480));
      for (const [i, size] of sizes.entries()) {
        const data = new Uint8Array(size).map((_, j) => (i * 31 + j) & 0xff);
        await endpoint.send(data, { timeoutMs: 2000 });
        const echo = await endpoint.receive(2000);
        assert.equal(echo.src, 0x400);
        assert.equal(echo.dst, endpoint.addr);
        assert.deepEqual(echo.data, data, `message ${i} (${size} bytes) came back byte-identical`);
      }
    } finally {
      const exit = await machine.close();
      assert.deepEqual(exit, { kind: 'outcome', outcome: { kind: 'stopped' } }, 'the remote stopped on request');
    }
    assert.equal(machine.remote.running, false);
    assert.equal(existsSync(machine.layout.shmPath), false, 'shared file removed');
    assert.equal(existsSync(machine.layout.eventSocketPath), false, 'socket removed');
  });
}

test('the shutdown word ends the echo program: NS DESTROY, then the core halts', async () => {
  const machine = await startLoopbackMachine({ program: 'echo', memory: 'file', doorbell: 'unix-socket' });
  try {
    const endpoint = await demoEndpoint(machine);
    const destroyed = new Promise((resolve) => machine.host.onNameService((a) => a.flags === 1 && resolve(a)));
    await endpoint.send(controlMessage('shutdown'));
    assert.deepEqual(await destroyed, { name: DEMO_CHANNEL, addr: 0x400, flags: 1 });
    const exit = await machine.remote.exited;
    assert.deepEqual(exit, { kind: 'outcome', outcome: { kind: 'finished', reason: 'shutdown message' } });
  } finally {
    await machine.close();
  }
});

test('a crash word kills the remote worker with a fault', async () => {
  const lines: string[] = [];
  const machine = await startLoopbackMachine({ program: 'echo', memory: 'sab', doorbell: 'atomics', onConsole: (line) => lines.push(line) });
  try {
    const endpoint = await demoEndpoint(machine);
    await endpoint.send(controlMessage('crash'));
    const exit = await machine.remote.exited;
    assert.equal(exit.kind, 'fault');
    assert.match(exit.kind === 'fault' ? exit.error.message : '', /remote core fault on request/);
    assert.equal(machine.remote.control.state, 'faulted');
  } finally {
    await machine.close();
  }
});

test('with a host spin, the echo of a fast remote is read before the event loop runs again; without, it waits for the doorbell', async () => {
  // A generous budget: the spin ends at the first message, and a loaded machine may be slow to
  // run the remote's thread; what is checked is where the echo was read, not how fast.
  for (const spin of [1_000_000, 0]) {
    const machine = await startLoopbackMachine({ program: 'echo', memory: 'sab', doorbell: 'atomics', remoteSpinMicros: 100_000, hostSpinMicros: spin });
    try {
      const endpoint = await demoEndpoint(machine);
      const received: Uint8Array[] = [];
      const inbox = machine.host.createEndpoint({ name: 'spin-probe', dest: endpoint.dest, onMessage: (message) => void received.push(message.data.slice()) });
      let eventLoopTurned = false;
      setImmediate(() => (eventLoopTurned = true));
      await inbox.send(new Uint8Array([1, 2, 3, 4]), { timeoutMs: 2000 });
      for (let i = 0; i < 10; i++) await Promise.resolve(); // microtasks only: the spin runs in one
      if (spin > 0) {
        assert.equal(eventLoopTurned, false, 'no event-loop turn happened before the check');
        assert.equal(received.length, 1, 'the echo was read by the spin after the send');
      } else {
        assert.equal(received.length, 0, 'without a spin nothing is read until the doorbell is serviced');
        const deadline = Date.now() + 5000;
        while (received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
        assert.equal(received.length, 1, 'the doorbell delivered the echo later');
      }
      inbox.destroy();
    } finally {
      await machine.close();
    }
  }
});
