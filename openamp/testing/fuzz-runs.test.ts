import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzRuns } from './fuzz-runs.js';

test('defaults apply when FARM_FUZZ_RUNS is unset, empty or invalid', () => {
  assert.equal(fuzzRuns(3000, {}), 3000);
  assert.equal(fuzzRuns(3000, { FARM_FUZZ_RUNS: '' }), 3000);
  assert.equal(fuzzRuns(3000, { FARM_FUZZ_RUNS: 'lots' }), 3000);
  assert.equal(fuzzRuns(3000, { FARM_FUZZ_RUNS: '-5' }), 3000);
});

test('FARM_FUZZ_RUNS scales every default relative to the 10,000-run reference', () => {
  assert.equal(fuzzRuns(3000, { FARM_FUZZ_RUNS: '200000' }), 60000);
  assert.equal(fuzzRuns(3000, { FARM_FUZZ_RUNS: '1000' }), 300);
  assert.equal(fuzzRuns(10, { FARM_FUZZ_RUNS: '1' }), 1, 'never below one run');
});
