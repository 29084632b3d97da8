import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InfrastructureError } from '../../base/errors.js';
import type { StrategyStep } from '../protocols.js';
import { OrderedStrategy, formatStrategyStep, type StrategyStepDefinition } from './ordered-strategy.js';

type State = 'off' | 'powered' | 'shell' | 'ready';

function strategy(overrides: Partial<Record<State, Partial<StrategyStepDefinition>>> = {}) {
  const calls: string[] = [];
  const logged: StrategyStep[] = [];
  const step = (state: State): StrategyStepDefinition => ({
    detail: `enter ${state}`,
    up: async () => {
      calls.push(`up ${state}`);
    },
    down: async () => {
      calls.push(`down ${state}`);
    },
    ...overrides[state],
  });
  const walker = new OrderedStrategy<State>({
    target: 'board1',
    states: ['off', 'powered', 'shell', 'ready'],
    ready: 'ready',
    steps: { powered: step('powered'), shell: step('shell'), ready: step('ready') },
    log: (s) => logged.push(s),
  });
  return { walker, calls, logged };
}

test('OrderedStrategy walks up and down one step at a time, logging each step, and stays put when already there', async () => {
  const { walker, calls, logged } = strategy();
  assert.equal(walker.state, 'off');
  assert.equal(walker.ready, 'ready');
  await walker.transition('shell');
  assert.equal(walker.state, 'shell');
  await walker.transition('ready');
  await walker.transition('ready');
  await walker.transition('powered');
  await walker.transition('off');
  assert.deepEqual(calls, ['up powered', 'up shell', 'up ready', 'down ready', 'down shell', 'down powered']);
  assert.equal(walker.state, 'off');
  assert.deepEqual(logged.map(formatStrategyStep), [
    'board1: off -> powered: enter powered',
    'board1: powered -> shell: enter shell',
    'board1: shell -> ready: enter ready',
    'board1: ready -> shell: undo: enter ready',
    'board1: shell -> powered: undo: enter shell',
    'board1: powered -> off: undo: enter powered',
  ]);
});

test('OrderedStrategy: a failing step up leaves the state at the last one reached; down from there releases what was acquired', async () => {
  const { walker, calls } = strategy({ shell: { up: async () => Promise.reject(new InfrastructureError('no prompt')) } });
  await assert.rejects(walker.transition('ready'), /no prompt/);
  assert.equal(walker.state, 'powered');
  await walker.transition('off');
  assert.deepEqual(calls, ['up powered', 'down powered']);
});

test('OrderedStrategy: going down never stops half-way; the first failure is thrown after every step ran', async () => {
  const { walker, calls } = strategy({
    ready: { down: async () => Promise.reject(new Error('host would not stop')) },
    shell: { down: async () => Promise.reject(new Error('second failure')) },
  });
  await walker.transition('ready');
  calls.length = 0;
  await assert.rejects(walker.transition('off'), /host would not stop/);
  assert.equal(walker.state, 'off');
  assert.deepEqual(calls, ['down powered']);
});

test('OrderedStrategy: a walk to the first state stops a bring-up in flight at its next step, then undoes what it did', async () => {
  let releasePowered!: () => void;
  const poweredUp = new Promise<void>((resolve) => {
    releasePowered = resolve;
  });
  const { walker, calls } = strategy({
    powered: {
      up: async () => {
        calls.push('up powered (slow)');
        await poweredUp;
      },
    },
  });
  const bringUp = walker.transition('ready');
  bringUp.catch(() => {});
  while (!calls.includes('up powered (slow)')) await new Promise((resolve) => setImmediate(resolve));
  const off = walker.transition('off');
  releasePowered();
  await assert.rejects(bringUp, /bring-up to "ready" stopped at "powered": the target is being shut down/);
  await off;
  assert.equal(walker.state, 'off');
  assert.deepEqual(calls, ['up powered (slow)', 'down powered']);
});

test('OrderedStrategy refuses unknown states and a strategy without a step for a state', async () => {
  const { walker } = strategy();
  await assert.rejects(walker.transition('flying' as State), (error: unknown) => error instanceof InfrastructureError && /unknown state "flying"/.test((error as Error).message));
  assert.throws(
    () => new OrderedStrategy<State>({ target: 'b', states: ['off', 'powered'], ready: 'powered', steps: {}, log: () => {} }),
    /no step into "powered"/,
  );
  assert.throws(() => new OrderedStrategy<State>({ target: 'b', states: ['off'], ready: 'ready', steps: {}, log: () => {} }), /ready state "ready"/);
});
