/**
 * A few words of shared memory between whoever runs a remote core (the sim's remoteproc ops, a
 * test) and the core's loop: a stop request the loop checks on every round (so a core stops
 * cleanly and closes what it opened even while it blocks on its doorbell or "hangs"), and the
 * core's own account of its state, for logs and diagnostics. It is not a channel the host's
 * OpenAMP stack uses: the host judges the remote only by what arrives on the rings.
 */
export type RemoteCoreState = 'booting' | 'waiting-for-driver' | 'running' | 'hung' | 'finished' | 'stopped' | 'faulted';

const STATES: readonly RemoteCoreState[] = ['booting', 'waiting-for-driver', 'running', 'hung', 'finished', 'stopped', 'faulted'];
const STOP = 0;
const STATE = 1;
const WORDS = 16;
export const REMOTE_CONTROL_BYTES = WORDS * Int32Array.BYTES_PER_ELEMENT;

export class RemoteControl {
  private readonly words: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(REMOTE_CONTROL_BYTES)) {
    this.words = new Int32Array(buffer, 0, WORDS);
  }

  get stopRequested(): boolean {
    return Atomics.load(this.words, STOP) !== 0;
  }

  /** Asks the loop to stop; wakes it if it sleeps on this control block (hang). */
  requestStop(): void {
    Atomics.store(this.words, STOP, 1);
    Atomics.notify(this.words, STOP);
  }

  get state(): RemoteCoreState {
    return STATES[Atomics.load(this.words, STATE)] ?? 'booting';
  }

  setState(state: RemoteCoreState): void {
    Atomics.store(this.words, STATE, STATES.indexOf(state));
  }

  /** Sleeps up to `timeoutMs` or until a stop request; true when stop was requested. */
  sleepUnlessStopped(timeoutMs: number): boolean {
    if (this.stopRequested) return true;
    Atomics.wait(this.words, STOP, 0, timeoutMs);
    return this.stopRequested;
  }
}
