import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plannedBoardCommandNames, plannedBoardCommandTimeout } from './board-commands.js';
import type { TargetConfig } from './config.js';

function target(name: string, params: unknown): TargetConfig {
  return { name, kind: 'qemu-linux', params: params as Record<string, unknown>, suites: [], firmware: {} };
}

test('board commands of the plan: names in farm.yaml order, each once; targets without commands add none; the longest timeout per name', () => {
  const plan = {
    targets: [
      target('a', { commands: [{ name: 'insmod', run: 'x', timeoutMs: 1000 }, { name: 'ping', run: 'y' }] }),
      target('b', { commands: [{ name: 'ping', run: 'y', timeoutMs: 90_000 }, { name: 'matrix', run: 'z' }] }),
      target('c', {}),
      target('d', null),
    ],
  };
  assert.deepEqual(plannedBoardCommandNames(plan), ['insmod', 'ping', 'matrix']);
  assert.equal(plannedBoardCommandTimeout(plan, 'ping'), 90_000);
  assert.equal(plannedBoardCommandTimeout(plan, 'insmod'), 1000);
  assert.equal(plannedBoardCommandTimeout(plan, 'matrix'), undefined);
  assert.deepEqual(plannedBoardCommandNames({ targets: [] }), []);
});
