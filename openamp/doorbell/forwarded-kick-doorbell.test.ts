import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { InfrastructureError } from '../../base/errors.js';
import { NOTIFY_ID_UNKNOWN } from './doorbell.js';
import { ForwardedKickDoorbell } from './forwarded-kick-doorbell.js';

test('a forwarded kick calls the listener at once, with the notify id; kicks while nobody listens are counted, not delivered', () => {
  // A safety poll far away: only kicks can call the handler within this test.
  const doorbell = new ForwardedKickDoorbell({ kind: 'uart-kick', safetyPollMs: 60_000 });
  const calls: number[] = [];
  doorbell.ring();
  assert.deepEqual(doorbell.stats, { kicks: 1, delivered: 0 });
  const stop = doorbell.listen((id) => calls.push(id));
  doorbell.ring();
  doorbell.ring(2);
  assert.deepEqual(calls, [NOTIFY_ID_UNKNOWN, 2], 'each kick is one synchronous handler call');
  stop();
  doorbell.ring();
  assert.deepEqual(calls, [NOTIFY_ID_UNKNOWN, 2], 'no call after stop');
  assert.deepEqual(doorbell.stats, { kicks: 4, delivered: 2 });
  assert.equal(doorbell.kind, 'uart-kick');
  doorbell.close();
});

test('the safety poll calls the listener without any kick, and stops with the listener', async () => {
  const doorbell = new ForwardedKickDoorbell({ safetyPollMs: 5 });
  let calls = 0;
  const stop = doorbell.listen(() => calls++);
  try {
    await sleep(80);
    assert.ok(calls >= 3, `safety polls in 80 ms at 5 ms: ${calls}`);
    assert.equal(doorbell.pollStats.timerPolls, calls);
    assert.equal(doorbell.stats.kicks, 0);
  } finally {
    stop();
  }
  const after = calls;
  await sleep(30);
  assert.equal(calls, after, 'no poll after stop');
  doorbell.close();
});

test('notify sends nothing and, without a burst, adds no polling; with burstMs it polls every turn for that long', async () => {
  const plain = new ForwardedKickDoorbell({ safetyPollMs: 60_000 });
  let plainCalls = 0;
  plain.listen(() => plainCalls++);
  plain.notify(1);
  await sleep(20);
  assert.equal(plainCalls, 0);
  assert.equal(plain.pollStats.bursts, 0);
  plain.close();

  const bursting = new ForwardedKickDoorbell({ safetyPollMs: 60_000, burstMs: 5 });
  let burstCalls = 0;
  bursting.listen(() => burstCalls++);
  bursting.notify(1);
  await sleep(30);
  assert.equal(bursting.pollStats.bursts, 1);
  assert.ok(burstCalls >= 1 && burstCalls === bursting.pollStats.burstPolls, `burst polls: ${burstCalls}`);
  bursting.close();
});

test('one listener at a time; listen after close and a bad safety interval are InfrastructureErrors; close stops the safety poll', async () => {
  assert.throws(() => new ForwardedKickDoorbell({ safetyPollMs: 0 }), InfrastructureError);
  assert.throws(() => new ForwardedKickDoorbell({ safetyPollMs: Number.NaN }), InfrastructureError);
  const doorbell = new ForwardedKickDoorbell({ safetyPollMs: 5 });
  let calls = 0;
  doorbell.listen(() => calls++);
  assert.throws(() => doorbell.listen(() => {}), InfrastructureError);
  doorbell.close();
  doorbell.ring();
  const atClose = calls;
  await sleep(30);
  assert.equal(calls, atClose, 'closed: neither kicks nor polls reach the old listener');
  assert.throws(() => doorbell.listen(() => {}), InfrastructureError);
});
