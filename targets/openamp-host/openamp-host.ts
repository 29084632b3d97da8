/**
 * The OpenAMP host as our own TypeScript stack implements it, for every target whose remote
 * core we drive directly (sim, QEMU, linux-process): remoteproc loads and starts the image,
 * the RPMsg host device runs on the image's vdev, and the suites see the `Host` interface.
 *
 * A target supplies only what is specific to it: its RemoteprocOps (memory, image check,
 * allocation, start/stop, kick), the host's end of its doorbell, and optionally a fault
 * injector. It reports a crash it notices (process died, thread faulted) through
 * `host.remoteproc.reportCrash(reason)`.
 *
 * Firmware that is a command (`FirmwareImage.command`, linux-process) is not loaded: the target
 * launches it (`launch`), the remote sets up its own resource table, and the host attaches to
 * the running core (`Remoteproc.attach`, where `ops.attach` says the table is). Stop then
 * detaches and stops the core (`ops.stop` ends the process); a start launches a fresh one.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Doorbell } from '../../openamp/doorbell/doorbell.js';
import { FirmwareError, InfrastructureError, ProtocolError, RemoteCrashedError, TimeoutError, hex } from '../../base/errors.js';
import { Remoteproc, type RemoteprocVdev } from '../../openamp/remoteproc/remoteproc.js';
import { checkLayout } from '../../openamp/remoteproc/memory-layout.js';
import type { RemoteprocOps } from '../../openamp/remoteproc/remoteproc-ops.js';
import { controlMessage } from '../../openamp/remote/control-words.js';
import { DeviceStatusError, NoBufferError } from '../../openamp/rpmsg/errors.js';
import { createRpmsgHost, rpmsgBufferCount, STATUS_RUNNING, type VirtioRpmsgHost } from '../../openamp/rpmsg/host.js';
import { VIRTIO_ID_RPMSG } from '../../openamp/virtio/transport.js';
import { escapeRemoteText, quoteRemote, truncatedList } from '../../base/remote-text.js';
import { sha256Hex } from '../firmware-image.js';
import { BootSession } from './boot-session.js';
import { ChannelRegistry } from './channel-registry.js';
import { OpenAmpHostEndpoint } from './host-endpoint.js';
import { chooseProbeTarget, PROBE_PAYLOAD_BYTES } from './probe.js';
import { VdevConfigGuard } from './vdev-config-guard.js';
import type {
  Channel,
  FaultKind,
  FirmwareImage,
  Host,
  HostEndpoint,
  NameServiceEvent,
  OpenEndpointOptions,
  RemoteState,
} from '../target.js';

/** A target's own way of making its remote fail (a debugger, a QMP command...). */
export type FaultInjector = (kind: FaultKind, host: OpenAmpHost) => Promise<void>;

export interface OpenAmpHostOptions {
  /** The target's remote core. */
  ops: RemoteprocOps;
  /**
   * The host's end of the doorbell, asked for on every start once the core runs (so a target
   * may connect a new one per boot). The target owns it and closes it.
   */
  doorbell: () => Doorbell | Promise<Doorbell>;
  /** Names the core in messages and logs ("sim0", "qemu-riscv"). */
  name?: string;
  /** RPMsg buffer size (default 512); must match the firmware. */
  bufferSize?: number;
  /**
   * Let the RPMsg host device listen on the doorbell (default true). A caller that busy-polls
   * the device (`rpmsgDevice.poll()`, benchmarks) passes false.
   */
  listen?: boolean;
  /** Spin on the rings for up to this many µs after each send (RpmsgVirtioOptions.spinAfterSendUs; default 0). */
  spinAfterSendUs?: number;
  /** Gives the core away during that spin (RpmsgVirtioOptions.spinYield; default none). */
  spinYield?: () => void;
  /** Used instead of sending the fault word on a channel. */
  faultInjector?: FaultInjector;
  /** How long a stall probe waits for its reply before the remote counts as stalled (default 1000 ms). */
  stallTimeoutMs?: number;
  /**
   * When the doorbell's peer goes away, how long the host waits for the target to report the
   * remote's end itself (remoteGone: an exit with its status says more) before it reports the
   * closed doorbell (default 250 ms).
   */
  peerGoneGraceMs?: number;
  /**
   * Starts a remote that runs on its own (firmware given as a `command`), e.g. spawns the
   * process; resolves once it is started (not necessarily ready: `ops.attach` waits for that).
   * If the start then fails, `ops.stop` is called to end it. Without it, commands are refused.
   */
  launch?: (firmware: FirmwareImage) => Promise<void>;
  /** Reads an image's bytes; by default its `path`. */
  readFirmware?: (image: FirmwareImage) => Promise<Uint8Array>;
  /** Progress lines and protocol errors. */
  log?: (line: string) => void;
}

/** The remote was stopped while something waited on it. */
export class RemoteStoppedError extends ProtocolError {}

/** waitForChannel gave up: the firmware did not announce the channel (a firmware fault). */
export class AnnouncementTimeoutError extends FirmwareError {}

/**
 * The remote broke the protocol (a ring entry, header, name-service message or the virtio
 * configuration it must not touch): the first violation ends the boot, and every operation
 * waiting on it fails at once with this error, which names the violation.
 */
export class ProtocolViolationError extends ProtocolError {}

/** The remote ended (its process exited, or it closed its doorbell) while the host was attached. */
export class RemoteGoneError extends FirmwareError {}

/** How often the host re-reads the virtio configuration the remote must leave alone. */
const CONFIG_CHECK_MS = 100;
/**
 * After the doorbell's peer went away, how long an exit report of the same remote may take to
 * arrive and be the verdict instead (it says more: the exit status).
 */
const PEER_GONE_GRACE_MS = 250;
/** Names a message lists at most (a flood of announcements stays one line). */
const LISTED_NAMES = 10;

const DEFAULT_CHANNEL_TIMEOUT_MS = 10_000;
const DEFAULT_CRASH_TIMEOUT_MS = 10_000;
const DEFAULT_STALL_TIMEOUT_MS = 1000;
/** Pause between two stall probes of a healthy remote. */
const PROBE_INTERVAL_MS = 100;

export class OpenAmpHost implements Host {
  readonly remoteproc: Remoteproc;
  readonly name: string;
  private readonly registry = new ChannelRegistry();
  private session: BootSession | undefined;
  private sessions = 0;
  private readonly log: (line: string) => void;
  private readonly crashWaiters = new Set<(reason: string) => void>();
  /** The current remote was launched by us (a command) and attached to, not loaded. */
  private launched = false;

  constructor(private readonly options: OpenAmpHostOptions) {
    this.name = options.name ?? 'remote';
    this.log = options.log ?? (() => {});
    this.remoteproc = new Remoteproc(options.ops, { name: this.name, log: this.log });
    this.remoteproc.onCrash((reason) => {
      this.endSession(new RemoteCrashedError(`${this.name}: remote crashed: ${reason}`));
      for (const waiter of [...this.crashWaiters]) waiter(reason);
    });
  }

  get state(): RemoteState {
    // A remote this host launched itself and attached to runs because we started it: to the
    // suites it is 'running', as a core Linux started is (sysfs says "attached" only for cores
    // started by someone else).
    const state = this.remoteproc.state;
    return state === 'attached' && this.launched ? 'running' : state;
  }

  /** The RPMsg host device of the current boot (benchmarks and diagnostics poll it directly). */
  get rpmsgDevice(): VirtioRpmsgHost | undefined {
    return this.session?.up ? (this.session.device as VirtioRpmsgHost) : undefined;
  }

  async start(firmware: FirmwareImage): Promise<void> {
    // A crashed remote is restarted from clean, as Linux recovery does.
    if (this.remoteproc.state === 'crashed') await this.stop();
    if (firmware.command) await this.launchAndAttach(firmware);
    else await this.remoteproc.boot(await this.readImage(firmware), firmware.path ?? firmware.label);
    try {
      const vdev = this.rpmsgVdev(this.remoteproc.vdevs, firmware);
      const doorbell = await this.options.doorbell();
      const bufferSize = this.options.bufferSize ?? 512;
      const device = createRpmsgHost({
        transport: vdev.transport,
        doorbell,
        bufferSize,
        bufferPool: this.bufferPool(vdev, bufferSize),
        listen: this.options.listen ?? true,
        spinAfterSendUs: this.options.spinAfterSendUs ?? 0,
        spinYield: this.options.spinYield,
        onProtocolError: (error) => this.protocolViolation(error),
      });
      const session = new BootSession(++this.sessions, device, { firmware: firmware.path ?? firmware.label, readTrace: () => this.remoteproc.readTrace(0) });
      this.session = session;
      device.onNameService((announcement) => {
        if (this.session === session) this.registry.announce(announcement);
      });
      this.watchSession(session, vdev, doorbell);
      // The core may have died between start and now.
      if (this.remoteproc.state === 'crashed') this.endSession(new RemoteCrashedError(`${this.name}: remote crashed: ${this.remoteproc.crashReason}`));
    } catch (error) {
      await this.remoteproc.stop().catch((stopError: unknown) => this.log(`${this.name}: stop after failed start: ${String(stopError)}`));
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.endSession(new RemoteStoppedError(`${this.name}: remote stopped`));
    // A launched remote: let go of it first (the vdev is reset), then end it.
    if (this.remoteproc.state === 'attached' && this.options.ops.detach) await this.remoteproc.detach();
    await this.remoteproc.stop();
    this.launched = false;
  }

  async waitForChannel(name: string, options: { timeoutMs?: number } = {}): Promise<Channel> {
    const session = this.liveSession();
    const timeoutMs = options.timeoutMs ?? DEFAULT_CHANNEL_TIMEOUT_MS;
    return session.race(
      this.registry.waitFor(
        name,
        timeoutMs,
        () =>
          new AnnouncementTimeoutError(
            `${this.name}: the remote did not announce ${quoteRemote(name)} within ${timeoutMs} ms (announced: ${
              truncatedList(
                this.registry.channels().map((c) => `${quoteRemote(c.name)}@${hex(c.remoteAddr)}`),
                LISTED_NAMES,
              ) || 'nothing'
            })`,
          ),
      ),
    );
  }

  channels(): readonly Channel[] {
    return this.session?.up ? this.registry.channels() : [];
  }

  onNameService(listener: (event: NameServiceEvent) => void): () => void {
    return this.registry.onNameService(listener);
  }

  async openEndpoint(options: OpenEndpointOptions): Promise<HostEndpoint> {
    const session = this.liveSession();
    const announced = options.remoteAddr === undefined && !options.announce ? this.registry.find(options.name) : undefined;
    const endpoint = session.device.createEndpoint({
      name: options.name,
      ...(options.localAddr === undefined ? {} : { addr: options.localAddr }),
      ...(options.remoteAddr !== undefined ? { dest: options.remoteAddr } : announced ? { dest: announced.remoteAddr } : {}),
      ...(options.announce ? { announce: true } : {}),
    });
    return new OpenAmpHostEndpoint(endpoint, session);
  }

  async injectFault(kind: FaultKind): Promise<void> {
    if (this.options.faultInjector) {
      await this.options.faultInjector(kind, this);
      return;
    }
    const session = this.liveSession();
    const target = chooseProbeTarget(this.registry.channels());
    if (!target) throw new InfrastructureError(`${this.name}: no channel to send the ${kind} word on (nothing announced yet)`);
    const endpoint = session.device.createEndpoint({ name: target.name, dest: target.remoteAddr });
    try {
      await session.race(endpoint.send(controlMessage(kind), { timeoutMs: 2000 }));
      this.log(`${this.name}: sent the ${kind} word to ${target.name}@${hex(target.remoteAddr)}`);
    } finally {
      if (!endpoint.destroyed && session.up) endpoint.destroy();
    }
  }

  async waitForCrash(options: { timeoutMs?: number } = {}): Promise<string> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_CRASH_TIMEOUT_MS;
    if (this.remoteproc.state === 'crashed') return this.remoteproc.crashReason ?? 'crashed';
    if (this.remoteproc.state === 'offline') throw new InfrastructureError(`${this.name}: waitForCrash while the remote is offline`);
    let resolveCrash!: (reason: string) => void;
    const crashed = new Promise<string>((resolve) => {
      resolveCrash = resolve;
    });
    this.crashWaiters.add(resolveCrash);
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`${this.name}: the remote neither crashed nor stalled within ${timeoutMs} ms`)), timeoutMs);
    });
    let watching = true;
    try {
      const probing = this.probeUntilStalled(deadline, () => watching);
      probing.catch(() => {});
      return await Promise.race([crashed, timedOut, probing]);
    } finally {
      watching = false;
      clearTimeout(timer);
      this.crashWaiters.delete(resolveCrash);
    }
  }

  /** The remote's trace text, escaped (it is the remote's bytes). */
  async trace(): Promise<string> {
    return escapeRemoteText(this.remoteproc.readTrace(0));
  }

  /**
   * Pings a channel of the remote until a ping goes unanswered for `stallTimeoutMs`: then the
   * remote is declared crashed ("no progress") and the reason returned. Without any channel to
   * ping it only waits (a crash report may still come from the target).
   */
  private async probeUntilStalled(deadline: number, watching: () => boolean): Promise<string> {
    const stallMs = this.options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    let probe = new Uint8Array(PROBE_PAYLOAD_BYTES);
    /** Since when no probe could even be sent (no free buffer: the remote returns none). */
    let blockedSince: number | undefined;
    // Bounded by the deadline: every round sleeps or waits for a reply.
    while (watching() && Date.now() < deadline) {
      const session = this.session;
      const target = session?.up ? chooseProbeTarget(this.registry.channels()) : undefined;
      if (!session || !target) {
        await sleep(PROBE_INTERVAL_MS);
        continue;
      }
      if (probe.length > session.device.maxPayload) probe = new Uint8Array(session.device.maxPayload);
      const endpoint = session.device.createEndpoint({ name: target.name, dest: target.remoteAddr });
      let silentFor: number | undefined;
      try {
        try {
          endpoint.trySend(probe);
        } catch (error) {
          if (!(error instanceof NoBufferError)) throw error;
          blockedSince ??= Date.now();
          silentFor = Date.now() - blockedSince;
        }
        if (silentFor === undefined) {
          blockedSince = undefined;
          const wait = Math.min(stallMs, deadline - Date.now());
          if (wait <= 0) break;
          try {
            await session.race(endpoint.receive(wait));
          } catch (error) {
            if (!(error instanceof TimeoutError)) throw error;
            if (wait >= stallMs) silentFor = wait;
          }
        }
      } finally {
        if (!endpoint.destroyed && session.up) endpoint.destroy();
      }
      if (silentFor !== undefined && silentFor >= stallMs && watching()) {
        const reason = `no progress: ${target.name}@${hex(target.remoteAddr)} did not answer within ${stallMs} ms`;
        this.log(`${this.name}: ${reason}`);
        this.remoteproc.reportCrash(reason);
        return this.remoteproc.crashReason ?? reason;
      }
      await sleep(PROBE_INTERVAL_MS);
    }
    return new Promise<string>(() => {});
  }

  private async launchAndAttach(firmware: FirmwareImage): Promise<void> {
    if (!this.options.launch) {
      throw new InfrastructureError(`${this.name}: firmware "${firmware.label}" is a command, and this target cannot launch a remote process`);
    }
    if (this.remoteproc.state !== 'offline' && this.remoteproc.state !== 'detached') {
      throw new InfrastructureError(`${this.name}: cannot launch ${firmware.label} while the remote is ${this.remoteproc.state}`);
    }
    try {
      await this.options.launch(firmware);
      await this.remoteproc.attach();
    } catch (error) {
      // Attach never happened: Remoteproc is offline and would not stop what launch started.
      await this.options.ops.stop().catch((stopError: unknown) => this.log(`${this.name}: stop after failed launch: ${String(stopError)}`));
      throw error;
    }
    this.launched = true;
  }

  private async readImage(firmware: FirmwareImage): Promise<Uint8Array> {
    let bytes: Uint8Array;
    if (this.options.readFirmware) {
      bytes = await this.options.readFirmware(firmware);
    } else {
      if (!firmware.path) throw new InfrastructureError(`${this.name}: firmware "${firmware.label}" has no path to load`);
      try {
        bytes = await readFile(firmware.path);
      } catch (error) {
        throw new InfrastructureError(`${this.name}: cannot read firmware ${firmware.path}: ${(error as Error).message}`, { cause: error });
      }
    }
    const sha = sha256Hex(bytes);
    if (firmware.sha256 && sha !== firmware.sha256.toLowerCase()) {
      throw new FirmwareError(`${this.name}: firmware ${firmware.path ?? firmware.label} has SHA-256 ${sha}, expected ${firmware.sha256}`);
    }
    return bytes;
  }

  private rpmsgVdev(vdevs: readonly RemoteprocVdev[], firmware: FirmwareImage): RemoteprocVdev {
    const vdev = vdevs.find((v) => v.entry.id === VIRTIO_ID_RPMSG);
    if (!vdev) throw new FirmwareError(`${this.name}: firmware ${firmware.label} has no RPMsg vdev (virtio id ${VIRTIO_ID_RPMSG}) in its resource table`);
    return vdev;
  }

  /** The `vdev<N>buffer` carveout when the firmware has one (Linux), host memory otherwise. */
  private bufferPool(vdev: RemoteprocVdev, bufferSize: number): { da: number; size: number } {
    const needed = rpmsgBufferCount(vdev.entry.vrings[0]?.num ?? 0) * bufferSize;
    let pool: { da: number; size: number };
    if (vdev.bufferCarveout) {
      pool = { da: vdev.bufferCarveout.da, size: vdev.bufferCarveout.len };
    } else {
      const allocation = this.remoteproc.allocate(needed, 0x1000, `vdev${vdev.index}buffer`);
      pool = { da: allocation.da, size: needed };
    }
    // The pool as the host uses it (at most `needed` bytes of it) must not share a vring or the table.
    const used = { role: 'buffer pool' as const, what: `vdev${vdev.index} buffer pool`, da: pool.da, size: Math.min(pool.size, needed) };
    checkLayout([...this.remoteproc.layout, used], `${this.name}: memory layout`);
    return pool;
  }

  /**
   * The remote is gone (its process ended, it closed its doorbell) and `error` says how: the
   * rings are looked at one last time, so that what it sent just before is delivered (queued
   * on its endpoints), then the boot ends with `error`. Targets call it for the exits they see.
   */
  remoteGone(error: Error): void {
    const session = this.session;
    if (!session?.up) return;
    this.drainLastTime(session);
    this.endSession(error);
  }

  /** The first protocol violation of a boot ends it (after what was already there is delivered). */
  private protocolViolation(error: Error): void {
    this.log(`${this.name}: protocol violation: ${escapeRemoteText(error.message)}`);
    const session = this.session;
    if (!session?.up) return;
    this.endSession(new ProtocolViolationError(`${this.name}: protocol violation: ${error.message}`, { cause: error }));
  }

  private drainLastTime(session: BootSession): void {
    try {
      session.device.poll();
    } catch (error) {
      this.log(`${this.name}: last look at the rings failed: ${(error as Error).message}`);
    }
  }

  /**
   * Watches one boot for what no ring access notices: the remote rewriting the virtio
   * configuration it must leave alone (status, vring count and addresses; checked every
   * CONFIG_CHECK_MS, even when the remote is silent), and the doorbell's peer going away.
   */
  private watchSession(session: BootSession, vdev: RemoteprocVdev, doorbell: Doorbell): void {
    const table = this.remoteproc.resourceTable;
    const stops: (() => void)[] = [];
    if (table) {
      const guard = new VdevConfigGuard(table.memory, table.offset, table.da, vdev, STATUS_RUNNING);
      const timer = setInterval(() => {
        if (!session.up) return;
        let change: string | undefined;
        try {
          change = guard.check();
        } catch (error) {
          change = `the configuration is unreadable: ${(error as Error).message}`;
        }
        if (change) this.protocolViolation(new DeviceStatusError(`vdev ${vdev.index}: ${change}`, -1));
      }, CONFIG_CHECK_MS);
      timer.unref();
      stops.push(() => clearInterval(timer));
    }
    if (doorbell.onPeerGone) {
      let grace: NodeJS.Timeout | undefined;
      stops.push(
        doorbell.onPeerGone((reason) => {
          if (!session.up) return;
          this.drainLastTime(session);
          // The process behind it may be exiting: its exit status is the better verdict.
          grace = setTimeout(() => {
            if (this.session === session) {
              this.endSession(new RemoteGoneError(`${this.name}: the remote closed its doorbell while the host was attached (${reason.message})`));
            }
          }, this.options.peerGoneGraceMs ?? PEER_GONE_GRACE_MS);
        }),
      );
      stops.push(() => clearTimeout(grace));
    }
    session.down.catch(() => {
      for (const stop of stops) stop();
    });
  }

  private liveSession(): BootSession {
    const session = this.session;
    if (!session) throw new InfrastructureError(`${this.name}: the remote is not started`);
    session.assertUp();
    return session;
  }

  private endSession(error: Error): void {
    const session = this.session;
    if (!session || !session.up) return;
    session.end(error);
    this.registry.fail(error);
    session.device.close();
  }
}

