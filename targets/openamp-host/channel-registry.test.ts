import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { propertyRuns } from '../../openamp/testing/fuzz-runs.js';
import { RPMSG_NS_CREATE, RPMSG_NS_DESTROY } from '../../openamp/rpmsg/api.js';
import { ChannelRegistry } from './channel-registry.js';

test('property: the registry agrees with a plain list model (order, find = first announced, destroy by name and address)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ name: fc.constantFrom('a', 'b', 'c'), addr: fc.integer({ min: 1024, max: 1027 }), destroy: fc.boolean() }), { maxLength: 40 }),
      (events) => {
        const registry = new ChannelRegistry();
        const model: { name: string; remoteAddr: number }[] = [];
        for (const { name, addr, destroy } of events) {
          registry.announce({ name, addr, flags: destroy ? RPMSG_NS_DESTROY : RPMSG_NS_CREATE });
          const index = model.findIndex((c) => c.name === name && c.remoteAddr === addr);
          if (destroy && index >= 0) model.splice(index, 1);
          if (!destroy && index < 0) model.push({ name, remoteAddr: addr });
        }
        assert.deepEqual(registry.channels(), model);
        for (const name of ['a', 'b', 'c']) assert.deepEqual(registry.find(name), model.find((c) => c.name === name));
      },
    ),
    { numRuns: propertyRuns('channel registry: matches a model') },
  );
});

test('200,000 announcements cost O(1) each; waiters resolve by name; fail rejects them and forgets everything', async () => {
  const registry = new ChannelRegistry();
  const waiting = registry.waitFor('last', 10_000, () => new Error('timeout'));
  const started = process.cpuUsage();
  for (let i = 0; i < 200_000; i++) registry.announce({ name: `garbage-${i}`, addr: 1024 + i, flags: RPMSG_NS_CREATE });
  registry.announce({ name: 'last', addr: 5, flags: RPMSG_NS_CREATE });
  const used = process.cpuUsage(started);
  assert.ok(used.user + used.system < 1_000_000, `${(used.user + used.system) / 1000} ms of CPU`);
  assert.deepEqual(await waiting, { name: 'last', remoteAddr: 5 });
  assert.equal(registry.size, 200_001);
  const failing = registry.waitFor('never', 10_000, () => new Error('timeout'));
  registry.fail(new Error('boot over'));
  await assert.rejects(failing, /boot over/);
  assert.equal(registry.size, 0);
});
