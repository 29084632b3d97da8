import * as fs from 'node:fs';
import { execa, type ResultPromise } from 'execa';
import { InfrastructureError } from '../errors.js';
import { onProcessExit } from './exit-cleanup.js';

export interface ProcessExit {
  /** Exit code, or undefined when a signal ended it. */
  readonly code: number | undefined;
  readonly signal: string | undefined;
}

export interface SpawnOptions {
  /** For messages: "qemu-riscv64-virt", "remote echo". */
  readonly name: string;
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Every chunk of stdout / stderr as text. */
  readonly onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  /** Debian package that provides `file`, named in the error when it is missing. */
  readonly debianPackage?: string;
  /**
   * Have the kernel SIGKILL the child when the farm process dies, even by SIGKILL (setpriv
   * --pdeathsig). Default true.
   */
  readonly dieWithParent?: boolean;
  /**
   * Run the command under farm-reaper (firmware/tools/farm-reaper.c, this executable): the
   * command's whole process tree then ends with it, even children that called setsid() and
   * escaped its process group, on stop, on the farm's exit and when the farm is SIGKILLed
   * (the reaper dies with the farm and ends the tree first). `graceMs`: SIGTERM -> SIGKILL of
   * the tree. Replaces dieWithParent's setpriv.
   */
  readonly reaper?: { readonly path: string; readonly graceMs: number };
}

/** A binary we need is not installed. */
export class MissingToolError extends InfrastructureError {
  constructor(
    readonly tool: string,
    readonly debianPackage: string | undefined,
  ) {
    super(`${tool} is not installed` + (debianPackage ? ` (Debian package ${debianPackage}; \`farm doctor --fix\` installs it)` : ''));
  }
}

/** Finds `file` on PATH (or as given when it contains a slash); undefined when absent. */
export function findExecutable(file: string): string | undefined {
  const candidates = file.includes('/') ? [file] : (process.env.PATH ?? '').split(':').filter(Boolean).map((dir) => `${dir}/${file}`);
  for (const candidate of candidates) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * A child process the farm owns: started with execa, its output streamed to a callback, its
 * end observable, and guaranteed gone when the farm stops it, exits, or is interrupted.
 */
export class ManagedProcess {
  readonly exited: Promise<ProcessExit>;
  private exitInfo: ProcessExit | undefined;
  private readonly releaseExitHook: () => void;

  private constructor(
    readonly name: string,
    child: ResultPromise,
    readonly pid: number,
    /** The grace of the farm-reaper this process is (undefined: no reaper). */
    private readonly reaperGraceMs: number | undefined,
  ) {
    this.exited = child.then(
      (result) => this.recordExit(result),
      (error: unknown) => this.recordExit(error as { exitCode?: number; signal?: string }),
    );
    // A reaper must not be SIGKILLed: it would leave the escaped children behind. SIGTERM makes
    // it end the whole tree (and SIGKILL what outlives its grace) on its own after we are gone.
    this.releaseExitHook = onProcessExit(() => (reaperGraceMs === undefined ? signalGroup(this.pid, 'SIGKILL') : signalOne(this.pid, 'SIGTERM')));
    void this.exited.then(() => this.releaseExitHook());
  }

  static spawn(options: SpawnOptions): ManagedProcess {
    const resolved = findExecutable(options.file);
    if (!resolved) throw new MissingToolError(options.file, options.debianPackage);
    const reaper = options.reaper;
    if (reaper && !findExecutable(reaper.path)) throw new MissingToolError(reaper.path, undefined);
    const pdeath = !reaper && options.dieWithParent !== false ? findExecutable('setpriv') : undefined;
    const file = reaper?.path ?? pdeath ?? resolved;
    const args = reaper
      ? ['--grace-ms', String(Math.max(0, Math.round(reaper.graceMs))), '--', resolved, ...options.args]
      : pdeath
        ? ['--pdeathsig', 'KILL', '--', resolved, ...options.args]
        : [...options.args];
    const child = execa(file, args, {
      cwd: options.cwd,
      env: options.env,
      extendEnv: true,
      stdin: 'ignore',
      buffer: false,
      reject: false,
      cleanup: false, // our own exit hook kills it (see exit-cleanup.ts)
      // Its own session and process group: a Ctrl-C in the farm's terminal goes to the terminal's
      // foreground group, and a child in it would die of it while the farm stops it in order
      // (QEMU: "terminating on signal 2", reported as a crash). The farm's teardown, its exit
      // hook and --pdeathsig still end it.
      detached: true,
      encoding: 'utf8',
    });
    if (child.pid === undefined) {
      throw new InfrastructureError(`could not start ${options.name} (${resolved})`);
    }
    const managed = new ManagedProcess(options.name, child, child.pid, reaper?.graceMs);
    for (const stream of ['stdout', 'stderr'] as const) {
      const readable = child[stream];
      readable?.setEncoding('utf8');
      readable?.on('data', (text: string) => options.onOutput?.(stream, text));
    }
    return managed;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** How it ended, once it has. */
  get exit(): ProcessExit | undefined {
    return this.exitInfo;
  }

  /**
   * SIGTERM, then SIGKILL after `graceMs` (default 1000); resolves once the process is gone.
   * Under a reaper, the reaper's own SIGTERM -> SIGKILL of the tree comes first (the group
   * SIGKILL is only the last resort, after twice the grace).
   */
  async stop(options: { graceMs?: number } = {}): Promise<ProcessExit> {
    if (this.exitInfo) return this.exitInfo;
    this.signal('SIGTERM');
    const grace = this.reaperGraceMs === undefined ? (options.graceMs ?? 1000) : 2 * Math.max(options.graceMs ?? 1000, this.reaperGraceMs) + 500;
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.signal('SIGKILL');
        resolve();
      }, grace);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }

  /** Sends `signal` to the process and whatever it started (its process group). */
  signal(signal: NodeJS.Signals): void {
    if (this.exitInfo) return;
    signalGroup(this.pid, signal);
  }

  private recordExit(result: { exitCode?: number; signal?: string }): ProcessExit {
    this.exitInfo ??= { code: result.exitCode, signal: result.signal ?? undefined };
    return this.exitInfo;
  }
}

function signalOne(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Signals the process group `pid` leads (a detached child), or the process alone if that fails. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
    return;
  } catch {
    // no such group (gone, or not a group leader): try the process itself
  }
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** "exit code 3" / "signal SIGSEGV". */
export function describeExit(exit: ProcessExit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code ?? '?'}`;
}
