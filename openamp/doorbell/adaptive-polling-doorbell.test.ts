import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InfrastructureError } from '../../base/errors.js';
import { AdaptivePollingDoorbell } from './adaptive-polling-doorbell.js';
import { NOTIFY_ID_UNKNOWN } from './doorbell.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('Adaptive polling doorbell: idle it polls on the timer only, never from every event-loop turn', async (t) => {
  const doorbell = new AdaptivePollingDoorbell({ intervalMs: 5, burstMs: 20 });
  // A failed assertion must fail the test, not leave the timer holding the process open.
  t.after(() => doorbell.close());
  const ids: number[] = [];
  const stop = doorbell.listen((id) => ids.push(id));
  // Event-loop turns all along (every turn would poll if it were bursting), until a few timer
  // ticks came: a loaded machine ticks late, not never.
  let turns = 0;
  let turning = true;
  const turn = (): void => {
    turns++;
    if (turning) setImmediate(turn);
  };
  setImmediate(turn);
  const started = performance.now();
  while (ids.length < 3 && performance.now() - started < 10_000) await sleep(5);
  turning = false;
  stop();
  const elapsed = performance.now() - started;
  assert.ok(ids.length >= 3, `polled ${ids.length} times in ${elapsed.toFixed(0)} ms while idle`);
  assert.ok(ids.length <= elapsed / 5 + 2, `polled ${ids.length} times in ${elapsed.toFixed(0)} ms (${turns} event-loop turns): more often than the 5 ms timer`);
  assert.ok(ids.every((id) => id === NOTIFY_ID_UNKNOWN));
  assert.deepEqual({ bursts: doorbell.stats.bursts, burstPolls: doorbell.stats.burstPolls }, { bursts: 0, burstPolls: 0 });
  doorbell.close();
});

test('Adaptive polling doorbell: a notify polls on every turn for burstMs, a notify from the handler extends it, then it falls back to the timer', async (t) => {
  // The burst is long next to a scheduling hiccup of a loaded machine, so the counts below do not
  // depend on how busy the machine is; the 1 s timer cannot tick within the test.
  const doorbell = new AdaptivePollingDoorbell({ intervalMs: 1000, burstMs: 150 });
  t.after(() => doorbell.close());
  let calls = 0;
  let extendAt = 3;
  doorbell.listen(() => {
    calls++;
    // Like the RPMsg host answering what it received: it rings, which extends the burst.
    if (calls === extendAt) doorbell.notify(1);
  });
  const started = performance.now();
  doorbell.notify(1);
  doorbell.notify(1); // joins the running burst
  await sleep(20);
  assert.ok(calls > 3, `polled ${calls} times within 20 ms of a notify (the timer alone: 0)`);
  extendAt = calls + 1;
  // Wait for the burst to end: every turn polls until burstMs after the last notify.
  while (doorbell.stats.burstPolls > 0 && performance.now() - started < 2000) {
    const before = doorbell.stats.burstPolls;
    await sleep(25);
    if (doorbell.stats.burstPolls === before) break;
  }
  const lasted = performance.now() - started;
  assert.ok(lasted >= 150, `the burst lasted ${lasted.toFixed(1)} ms`);
  assert.equal(doorbell.stats.bursts, 1, 'notifies during a burst extend it instead of starting another');
  const after = calls;
  await sleep(30);
  assert.equal(calls, after, 'no polling from the event loop after the burst (timer interval 1 s)');
  doorbell.close();
});

test('Adaptive polling doorbell: burstMs 0 is plain polling; close stops a running burst; one listener; bad options rejected', async (t) => {
  const plain = new AdaptivePollingDoorbell({ intervalMs: 1000, burstMs: 0 });
  t.after(() => plain.close());
  let plainCalls = 0;
  plain.listen(() => plainCalls++);
  plain.notify(1);
  await sleep(10);
  assert.equal(plainCalls, 0);
  plain.close();

  const doorbell = new AdaptivePollingDoorbell({ intervalMs: 1000, burstMs: 10_000 });
  t.after(() => doorbell.close());
  let calls = 0;
  doorbell.listen(() => calls++);
  assert.throws(() => doorbell.listen(() => {}), InfrastructureError);
  doorbell.notify(1);
  await sleep(5);
  assert.ok(calls > 0);
  doorbell.close();
  const at = calls;
  await sleep(10);
  assert.equal(calls, at, 'close ends the burst');
  assert.throws(() => doorbell.listen(() => {}), InfrastructureError);
  doorbell.notify(1); // after close: no-op, no throw

  assert.throws(() => new AdaptivePollingDoorbell({ intervalMs: 0 }), InfrastructureError);
  assert.throws(() => new AdaptivePollingDoorbell({ burstMs: -1 }), InfrastructureError);
  assert.throws(() => new AdaptivePollingDoorbell({ burstMs: Number.NaN }), InfrastructureError);
  const defaults = new AdaptivePollingDoorbell();
  assert.deepEqual([defaults.kind, defaults.intervalMs, defaults.burstMs], ['adaptive-poll', 1, 0.2]);
});

test('Adaptive polling doorbell waitSync: returns at once during a burst, sleeps one interval otherwise', () => {
  // An interval long next to a scheduling hiccup tells "slept one interval" from "returned at once".
  const doorbell = new AdaptivePollingDoorbell({ intervalMs: 100, burstMs: 1000 });
  let start = performance.now();
  assert.equal(doorbell.waitSync(1000), true);
  assert.ok(performance.now() - start >= 99, 'slept one interval while idle');
  doorbell.notify(1);
  start = performance.now();
  assert.equal(doorbell.waitSync(1000), true);
  assert.ok(performance.now() - start < 50, 'no sleep during a burst');
  doorbell.close();
});
