import { TimeoutError } from '../../base/errors.js';
import type { RpmsgDevice } from '../../openamp/rpmsg/api.js';
import { quoteRemote } from '../../base/remote-text.js';

/** What a boot runs, for failure messages: the firmware's label and a reader of its trace buffer. */
export interface BootSubject {
  readonly firmware: string;
  /** The remote's trace text ('' when it has none). */
  readonly readTrace: () => string;
}

/** Trace lines a timeout message quotes. */
const TRACE_TAIL_LINES = 5;

/**
 * One boot of the remote, from start to stop or crash. Everything the host hands out during a
 * boot (endpoints, receives, channel waits) races `down`, so a crash fails them at once with
 * the crash's error instead of letting each wait out its timeout; and nothing from an earlier
 * boot can be used in a later one.
 */
export class BootSession {
  readonly down: Promise<never>;
  private failure: Error | undefined;
  private rejectDown!: (error: Error) => void;

  constructor(
    readonly id: number,
    readonly device: RpmsgDevice,
    readonly subject?: BootSubject,
  ) {
    this.down = new Promise<never>((_, reject) => {
      this.rejectDown = reject;
    });
    // Nobody may be racing it when it fails; that is not an unhandled rejection.
    this.down.catch(() => {});
  }

  get up(): boolean {
    return this.failure === undefined;
  }

  /** The error the boot ended with, if it ended. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Throws the boot's error when it is over. */
  assertUp(): void {
    if (this.failure) throw this.failure;
  }

  /** Ends the boot; the first call wins. */
  end(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.rejectDown(error);
  }

  /**
   * `timeout` (nothing came from the remote in time) said with what the remote runs and the end
   * of its trace, where the reference firmware says why it did not answer ("ignoring a 17-byte
   * message"): the wrong image for the suite reads as such, not as a bare timeout.
   */
  explainTimeout(timeout: TimeoutError): TimeoutError {
    if (!this.subject) return timeout;
    let trace: string;
    try {
      trace = this.subject.readTrace();
    } catch (error) {
      trace = `(trace unreadable: ${(error as Error).message})`;
    }
    const lines = trace
      .split('\n')
      .map((line) => line.trimEnd())
      .filter((line) => line !== '')
      .slice(-TRACE_TAIL_LINES);
    // One line: reporters show a failure's first line.
    const tail = lines.length > 0 ? `; the remote's trace ends: ${lines.map((line) => quoteRemote(line)).join(' | ')}` : '; the remote wrote no trace';
    return new TimeoutError(`${timeout.message} (firmware ${this.subject.firmware})${tail}`, { cause: timeout });
  }

  /** `work`, unless the boot ends first. */
  race<T>(work: Promise<T>): Promise<T> {
    this.assertUp();
    // The loser of the race must not become an unhandled rejection either.
    work.catch(() => {});
    return Promise.race([work, this.down]);
  }
}
