import { InfrastructureError } from '../../base/errors.js';
import type { Strategy, StrategyStep } from '../protocols.js';

/** How a strategy enters one state from the state below it, and leaves it again. */
export interface StrategyStepDefinition {
  /** What entering the state does, for the log ("launch QEMU, paused"). */
  readonly detail: string;
  /** From the state below to this one. */
  up(): Promise<void>;
  /** From this state to the one below: releases what `up` acquired. Must not throw for "already released". */
  down(): Promise<void>;
}

export interface OrderedStrategyOptions<State extends string> {
  /** The target's name, for the log and errors. */
  readonly target: string;
  /** Bring-up order; the first state holds nothing. */
  readonly states: readonly [State, ...State[]];
  /** The state the suites need (see Strategy.ready). */
  readonly ready: State;
  /** One step per state after the first, keyed by the state it enters. */
  readonly steps: { readonly [S in State]?: StrategyStepDefinition };
  /** Called for every step taken, up or down. */
  readonly log: (step: StrategyStep) => void;
}

/** "<target>: <from> -> <to>: <detail>", as the target log shows a step. */
export function formatStrategyStep(step: StrategyStep): string {
  return `${step.target}: ${step.from} -> ${step.to}: ${step.detail}`;
}

/**
 * The walk every kind's strategy shares: states in a line, one step between neighbours, taken
 * one at a time. Transitions queue (a second one starts where the first ended), except a walk
 * down to the first state, which also stops a walk up at its next step: teardown must not wait
 * for a whole bring-up it is about to undo.
 */
export class OrderedStrategy<State extends string> implements Strategy<State> {
  readonly states: readonly State[];
  readonly ready: State;
  private current: State;
  private queue: Promise<void> = Promise.resolve();
  /** Bumped by a walk to the first state: a walk up started before it stops. */
  private generation = 0;

  constructor(private readonly options: OrderedStrategyOptions<State>) {
    this.states = options.states;
    this.ready = options.ready;
    this.current = options.states[0];
    if (!this.states.includes(options.ready)) throw new InfrastructureError(`${options.target}: ready state "${options.ready}" is not one of ${this.states.join(', ')}`);
    for (const state of this.states.slice(1)) {
      if (!options.steps[state]) throw new InfrastructureError(`${options.target}: the strategy has no step into "${state}"`);
    }
  }

  get state(): State {
    return this.current;
  }

  transition(state: State): Promise<void> {
    const to = this.states.indexOf(state);
    if (to < 0) return Promise.reject(new InfrastructureError(`${this.options.target}: unknown state "${state}" (states: ${this.states.join(', ')})`));
    if (to === 0) this.generation++;
    const generation = this.generation;
    const walk = this.queue.then(() => this.walk(to, generation));
    this.queue = walk.catch(() => {});
    return walk;
  }

  private async walk(to: number, generation: number): Promise<void> {
    let at = this.states.indexOf(this.current);
    while (at < to) {
      if (generation !== this.generation) {
        throw new InfrastructureError(`${this.options.target}: bring-up to "${this.states[to]}" stopped at "${this.current}": the target is being shut down`);
      }
      const next = this.states[at + 1]!;
      const step = this.options.steps[next]!;
      this.options.log({ target: this.options.target, from: this.current, to: next, detail: step.detail });
      await step.up();
      this.current = next;
      at++;
    }
    let firstError: unknown;
    while (at > to) {
      const leaving = this.states[at]!;
      const below = this.states[at - 1]!;
      this.options.log({ target: this.options.target, from: leaving, to: below, detail: `undo: ${this.options.steps[leaving]!.detail}` });
      try {
        await this.options.steps[leaving]!.down();
      } catch (error) {
        firstError ??= error;
      }
      this.current = below;
      at--;
    }
    if (firstError !== undefined) throw firstError;
  }
}
