/**
 * The one contract between the farm (fixtures, suites, CLI) and the target kinds.
 *
 * A Target is a machine with a host core and a remote core (simulated SoC, QEMU, a board).
 * The farm provisions it once per Playwright worker (`setup`), then each test drives the
 * remote core through the target's `host`: the OpenAMP host side, whoever implements it (our
 * TypeScript stack for sim/QEMU/linux-process, Linux remoteproc over SSH on an STM32MP157,
 * MicroPython's `openamp` module over serial on an STM32H747). Suites see only `Host`.
 */
import type { Strategy } from './protocols.js';

export type SuiteName = 'echo' | 'matrix-multiply' | 'multi-endpoint' | 'lifecycle' | 'flood';
export const SUITE_NAMES: readonly SuiteName[] = ['echo', 'matrix-multiply', 'multi-endpoint', 'lifecycle', 'flood'];

/** What a remote core runs for one suite: an image to load, or (linux-process) a command. */
export interface FirmwareImage {
  /** Short name for logs and reports ("echo", "rpmsg-echo.elf"). */
  readonly label: string;
  /** Path of the ELF file, when the remote is loaded from one. */
  readonly path?: string;
  /** argv of a remote process (linux-process targets). */
  readonly command?: readonly string[];
  /** SHA-256 of the image (or of the command's executable), hex; recorded in the JUnit properties. */
  readonly sha256: string;
}

/** States as Linux remoteproc names them (`/sys/class/remoteproc/remoteprocN/state`). */
export type RemoteState = 'offline' | 'running' | 'crashed' | 'attached' | 'detached';

export interface Channel {
  /** Name from the announcement, e.g. "rpmsg-openamp-demo-channel". */
  readonly name: string;
  /** The remote endpoint's address from the announcement. */
  readonly remoteAddr: number;
}

export interface NameServiceEvent {
  readonly name: string;
  readonly addr: number;
  readonly kind: 'create' | 'destroy';
}

export interface Message {
  readonly src: number;
  readonly dst: number;
  readonly data: Uint8Array;
}

export interface HostEndpoint {
  readonly name: string;
  readonly localAddr: number;
  /** Where `send` goes by default; learned from the announcement or the first message. */
  readonly remoteAddr: number;
  /** Sends one message; waits up to `timeoutMs` for a free buffer, then fails (ProtocolError). */
  send(data: Uint8Array, options?: { dest?: number; timeoutMs?: number }): Promise<void>;
  /** Next message for this endpoint; a TimeoutError after `timeoutMs` (default 5000). */
  receive(options?: { timeoutMs?: number }): Promise<Message>;
  /** Destroys the endpoint; an announced endpoint sends NS DESTROY first. */
  close(): Promise<void>;
}

export interface OpenEndpointOptions {
  /** Channel name; bound to the remote's announcement of the same name when there is one. */
  name: string;
  /** Local address; any free dynamic address (>= 1024) when omitted. */
  localAddr?: number;
  /** Remote address; taken from the channel's announcement when omitted. */
  remoteAddr?: number;
  /** Send an NS CREATE for this endpoint (host-announced channel). */
  announce?: boolean;
}

/** Ways a suite can make the remote fail on purpose (lifecycle suite). */
export type FaultKind = 'crash' | 'hang';

/** The OpenAMP host as a suite sees it. */
export interface Host {
  readonly state: RemoteState;

  /** Loads the image and starts the remote core; resolves once the core runs (not once it announced). */
  start(firmware: FirmwareImage): Promise<void>;
  /** Stops the remote core and tears down its virtio device and endpoints. */
  stop(): Promise<void>;

  /** Resolves with the channel once the remote announced `name` (immediately if it already has). */
  waitForChannel(name: string, options?: { timeoutMs?: number }): Promise<Channel>;
  /** Channels the remote has announced and not destroyed, in announcement order. */
  channels(): readonly Channel[];
  /** Called for every NS CREATE / DESTROY the remote sends. Returns an unsubscribe function. */
  onNameService(listener: (event: NameServiceEvent) => void): () => void;

  openEndpoint(options: OpenEndpointOptions): Promise<HostEndpoint>;

  /** Makes the remote fault or hang (reference firmware only; see `capabilities.faults`). */
  injectFault(kind: FaultKind): Promise<void>;
  /** Resolves when the host has seen the remote crash or stall; TimeoutError otherwise. */
  waitForCrash(options?: { timeoutMs?: number }): Promise<string>;

  /** The remote's trace buffer as text (up to the first NUL), '' when it has none. */
  trace(): Promise<string>;

  /** Hosts that are a kernel (Linux remoteproc): its log lines since the last `start`. */
  kernelLog?(): Promise<readonly string[]>;
}

export interface TargetCapabilities {
  readonly suites: readonly SuiteName[];
  /** Can the remote be stopped and started again without resetting the host core? */
  readonly restartable: boolean;
  /** Fault kinds `Host.injectFault` supports on this target. */
  readonly faults: readonly FaultKind[];
  /**
   * The host's kernel binds its own rpmsg_client_sample driver to the remote's
   * rpmsg-client-sample channel (Linux): the suite checks that exchange in `Host.kernelLog`.
   */
  readonly kernelClientSample?: boolean;
  /**
   * The host can announce a channel of its own (`openEndpoint({ announce: true })`) and use it
   * as an endpoint with addresses. Default true. On Linux remoteproc boards such a channel is
   * a kernel device (RPMSG_CREATE_DEV_IOCTL + rpmsg_tty) whose peer the kernel learns from the
   * remote's first message; false where the board's kernel cannot (params.hostAnnouncedChannels).
   */
  readonly hostAnnouncedChannels?: boolean;
  /**
   * Why the suites outside `suites` do not apply to this target, said where they are skipped
   * (a Linux image without remoteproc: "no /sys/class/remoteproc in the guest").
   */
  readonly notApplicableBecause?: string;
}

/** One of a board's own commands (farm.yaml `commands:`) run as a test, with its verdict lines. */
export interface BoardCommandReport {
  readonly name: string;
  /** Where it ran: the Linux shell over SSH, or the remote side's shell on its console. */
  readonly on: 'ssh' | 'remote-console';
  readonly command: string | undefined;
  /** What it printed (stdout then stderr over SSH; the console's text since it was typed). */
  readonly output: string;
  readonly exitCode: number | undefined;
  readonly durationMs: number;
  /** Each expected line: found (and equal to the expected value) or not. */
  readonly verdicts: readonly { readonly pattern: string; readonly ok: boolean; readonly detail: string }[];
  /** Everything that makes it fail (exit status, a missing or wrong verdict line); empty when it passed. */
  readonly failures: readonly string[];
}

/** One line of `farm doctor`: a prerequisite, whether it holds, and how to fix it. */
export interface Prerequisite {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** Debian packages that provide it (`farm doctor --fix` installs these as root). */
  readonly debianPackages?: readonly string[];
  /** A fix that is not a package, said in words. */
  readonly hint?: string;
  /** Not ok because what is there is wrong (e.g. a firmware file that is no image for the core), not because it is absent. */
  readonly invalid?: boolean;
}

/** Where a target reports progress and console output while it runs. */
export interface TargetLog {
  info(message: string): void;
  /** Bytes from a console (UART, serial, SSH session); `stream` names it ("uart0", "remote-stdout"). */
  console(stream: string, text: string): void;
}

/**
 * A target is built from parts (README.md, "Architecture"): resources (plain
 * data from farm.yaml), drivers that each implement one protocol (targets/protocols.ts; the
 * `host` is the Host driver), and a strategy that brings it from 'off' to `strategy.ready`.
 */
export interface Target {
  readonly name: string;
  readonly kind: string;
  readonly capabilities: TargetCapabilities;
  /** The Host driver (valid once the strategy reached its ready state). */
  readonly host: Host;
  /**
   * Brings the target up and down. The worker fixture asks for `strategy.ready` once per
   * Playwright worker and for the first state ('off') at the end; each transition is logged
   * on the target's log (TargetContext.log).
   */
  readonly strategy: Strategy;

  /** = strategy.transition(strategy.ready), after making `log` the target's log (tests and tools call it). */
  setup(log: TargetLog): Promise<void>;
  /** The firmware this target runs for `suite`. */
  firmwareFor(suite: SuiteName): Promise<FirmwareImage>;
  /** Console text captured since the last call (attached to each test). */
  takeConsole(): string;
  /** Report properties: target kind, tool versions, machine profile. */
  properties(): Record<string, string>;
  /** = strategy.transition(<first state>): releases processes, containers, files, ports. Idempotent. */
  teardown(): Promise<void>;
  /**
   * Kinds that run the board's own tools (farm.yaml `commands:`): runs the one named, bounded by
   * its timeout, and reports its verdicts (suites/board-commands.spec.ts makes each a test).
   */
  boardCommand?(name: string): Promise<BoardCommandReport>;
}
