/**
 * What a target kind is (the contract between targets/registry.ts and each kind's module). A
 * kind imports this module, never the registry: the registry imports every built-in kind, so
 * a kind importing the registry would close a cycle.
 */
import type { Prerequisite, SuiteName, Target, TargetLog } from './target.js';

/** What a kind gets besides its own parameters when the farm creates a target. */
export interface TargetContext {
  /** Directory of the farm.yaml the target came from (or the working directory). */
  readonly configDir: string;
  /** Firmware paths from farm.yaml, by suite, absolute; a kind uses them instead of its defaults. */
  readonly firmware: Readonly<Partial<Record<SuiteName, string>>>;
  /** An empty scratch directory for this target instance; the farm removes it after teardown. */
  readonly workDir: string;
  /** Where the target logs (strategy steps, progress, consoles); `setup(log)` may replace it. */
  readonly log?: TargetLog;
}

/** What a kind's prerequisite check gets besides its parameters. */
export interface PrerequisiteContext {
  /** Directory of the farm.yaml the target came from (or the working directory): relative paths resolve here. */
  readonly configDir: string;
  /** The target's `firmware:` paths by suite (absolute): what a kind need not build. Absent: none given. */
  readonly firmware?: Readonly<Partial<Record<SuiteName, string>>>;
}

/** The ELF images a kind's remote core runs; `farm doctor` checks `firmware:` files against it. */
export interface KindMachine {
  /** e_machine (openamp/elf/elf-constants.ts: EM_RISCV, EM_ARM, ...). */
  readonly elfMachine: number;
  readonly elfClass?: 32 | 64;
}

export interface TargetKindDefinition<Params = unknown> {
  /** The `kind:` value in farm.yaml ("sim", "qemu-riscv"). */
  readonly kind: string;
  /** One line for `farm targets`. */
  readonly description: string;
  /** Suites the kind can run at all (a target may narrow it in farm.yaml). */
  readonly suites: readonly SuiteName[];
  /**
   * Validates the `params:` mapping of a target. `path` is where it sits in farm.yaml
   * ("targets[2].params"); throw ConfigError(`${path}.field`, "what is wrong") on a mistake.
   * Must be pure: it runs in the CLI and again in every Playwright worker.
   */
  parseParams(raw: unknown, path: string): Params;
  /**
   * False when the kind runs no images from farm.yaml's `firmware:` (linux-process runs
   * commands): the config loader then rejects a target that has `firmware:`. Default: true.
   */
  readonly acceptsFirmwareImages?: boolean;
  /** With acceptsFirmwareImages false: where a suite's remote is configured instead. */
  readonly remoteParam?: { readonly path: string; readonly runs: string };
  /** The machine of the images the kind runs, when it runs ELF images. */
  readonly machine?: KindMachine;
  /** Everything this target needs on this machine (binaries, devices, groups), checked now. */
  prerequisites(params: Params, context: PrerequisiteContext): Promise<Prerequisite[]>;
  /** A target that is not set up yet; `setup` provisions it. */
  create(name: string, params: Params, context: TargetContext): Target;
}
