import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { InfrastructureError } from '../../base/errors.js';
import { AtomicsDoorbell } from './atomics-doorbell.js';
import { startAtomicsEchoWorker, type AtomicsEchoWorkerData } from './atomics-echo-worker-start.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('Atomics doorbell: a ring reaches only the other end, with its notify id', async () => {
  const { host, remote } = AtomicsDoorbell.createPair();
  const heard: number[] = [];
  const stop = host.listen((id) => heard.push(id));
  host.notify(7); // host -> remote: the host's own listener must not hear it
  assert.equal(remote.waitSync(0), true);
  assert.equal(remote.waitSync(0), false, 'one ring is consumed once');
  remote.notify(0x8000_0001);
  for (let i = 0; i < 50 && heard.length === 0; i++) await nextTurn();
  assert.deepEqual(heard, [0x8000_0001]);
  stop();
  host.close();
  remote.close();
});

test('Atomics doorbell: a ring made before anyone waits or listens is not lost', async () => {
  const { host, remote } = AtomicsDoorbell.createPair();
  remote.notify(1);
  const heard: number[] = [];
  const stop = host.listen((id) => heard.push(id));
  assert.deepEqual(heard, [1], 'delivered synchronously on listen');
  stop();
  host.notify(2);
  // A late-attached end over the same buffer also sees it.
  const { buffer } = AtomicsDoorbell.createPair();
  const early = AtomicsDoorbell.attach(buffer, 'host');
  early.notify(3);
  assert.equal(AtomicsDoorbell.attach(buffer, 'remote').waitSync(0), true);
  assert.equal(remote.waitSync(0), true);
});

test('Atomics doorbell: waitSync times out when nobody rings, within a sane margin', () => {
  const { remote } = AtomicsDoorbell.createPair({ spinMicros: 5 });
  const start = performance.now();
  assert.equal(remote.waitSync(20), false);
  const elapsed = performance.now() - start;
  assert.ok(elapsed >= 19 && elapsed < 1000, `waited ${elapsed} ms`);
  assert.equal(remote.waitSync(0), false);
  assert.equal(remote.waitSync(-5), false);
});

test('Atomics doorbell: stopping a listener stops the calls, and a new listener can take over', async () => {
  const { host, remote } = AtomicsDoorbell.createPair();
  let first = 0;
  const stop = host.listen(() => first++);
  remote.notify(0);
  for (let i = 0; i < 50 && first === 0; i++) await nextTurn();
  assert.equal(first, 1);
  assert.throws(() => host.listen(() => {}), InfrastructureError);
  stop();
  stop();
  remote.notify(0);
  for (let i = 0; i < 10; i++) await nextTurn();
  assert.equal(first, 1, 'stopped listener was called');
  let second = 0;
  const stop2 = host.listen(() => second++);
  assert.equal(second, 1, 'ring made while nobody listened is delivered to the next listener');
  host.close();
  remote.notify(0);
  for (let i = 0; i < 10; i++) await nextTurn();
  assert.equal(second, 1, 'close stops the listener');
  stop2();
  assert.throws(() => host.listen(() => {}), InfrastructureError);
});

test('Atomics doorbell: a throwing handler surfaces as an uncaught exception and the listener keeps going', () => {
  // In a child process: the test runner treats any uncaught exception in its own process as a failure.
  const moduleUrl = new URL('./atomics-doorbell.js', import.meta.url).href;
  const script = `
    const { AtomicsDoorbell } = await import(${JSON.stringify(moduleUrl)});
    const { host, remote } = AtomicsDoorbell.createPair();
    let calls = 0, thrown = 0;
    process.on('uncaughtException', () => thrown++);
    const stop = host.listen(() => { calls++; throw new Error('handler bug'); });
    const turn = () => new Promise((r) => setImmediate(r));
    remote.notify(0);
    for (let i = 0; i < 100 && calls < 1; i++) await turn();
    remote.notify(0);
    for (let i = 0; i < 100 && calls < 2; i++) await turn();
    await turn();
    stop();
    console.log(JSON.stringify({ calls, thrown }));
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), { calls: 2, thrown: 2 });
});

test('Atomics doorbell: rejects a buffer that is not shared or too small', () => {
  assert.throws(() => AtomicsDoorbell.attach(new SharedArrayBuffer(8), 'host'), InfrastructureError);
  assert.throws(() => AtomicsDoorbell.attach(new ArrayBuffer(1024) as unknown as SharedArrayBuffer, 'host'), InfrastructureError);
  assert.throws(() => AtomicsDoorbell.createPair({ spinMicros: -1 }), InfrastructureError);
});

async function pingPong(mode: AtomicsEchoWorkerData['mode'], rounds: number): Promise<void> {
  const { buffer, host } = AtomicsDoorbell.createPair();
  const data: AtomicsEchoWorkerData = { buffer, rounds, mode, timeoutMs: 5000 };
  const { worker, result, exit } = await startAtomicsEchoWorker(data);
  try {
    for (let i = 1; i <= rounds; i++) {
      host.notify(i);
      assert.equal(host.waitSync(5000), true, `no answer to ring ${i}`);
    }
    assert.deepEqual(await result, { ok: true, answered: rounds });
    // The worker's notify id is its answer count: the last ring carried `rounds`.
    assert.equal(new Int32Array(buffer)[17], rounds);
    assert.equal(await exit, 0);
  } finally {
    await worker.terminate();
    host.close();
  }
}

test('Atomics doorbell: ping-pong with a worker blocked in waitSync', () => pingPong('waitSync', 200));

test('Atomics doorbell: ping-pong with a worker answering from its event loop (listen)', () => pingPong('listen', 200));
