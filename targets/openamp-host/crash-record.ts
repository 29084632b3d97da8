import type { AddressSpace } from '../../openamp/memory/shared-memory.js';
import { hex } from '../../base/errors.js';

/**
 * The reference firmware's crash record: the last 32 bytes of its trace buffer (see
 * firmware/README.md). `magic` is written last; `heartbeat` counts main-loop rounds so the
 * host can tell a stalled core from an idle one.
 */
export const CRASH_RECORD_SIZE = 32;
export const CRASH_MAGIC = 0x48535243; // "CRSH"
/** Written instead when the program ended on purpose (`fw_exit`); `cause` is the exit code. */
export const EXIT_MAGIC = 0x54495845; // "EXIT"
const FIELDS = { magic: 0, kind: 4, cause: 8, pc: 12, addr: 16, heartbeat: 20 } as const;

export interface CrashRecord {
  readonly kind: number;
  readonly cause: number;
  readonly pc: number;
  readonly addr: number;
}

/** Reads the record of the trace buffer at `trace` (da, len); reports the heartbeat too. */
export class CrashRecordReader {
  private readonly base: number;

  constructor(
    private readonly memory: AddressSpace,
    trace: { readonly da: number; readonly len: number },
  ) {
    // Resolving the whole record up front: a table whose trace is outside memory fails here.
    this.base = trace.da + trace.len - CRASH_RECORD_SIZE;
    memory.resolveDa(this.base, CRASH_RECORD_SIZE);
  }

  private word(field: keyof typeof FIELDS): number {
    const { memory, offset } = this.memory.resolveDa(this.base + FIELDS[field], 4);
    return memory.loadU32(offset);
  }

  heartbeat(): number {
    return this.word('heartbeat');
  }

  read(): CrashRecord | undefined {
    if (this.word('magic') !== CRASH_MAGIC) return undefined;
    return { kind: this.word('kind'), cause: this.word('cause'), pc: this.word('pc'), addr: this.word('addr') };
  }

  /** The exit code when the program ended on purpose (an exit record), else undefined. */
  exitCode(): number | undefined {
    return this.word('magic') === EXIT_MAGIC ? this.word('cause') : undefined;
  }

  /** Forgets a previous crash (before a restart, so an old record is not seen as new). */
  clear(): void {
    const { memory, offset } = this.memory.resolveDa(this.base, CRASH_RECORD_SIZE);
    memory.fill(offset, CRASH_RECORD_SIZE, 0);
  }
}

export function describeCrash(record: CrashRecord): string {
  return `the remote faulted (crash record: cause ${hex(record.cause)}, pc ${hex(record.pc)}, address ${hex(record.addr)})`;
}

export interface RemoteWatchOptions {
  readonly reader: CrashRecordReader;
  /** Called once with the reason when the remote crashed or stalled. */
  readonly onCrash: (reason: string) => void;
  /**
   * Called once when the program ended on purpose (exit record): a parked core is not a
   * stalled one, so watching stops without a crash.
   */
  readonly onExit?: (code: number) => void;
  /** No heartbeat for this long = stalled. Default 1000 ms. */
  readonly stallMs?: number;
  /** Default 20 ms. */
  readonly intervalMs?: number;
}

/** Watches a running reference remote for a crash record or a stopped heartbeat. */
export class RemoteWatch {
  private readonly timer: NodeJS.Timeout;
  private lastBeat: number;
  private lastChange = Date.now();
  private done = false;

  constructor(private readonly options: RemoteWatchOptions) {
    this.lastBeat = options.reader.heartbeat();
    const stallMs = options.stallMs ?? 1000;
    this.timer = setInterval(() => this.check(stallMs), options.intervalMs ?? 20);
    this.timer.unref();
  }

  private check(stallMs: number): void {
    if (this.done) return;
    let record: CrashRecord | undefined;
    let exitCode: number | undefined;
    let beat: number;
    try {
      record = this.options.reader.read();
      exitCode = record ? undefined : this.options.reader.exitCode();
      beat = this.options.reader.heartbeat();
    } catch (error) {
      return this.finish(`cannot read the remote's crash record: ${(error as Error).message}`);
    }
    if (record) return this.finish(describeCrash(record));
    if (exitCode !== undefined) {
      this.done = true;
      this.stop();
      this.options.onExit?.(exitCode);
      return;
    }
    const now = Date.now();
    if (beat !== this.lastBeat) {
      this.lastBeat = beat;
      this.lastChange = now;
    } else if (now - this.lastChange > stallMs) {
      this.finish(`the remote stalled: no progress (heartbeat ${beat}) for ${now - this.lastChange} ms`);
    }
  }

  private finish(reason: string): void {
    this.done = true;
    this.stop();
    this.options.onCrash(reason);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
