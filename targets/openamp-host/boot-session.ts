import type { RpmsgDevice } from '../../openamp/rpmsg/api.js';

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

  /** `work`, unless the boot ends first. */
  race<T>(work: Promise<T>): Promise<T> {
    this.assertUp();
    // The loser of the race must not become an unhandled rejection either.
    work.catch(() => {});
    return Promise.race([work, this.down]);
  }
}
