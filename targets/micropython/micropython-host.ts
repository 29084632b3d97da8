/**
 * The Host driver for boards where MicroPython is the OpenAMP host (STM32H747: MicroPython on
 * the M7, the remote on the M4). Every Host call is one short raw-REPL exec of the board agent
 * (board-agent.ts) over MicroPython's own `openamp` module; results come back as checked frames
 * (result-frame.ts) and the suites compare the bytes, as on every other target.
 *
 * What the MicroPython API does not give, and how the driver copes:
 * - no NS DESTROY callback: a destroy is seen when an endpoint bound to the channel stops being
 *   ready (open-amp unbinds it); destroys of channels nobody talks to are not seen;
 * - an endpoint's auto-assigned local address is not exposed: `localAddr` is the one asked for,
 *   or RPMSG_ADDR_ANY (0xffffffff), and `Message.dst` likewise;
 * - no trace buffer: `trace()` is ''; no crash report: a crash or hang is detected by pinging an
  answering channel until a ping goes unanswered (waitForCrash), and faults are the reference
  firmware's fault words sent from Python (params.faults says the board's firmware obeys them);
 * - on the STM32H747 `RemoteProc.stop()` resets the whole chip: stop() then waits for the USB
 *   port to come back under its stable path and re-enters the raw REPL.
 */
import { readFile } from 'node:fs/promises';
import { FirmwareError, InfrastructureError, ProtocolError, TimeoutError, hex } from '../../base/errors.js';
import { SerialPortClosedError } from '../../base/serial/serial-console.js';
import type { Channel, FaultKind, FirmwareImage, Host, HostEndpoint, Message, NameServiceEvent, OpenEndpointOptions, RemoteState } from '../target.js';
import { AGENT_MODULE, AGENT_SOURCE } from './board-agent.js';
import { pyString, type BoardConnection } from './board-connection.js';
import { MicroPythonError, ReplUnresponsiveError } from './raw-repl.js';
import { decodeFrame } from './result-frame.js';
import { controlMessage } from '../../openamp/remote/control-words.js';
import { chooseProbeTarget } from '../openamp-host/probe.js';

export const RPMSG_ADDR_ANY = 0xffffffff;
const ADDR_ANY_PY = '_fa.ANY';

export interface MicroPythonHostOptions {
  readonly name: string;
  readonly connection: BoardConnection;
  /** How the M4 image gets there: copied to the board's filesystem and loaded by RemoteProc(path), or flashed beforehand and started by address. */
  readonly firmwareLoad: 'file' | 'entry';
  /** RemoteProc(entry) address for firmwareLoad 'entry'. */
  readonly entry: number;
  /** Directory on the board for images and the agent. */
  readonly boardDir: string;
  /** Default deadline of one exec (the REPL round trip plus what the step waits for). */
  readonly execTimeoutMs: number;
  /** How long a reset may take until the board's port is back and answers. */
  readonly resetTimeoutMs: number;
  /** Resets the board when it no longer answers (power cycle), if the target can. */
  readonly hardReset?: () => Promise<void>;
  /** Fault words the board's M4 firmware obeys (the reference firmware's); none for others. */
  readonly faults: readonly FaultKind[];
  /** How long an unanswered ping may take before the remote counts as stalled. */
  readonly stallTimeoutMs: number;
  readonly log: (line: string) => void;
}

/** RemoteProc.start() failed as it does when the M4 already runs (option bytes BCM4: auto-boot). */
export class RemoteAlreadyBootedError extends InfrastructureError {}

/** The remote stopped (or the board reset) while something used it. */
export class MicroPythonRemoteStoppedError extends ProtocolError {}

const DEFAULT_CHANNEL_TIMEOUT_MS = 10_000;
const DEFAULT_RECEIVE_TIMEOUT_MS = 5000;
const BACKGROUND_POLL_MS = 200;

export class MicroPythonHost implements Host {
  private remoteState: RemoteState = 'offline';
  private boot = 0;
  private list: Channel[] = [];
  private readonly listeners = new Set<(event: NameServiceEvent) => void>();
  private pollTimer: NodeJS.Timeout | undefined;
  private agentReady = false;
  private crashReason: string | undefined;

  constructor(private readonly options: MicroPythonHostOptions) {}

  get state(): RemoteState {
    return this.remoteState;
  }

  /** Copies the agent if its hash differs and imports it (once per connection). */
  async prepare(): Promise<void> {
    const wrote = await this.options.connection.putFile(Buffer.from(AGENT_SOURCE, 'utf8'), `${this.options.boardDir}/${AGENT_MODULE}.py`, { timeoutMs: 30_000 });
    if (wrote) this.options.log(`${this.options.name}: copied ${AGENT_MODULE}.py to ${this.options.boardDir}`);
    await this.step(`import sys\nif ${pyString(this.options.boardDir)} not in sys.path:\n    sys.path.append(${pyString(this.options.boardDir)})\nimport ${AGENT_MODULE} as _fa\n_fa.init()`, 'import the agent');
    this.agentReady = true;
  }

  async start(firmware: FirmwareImage): Promise<void> {
    if (this.remoteState !== 'offline') throw new InfrastructureError(`${this.options.name}: cannot start ${firmware.label} while the remote is ${this.remoteState}`);
    if (!this.agentReady) await this.prepare();
    let entry: string;
    if (this.options.firmwareLoad === 'file') {
      if (!firmware.path) throw new InfrastructureError(`${this.options.name}: firmware ${firmware.label} has no file to copy to the board`);
      let bytes: Uint8Array;
      try {
        bytes = await readFile(firmware.path);
      } catch (error) {
        throw new InfrastructureError(`${this.options.name}: cannot read firmware ${firmware.path}: ${(error as Error).message}`, { cause: error });
      }
      const remote = `${this.options.boardDir}/${firmware.label}`;
      const wrote = await this.options.connection.putFile(bytes, remote, { timeoutMs: 120_000 });
      this.options.log(`${this.options.name}: ${remote} ${wrote ? 'copied' : 'already on the board (same SHA-256)'}`);
      entry = pyString(remote);
    } else {
      entry = hex(this.options.entry);
    }
    this.list = [];
    try {
      await this.step(`_fa.start(${entry})`, `start ${firmware.label}`);
    } catch (error) {
      if (error instanceof MicroPythonError && error.exceptionType === 'OSError') {
        throw new RemoteAlreadyBootedError(
          `${this.options.name}: RemoteProc(${entry}).start() failed (${error.message.split('\n')[0]}); on the STM32H747 this is what an M4 gives that auto-boots from ` +
            'its option bytes (BCM4 set) or already runs: clear BCM4 (STM32CubeProgrammer) or power-cycle the board',
          { cause: error },
        );
      }
      throw error;
    }
    this.boot++;
    this.remoteState = 'running';
    this.crashReason = undefined;
    this.schedulePoll();
  }

  async stop(): Promise<void> {
    this.stopPoll();
    if (this.remoteState === 'offline') return;
    this.remoteState = 'offline';
    this.list = [];
    this.boot++;
    this.agentReady = false;
    const connection = this.options.connection;
    try {
      // H747: the whole chip resets, the exec never ends: the port vanishes under it.
      await connection.exec('_fa.stop()', { timeoutMs: this.options.resetTimeoutMs });
      this.options.log(`${this.options.name}: RemoteProc.stop() returned without a reset`);
      return;
    } catch (error) {
      // RemoteProc.stop() itself refused: the board did not reset, the remote may still run.
      if (error instanceof MicroPythonError) throw new InfrastructureError(`${this.options.name}: RemoteProc.stop() failed: ${error.message.split('\n')[0]}`, { cause: error });
      // The port vanished under the exec (the reset), or the board went quiet while resetting.
      if (!(error instanceof SerialPortClosedError) && !(error instanceof ReplUnresponsiveError) && !(error instanceof TimeoutError)) throw error;
      this.options.log(`${this.options.name}: the board reset on RemoteProc.stop() (${(error as Error).message.split('\n')[0]})`);
    }
    await this.reconnect();
  }

  /** Reopens the port by its stable path after a reset and prepares the agent again. */
  async reconnect(): Promise<void> {
    const started = Date.now();
    await this.options.connection.dropConsole();
    try {
      await this.options.connection.open({ timeoutMs: this.options.resetTimeoutMs });
    } catch (error) {
      if (!this.options.hardReset) throw error;
      // A board that does not come back (wedged, a script Ctrl-C cannot break): power-cycle it once.
      this.options.log(`${this.options.name}: ${(error as Error).message.split('\n')[0]}; power-cycling the board`);
      await this.options.hardReset();
      await this.options.connection.open({ timeoutMs: this.options.resetTimeoutMs });
    }
    this.options.log(`${this.options.name}: board back at the raw REPL ${Date.now() - started} ms after the reset`);
    this.agentReady = false;
    this.remoteState = 'offline';
    this.list = [];
    await this.prepare();
  }

  async waitForChannel(name: string, options: { timeoutMs?: number } = {}): Promise<Channel> {
    this.assertRunning();
    const timeoutMs = options.timeoutMs ?? DEFAULT_CHANNEL_TIMEOUT_MS;
    const known = this.list.find((channel) => channel.name === name);
    if (known) return known;
    const frame = await this.step(`_fa.wait_channel(${pyString(name)}, ${timeoutMs})`, `wait for "${name}"`, timeoutMs + this.options.execTimeoutMs);
    if (frame.timeout) {
      const announced = this.list.map((channel) => `${channel.name}@${hex(channel.remoteAddr)}`).join(', ') || 'nothing';
      throw new AnnouncementTimeout(`${this.options.name}: the remote did not announce "${name}" within ${timeoutMs} ms (announced: ${announced})`);
    }
    const channel = this.list.find((candidate) => candidate.name === name);
    if (!channel) throw new ProtocolError(`${this.options.name}: the agent reported "${name}" but no announcement of it arrived`);
    return channel;
  }

  channels(): readonly Channel[] {
    return this.remoteState === 'running' ? [...this.list] : [];
  }

  onNameService(listener: (event: NameServiceEvent) => void): () => void {
    this.listeners.add(listener);
    this.schedulePoll();
    return () => {
      this.listeners.delete(listener);
    };
  }

  async openEndpoint(options: OpenEndpointOptions): Promise<HostEndpoint> {
    this.assertRunning();
    const announced = options.remoteAddr === undefined && !options.announce ? this.list.find((channel) => channel.name === options.name) : undefined;
    const dest = options.remoteAddr ?? announced?.remoteAddr;
    const src = options.localAddr === undefined ? ADDR_ANY_PY : String(options.localAddr);
    const destPy = dest === undefined ? ADDR_ANY_PY : String(dest);
    const frame = await this.step(`_fa.open_ep(${pyString(options.name)}, ${src}, ${destPy})`, `open endpoint "${options.name}"`);
    const id = Number(frame.id);
    if (!Number.isInteger(id) || id <= 0) throw new ProtocolError(`${this.options.name}: the agent returned endpoint id ${String(frame.id)}`);
    return new MicroPythonEndpoint(this, id, options.name, options.localAddr ?? RPMSG_ADDR_ANY, dest ?? RPMSG_ADDR_ANY, this.boot);
  }

  /** Sends the reference firmware's fault word on an answering channel. */
  async injectFault(kind: FaultKind): Promise<void> {
    if (!this.options.faults.includes(kind)) throw new InfrastructureError(`${this.options.name}: this board's firmware takes no ${kind} word (params.faults)`);
    this.assertRunning();
    const target = chooseProbeTarget(this.list);
    if (!target) throw new InfrastructureError(`${this.options.name}: no channel to send the ${kind} word on (nothing announced yet)`);
    const word = Buffer.from(controlMessage(kind)).toString('hex');
    await this.step(`_fa.fault(${pyString(target.name)}, ${target.remoteAddr}, '${word}')`, `send the ${kind} word to ${target.name}`);
    this.options.log(`${this.options.name}: sent the ${kind} word to ${target.name}@${hex(target.remoteAddr)}`);
  }

  /**
   * MicroPython sees no crash of the M4: the agent pings an answering channel until a ping goes
   * unanswered for `stallTimeoutMs` ("no progress", as our own host's stall probe).
   */
  async waitForCrash(options: { timeoutMs?: number } = {}): Promise<string> {
    if (this.remoteState === 'crashed' && this.crashReason) return this.crashReason;
    this.assertRunning();
    const timeoutMs = options.timeoutMs ?? 10_000;
    const target = chooseProbeTarget(this.list);
    if (!target) throw new InfrastructureError(`${this.options.name}: no answering channel to watch the remote on (nothing announced)`);
    const frame = await this.step(
      `_fa.probe(${pyString(target.name)}, ${target.remoteAddr}, ${this.options.stallTimeoutMs}, ${timeoutMs})`,
      `watch ${target.name} for a stall`,
      timeoutMs + this.options.stallTimeoutMs * 2 + this.options.execTimeoutMs,
    );
    if (typeof frame.stalled !== 'string') throw new TimeoutError(`${this.options.name}: the remote neither crashed nor stalled within ${timeoutMs} ms`);
    this.crashReason = `no progress: ${target.name}@${hex(target.remoteAddr)}: ${frame.stalled}`;
    this.remoteState = 'crashed';
    this.stopPoll();
    this.options.log(`${this.options.name}: ${this.crashReason}`);
    return this.crashReason;
  }

  async trace(): Promise<string> {
    return '';
  }

  /** Ends background work (teardown). */
  dispose(): void {
    this.stopPoll();
  }

  /** @internal One agent step of the current boot; `boot` guards against stale endpoints. */
  async endpointStep(boot: number, code: string, what: string, timeoutMs?: number): Promise<Record<string, unknown>> {
    if (boot !== this.boot || this.remoteState !== 'running') throw new MicroPythonRemoteStoppedError(`${this.options.name}: ${what}: the remote was stopped since the endpoint was opened`);
    return this.step(code, what, timeoutMs);
  }

  get receiveTimeoutDefault(): number {
    return DEFAULT_RECEIVE_TIMEOUT_MS;
  }

  get execTimeoutMs(): number {
    return this.options.execTimeoutMs;
  }

  /** Runs one agent call and returns its checked frame; the frame's NS events are applied. */
  private async step(code: string, what: string, timeoutMs = this.options.execTimeoutMs): Promise<Record<string, unknown>> {
    let result;
    try {
      result = await this.options.connection.exec(code, { timeoutMs });
    } catch (error) {
      if (error instanceof MicroPythonError && /OSError: (\[Errno 110\]|110)/.test(error.traceback)) {
        throw new TimeoutError(`${this.options.name}: ${what}: the board timed out (${error.traceback.trim().split('\n').pop() ?? ''})`, { cause: error });
      }
      throw error;
    }
    const frame = decodeFrame(result.stdout, `${this.options.name}: ${what}`);
    this.applyEvents(frame.ev);
    return frame;
  }

  private applyEvents(events: unknown): void {
    if (!Array.isArray(events)) return;
    for (const raw of events) {
      if (!Array.isArray(raw) || raw.length !== 3) continue;
      const [kind, name, addr] = raw as [unknown, unknown, unknown];
      if ((kind !== 'create' && kind !== 'destroy') || typeof name !== 'string' || typeof addr !== 'number') continue;
      if (kind === 'create') {
        if (!this.list.some((channel) => channel.name === name && channel.remoteAddr === addr)) this.list.push({ name, remoteAddr: addr });
      } else {
        this.list = this.list.filter((channel) => !(channel.name === name && channel.remoteAddr === addr));
      }
      for (const listener of [...this.listeners]) listener({ kind, name, addr });
    }
  }

  private assertRunning(): void {
    if (this.remoteState !== 'running') throw new MicroPythonRemoteStoppedError(`${this.options.name}: the remote is ${this.remoteState}`);
  }

  /** While someone listens for NS events, the board is asked for them when the line is idle. */
  private schedulePoll(): void {
    if (this.pollTimer || this.listeners.size === 0 || this.remoteState !== 'running') return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      if (this.listeners.size === 0 || this.remoteState !== 'running') return;
      this.step('_fa.poll()', 'poll for announcements')
        .catch((error: unknown) => this.options.log(`${this.options.name}: background poll: ${(error as Error).message.split('\n')[0]}`))
        .finally(() => this.schedulePoll());
    }, BACKGROUND_POLL_MS);
    this.pollTimer.unref();
  }

  private stopPoll(): void {
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
  }
}

/** waitForChannel gave up: the firmware did not announce (a firmware fault, as on every host). */
export class AnnouncementTimeout extends FirmwareError {}

class MicroPythonEndpoint implements HostEndpoint {
  private closed = false;

  constructor(
    private readonly host: MicroPythonHost,
    private readonly id: number,
    readonly name: string,
    readonly localAddr: number,
    private dest: number,
    private readonly boot: number,
  ) {}

  get remoteAddr(): number {
    return this.dest;
  }

  async send(data: Uint8Array, options: { dest?: number; timeoutMs?: number } = {}): Promise<void> {
    if (this.closed) throw new MicroPythonRemoteStoppedError(`endpoint "${this.name}" is closed`);
    const dest = options.dest ?? this.dest;
    const timeoutMs = options.timeoutMs ?? 15_000;
    const destPy = dest === RPMSG_ADDR_ANY ? ADDR_ANY_PY : String(dest);
    await this.host.endpointStep(this.boot, `_fa.send(${this.id}, '${Buffer.from(data).toString('hex')}', ${destPy}, ${timeoutMs})`, `send on "${this.name}"`, timeoutMs + this.host.execTimeoutMs);
  }

  async receive(options: { timeoutMs?: number } = {}): Promise<Message> {
    if (this.closed) throw new MicroPythonRemoteStoppedError(`endpoint "${this.name}" is closed`);
    const timeoutMs = options.timeoutMs ?? this.host.receiveTimeoutDefault;
    const frame = await this.host.endpointStep(this.boot, `_fa.recv(${this.id}, ${timeoutMs})`, `receive on "${this.name}"`, timeoutMs + this.host.execTimeoutMs);
    if (frame.timeout) throw new TimeoutError(`endpoint "${this.name}": no message within ${timeoutMs} ms`);
    const src = frame.src;
    const data = frame.data;
    if (typeof src !== 'number' || typeof data !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(data)) throw new ProtocolError(`endpoint "${this.name}": malformed message in the result frame`);
    if (this.dest === RPMSG_ADDR_ANY) this.dest = src;
    return { src, dst: this.localAddr, data: new Uint8Array(Buffer.from(data, 'hex')) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.host.endpointStep(this.boot, `_fa.close(${this.id})`, `close "${this.name}"`).catch(() => {});
  }
}
