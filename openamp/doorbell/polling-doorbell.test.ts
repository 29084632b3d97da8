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
  await sleep(60);
  stop();
  const count = ids.length;
  // setInterval at 5 ms over 60 ms: a loaded machine may tick less, never more than ~12.
  assert.ok(count >= 2 && count <= 13, `ticked ${count} times`);
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
  const doorbell = new PollingDoorbell({ intervalMs: 10 });
  let start = performance.now();
  assert.equal(doorbell.waitSync(100), true);
  let elapsed = performance.now() - start;
  assert.ok(elapsed >= 9 && elapsed < 90, `tick took ${elapsed} ms`);
  start = performance.now();
  assert.equal(doorbell.waitSync(3), false);
  elapsed = performance.now() - start;
  assert.ok(elapsed >= 2 && elapsed < 50, `short wait took ${elapsed} ms`);
});
