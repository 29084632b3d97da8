import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { propertyRuns } from '../testing/fuzz-runs.js';
import { checkLayout, LayoutError, type LayoutRegion, type LayoutRole } from './memory-layout.js';

test('overlapping vrings, pool and table are refused naming both; carveouts may hold the table, a trace, their own vring or the pool', () => {
  const table: LayoutRegion = { role: 'resource table', what: 'resource table', da: 0, size: 0x4000 };
  const vring0: LayoutRegion = { role: 'vring', what: 'vdev0vring0', da: 0x4000, size: 0x2806 };
  const vring1: LayoutRegion = { role: 'vring', what: 'vdev0vring1', da: 0x8000, size: 0x2806 };
  const pool: LayoutRegion = { role: 'buffer pool', what: 'vdev0 buffer pool', da: 0x10000, size: 0x40000 };
  checkLayout([table, vring0, vring1, pool], 'ok');
  assert.throws(
    () => checkLayout([table, vring0, { ...vring1, da: 0x5000 }, pool], 'lp'),
    (e: unknown) => e instanceof LayoutError && e.failureClass === 'firmware' && /^lp: vdev0vring1 at 0x00005000\+0x2806 overlaps vdev0vring0 at 0x00004000\+0x2806/.test(e.message),
  );
  assert.throws(() => checkLayout([table, vring0, vring1, { ...pool, da: 0x9000 }], 'lp'), /vdev0 buffer pool at 0x00009000\+0x40000 overlaps vdev0vring1/);
  assert.throws(() => checkLayout([table, { ...vring0, da: 0x3000 }, vring1, pool], 'lp'), /vdev0vring0 at 0x00003000\+0x2806 overlaps resource table/);
  // Adjacent is not overlapping.
  checkLayout([table, { ...vring0, da: 0x4000 - 0 }, { ...vring1, da: 0x4000 + 0x2806 }], 'adjacent');
  const ram: LayoutRegion = { role: 'carveout', what: 'carveout "fw-ram"', da: 0, size: 0x100000 };
  checkLayout([{ ...table, da: 0x1000, size: 0x100 }, { role: 'trace', what: 'trace "t"', da: 0x2000, size: 0x1000 }, ram], 'table in RAM carveout');
  assert.throws(() => checkLayout([ram, { ...vring0, da: 0x10000 }], 'x'), /vdev0vring0 .* overlaps carveout "fw-ram"/);
  const buffers: LayoutRegion = { role: 'carveout', what: 'carveout "vdev0buffer"', da: 0x10000, size: 0x40000 };
  checkLayout([buffers, pool], 'pool is its carveout');
  checkLayout([{ role: 'carveout', what: 'carveout "vdev0vring0"', da: 0x4000, size: 0x4000 }, vring0], 'vring in its carveout');
});

const ROLES: readonly LayoutRole[] = ['resource table', 'vring', 'buffer pool', 'trace'];

test('property: without carveouts, the layout is refused exactly when two regions share a byte', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({ role: fc.constantFrom(...ROLES), da: fc.integer({ min: 0, max: 200 }), size: fc.integer({ min: 1, max: 60 }) }),
        { minLength: 1, maxLength: 6 },
      ),
      (specs) => {
        const regions: LayoutRegion[] = specs.map((spec, i) => ({ ...spec, what: `r${i}` }));
        const owner = new Int8Array(300).fill(-1);
        let shared = false;
        regions.forEach((region, i) => {
          for (let b = region.da; b < region.da + region.size; b++) {
            if (owner[b]! >= 0) shared = true;
            owner[b] = i;
          }
        });
        // trace + table may not overlap either (only carveouts may hold others).
        let threw = false;
        try {
          checkLayout(regions, 'prop');
        } catch (error) {
          assert.ok(error instanceof LayoutError);
          threw = true;
        }
        assert.equal(threw, shared);
      },
    ),
    { numRuns: propertyRuns('layout: overlap check') },
  );
});
