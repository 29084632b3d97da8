/**
 * The protocols drivers implement (labgrid's protocol/ folder is the model): each is a small
 * interface for one way of talking to a place. Code above a driver (strategies, host drivers,
 * fixtures) asks for a protocol, never for a driver class, so an SSH shell and a serial-console
 * shell, or a uhubctl port and a PDU command, are interchangeable.
 *
 * `Host` (targets/target.ts) is the protocol the suites see; the TypeScript OpenAMP host over
 * shared memory, the Linux remoteproc host and the MicroPython host are drivers of it.
 *
 * Every method that waits takes a deadline (`timeoutMs`): nothing here waits forever. Bytes from
 * the place (console text, command output) are untrusted: callers bound what they keep.
 */

/** A match found by `ConsoleProtocol.expect`. */
export interface ConsoleMatch {
  /** The text that matched (the whole match of a RegExp). */
  readonly match: string;
  /** RegExp groups, empty for a string pattern. */
  readonly groups: readonly string[];
  /** Text received before the match since the previous expect (or since the console opened). */
  readonly before: string;
}

/** A byte stream to a place: a UART, a USB CDC port, a pty, a container attach. */
export interface ConsoleProtocol {
  /** Stream name used to tag captured text ("uart0", "ssh", "repl"). */
  readonly name: string;
  /** Writes bytes (text is sent as UTF-8). */
  write(data: string | Uint8Array): Promise<void>;
  /**
   * Waits until `pattern` appears in text not yet consumed by a previous expect; consumes up to
   * the end of the match. A TimeoutError (protocol class, naming the console and pattern) after
   * `timeoutMs`; an InfrastructureError if the console closes first.
   */
  expect(pattern: string | RegExp, options: { timeoutMs: number }): Promise<ConsoleMatch>;
  /** Called with every chunk as it arrives (live view, `farm up`). Returns an unsubscribe. */
  onData(listener: (text: string) => void): () => void;
  /** Everything received since the last take (bounded; newest kept), tagged by this console's name. */
  takeCapture(): string;
  /** Releases the port. Idempotent. */
  close(): Promise<void>;
}

/** The result of one shell command. */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/** A command line on the place: a persistent SSH shell channel, a shell on a serial console. */
export interface ShellProtocol {
  /** Runs one command; a TimeoutError after `timeoutMs` (the shell is then unusable: reconnect). */
  run(command: string, options?: { timeoutMs?: number }): Promise<CommandResult>;
  /** As `run`, but a non-zero exit is an InfrastructureError naming the command and its stderr. */
  runCheck(command: string, options?: { timeoutMs?: number }): Promise<string>;
  /** Writes a file on the place (SFTP, or base64 through the shell); `mode` defaults to 0o644. */
  put(data: Uint8Array, remotePath: string, options?: { mode?: number; timeoutMs?: number }): Promise<void>;
  /** Closes the shell. Idempotent. */
  close(): Promise<void>;
}

export type PowerState = 'on' | 'off' | 'unknown';

/** Switches a place's supply: a configured command, a uhubctl port, a network PDU. */
export interface PowerProtocol {
  on(): Promise<void>;
  off(): Promise<void>;
  /** Off, a pause (the driver's configured delay), on. */
  cycle(): Promise<void>;
  /** What the supply reports, 'unknown' where it cannot tell. */
  state(): Promise<PowerState>;
}

/** Writes an image to a place's boot media or a core's flash, through a probe named by serial. */
export interface FlasherProtocol {
  /** The probe's serial number: a flasher never writes to a probe it cannot name. */
  readonly probeSerial: string;
  /** Writes `imagePath` (at `address` where the tool needs one); an InfrastructureError on failure. */
  flash(imagePath: string, options?: { address?: number; timeoutMs?: number }): Promise<void>;
}

/** One step of a strategy, as it is logged: "<target>: <from> -> <to>: <what>". */
export interface StrategyStep {
  readonly target: string;
  readonly from: string;
  readonly to: string;
  readonly detail: string;
}

/**
 * How a kind brings its target to a state (labgrid's strategy): an explicit, ordered list of
 * states and one `transition(state)` that walks there step by step from wherever the target is,
 * logging each step. Fixtures ask for a state (`ready` for the worker, the first state at the
 * end; the firmware-running state is the Host's own `start`) instead of calling set-up hooks
 * in a fixed order. targets/strategies/ordered-strategy.ts implements the walk.
 */
export interface Strategy<State extends string = string> {
  /** The states in bring-up order, e.g. ['off', 'powered', 'host-ready']. The first is "nothing held". */
  readonly states: readonly State[];
  /** The state the suites need: the Host can start firmware. The worker fixture asks for it. */
  readonly ready: State;
  /** Where the target is now. */
  readonly state: State;
  /**
   * Walks to `state` (up or down). Going up, a failure leaves `state` at the last state
   * reached. Going down never stops half-way: every step down runs (so the first state always
   * releases what can be released), and the first failure is thrown at the end.
   */
  transition(state: State): Promise<void>;
}
