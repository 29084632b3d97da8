import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InfrastructureError } from '../../base/errors.js';
import { NOTIFY_ID_UNKNOWN } from './doorbell.js';
import { PollingDoorbell } from './polling-doorbell.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('Polling doorbell calls the handler on every tick until stopped', async (t) => {
  const doorbell = new PollingDoorbell({ intervalMs: 5 });
  // A failed assertion must fail the test, not leave the timer holding the process open.
  t.after(() => doorbell.close());
  const ids: number[] = [];
  const stop = doorbell.listen((id) => ids.push(id));
  doorbell.notify(1); // no-op, must not throw
  // Until a few ticks came (a loaded machine ticks late, not never); never more than the timer allows.
  const started = performance.now();
  while (ids.length < 3 && performance.now() - started < 10_000) await sleep(5);
  stop();
  const elapsed = performance.now() - started;
  const count = ids.length;
  assert.ok(count >= 3, `ticked ${count} times in ${elapsed.toFixed(0)} ms`);
  assert.ok(count <= elapsed / 5 + 2, `ticked ${count} times in ${elapsed.toFixed(0)} ms: more often than every 5 ms`);
  assert.ok(ids.every((id) => id === NOTIFY_ID_UNKNOWN));
  await sleep(20);
  assert.equal(ids.length, count, 'ticked after stop');
  doorbell.close();
});

test('Polling doorbell: one listener at a time; close stops it; bad intervals rejected', async () => {
  const doorbell = new PollingDoorbell({ intervalMs: 2 });
  let ticks = 0;
  doorbell.listen(() => ticks++);
  assert.throws(() => doorbell.listen(() => {}), InfrastructureError);
  doorbell.close();
  const at = ticks;
  await sleep(15);
  assert.equal(ticks, at);
  assert.throws(() => doorbell.listen(() => {}), InfrastructureError);
  assert.throws(() => new PollingDoorbell({ intervalMs: 0 }), InfrastructureError);
  assert.throws(() => new PollingDoorbell({ intervalMs: Number.NaN }), InfrastructureError);
  assert.equal(new PollingDoorbell().intervalMs, 1);
});

test('Polling doorbell waitSync sleeps one interval and reports a tick, or times out short of it', () => {
  // The upper bounds are far from the wrong answers (the whole timeout, a whole tick), so a
  // loaded machine that is slow to wake the thread cannot fail them.
  const doorbell = new PollingDoorbell({ intervalMs: 10 });
  let start = performance.now();
  assert.equal(doorbell.waitSync(5000), true);
  let elapsed = performance.now() - start;
  assert.ok(elapsed >= 9 && elapsed < 2500, `a tick took ${elapsed} ms: it slept the timeout, not one interval`);
  const slow = new PollingDoorbell({ intervalMs: 5000 });
  start = performance.now();
  assert.equal(slow.waitSync(3), false);
  elapsed = performance.now() - start;
  assert.ok(elapsed >= 2 && elapsed < 2500, `a short wait took ${elapsed} ms: it slept a whole tick, not its timeout`);
  slow.close();
});
