/**
 * The Linux remoteproc Host driver: the OpenAMP host is the board's Linux kernel, driven over a
 * shell (sysfs, debugfs, dmesg) and, for RPMsg endpoints, through our rpmsg helper on
 * /dev/rpmsg_ctrlN. What rpmsg_char cannot tell (the source address of a received message, the
 * address the kernel gave an endpoint opened with RPMSG_ADDR_ANY) is reported as the endpoint's
 * configured peer / requested address: verdicts compare payload bytes.
 */
import { basename } from 'node:path';
import { readFile } from 'node:fs/promises';
import { FirmwareError, InfrastructureError, ProtocolError, RemoteCrashedError, TimeoutError, hex } from '../../base/errors.js';
import { controlMessage } from '../../openamp/remote/control-words.js';
import { RPMSG_ADDR_ANY } from '../../openamp/rpmsg/api.js';
import { ensureRpmsgHelper, type ToolAbi } from '../../firmware/tools.js';
import { sha256Hex } from '../firmware-image.js';
import type { ShellProtocol } from '../protocols.js';
import { shellQuote } from '../ssh/ssh-shell.js';
import type { Channel, FaultKind, FirmwareImage, Host, HostEndpoint, Message, NameServiceEvent, OpenEndpointOptions, RemoteState } from '../target.js';
import { HELPER_OP, HelperRequestError, RpmsgHelperClient, endpointInfo, type HelperLink } from './rpmsg-helper-client.js';
import { PROBE_PAYLOAD_BYTES, chooseProbeTarget } from '../openamp-host/probe.js';

/**
 * Runs the helper (already on the board at `remotePath`) on `rpmsgCtrl` with its stdin and
 * stdout on a link to the farm: an SSH channel, or a serial line of its own.
 */
export type HelperLauncher = (remotePath: string, rpmsgCtrl: string) => Promise<HelperLink>;

export interface LinuxRemoteprocHostOptions {
  readonly target: string;
  readonly shell: ShellProtocol;
  readonly launchHelper: HelperLauncher;
  /** The remoteproc instance's `name` (m4). */
  readonly rprocName: string;
  readonly firmwareDir: string;
  readonly helperAbi: ToolAbi;
  /** Where the helper is cached on the board. */
  readonly helperDir: string;
  readonly rpmsgCtrl: string;
  readonly startTimeoutMs: number;
  readonly pollMs: number;
  /** How long a stall probe waits for its answer before the remote counts as hung, ms. */
  readonly stallTimeoutMs: number;
  readonly log: (line: string) => void;
  /** Kernel log lines as they are read. */
  readonly onKernelLog: (line: string) => void;
}

const STATES: readonly RemoteState[] = ['offline', 'running', 'crashed', 'attached', 'detached'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Most bytes an endpoint keeps received but unread (the board is untrusted). */
const MAX_UNREAD_BYTES = 16 * 1024 * 1024;
/**
 * How long one request to the rpmsg helper may take, the same for every kind of request: the
 * helper answers in order, so a request's time includes the ones queued before it (a send that
 * waits for vring buffers). A helper that misses it is wedged and ended.
 */
const HELPER_REQUEST_TIMEOUT_MS = 15_000;

/** The remote was stopped (or restarted) while an endpoint of the earlier boot was used. */
export class StaleEndpointError extends ProtocolError {}

/**
 * A channel the host announced (RPMSG_CREATE_DEV_IOCTL): the kernel's device for it, whose peer
 * the kernel learns from the remote's first message on it (its `dst` in sysfs), and which is
 * released (RPMSG_RELEASE_DEV_IOCTL: NS DESTROY to the remote) when the endpoint closes.
 */
export interface AnnouncedDevice {
  /** /sys/bus/rpmsg/devices/<device>. */
  readonly sysfs: string;
  /** The peer's address as the kernel knows it now (RPMSG_ADDR_ANY while it knows none). */
  readPeer(): Promise<number>;
  release(): Promise<void>;
}

class LinuxHostEndpoint implements HostEndpoint {
  /** Received, not yet read; `src` is filled in once an announced channel's peer is known. */
  private readonly queue: { src: number; dst: number; data: Uint8Array }[] = [];
  private readonly waiters = new Set<() => void>();
  private goneReason: string | undefined;
  private goneError: (() => Error) | undefined;
  private peer: number;

  constructor(
    readonly name: string,
    readonly localAddr: number,
    remoteAddr: number,
    private readonly helper: RpmsgHelperClient,
    private readonly handle: number,
    private readonly target: string,
    private readonly announced?: AnnouncedDevice,
  ) {
    this.peer = remoteAddr;
  }

  get remoteAddr(): number {
    return this.peer;
  }

  /** An announced channel's peer, once the kernel has learned it (RPMSG_ADDR_ANY until then). */
  private async learnPeer(): Promise<number> {
    if (this.peer === RPMSG_ADDR_ANY && this.announced) {
      this.peer = await this.announced.readPeer();
      if (this.peer !== RPMSG_ADDR_ANY) for (const message of this.queue) if (message.src === RPMSG_ADDR_ANY) message.src = this.peer;
    }
    return this.peer;
  }

  private queuedBytes = 0;

  deliver(data: Uint8Array): void {
    if (this.goneReason) return;
    // Bounded, but never silently: dropping a message would turn into a wrong verdict.
    if (this.queuedBytes + data.length > MAX_UNREAD_BYTES) {
      this.gone(`more than ${MAX_UNREAD_BYTES} bytes received and not read`, () => new ProtocolError(`${this.target}: endpoint "${this.name}": more than ${MAX_UNREAD_BYTES} bytes received and not read`));
      return;
    }
    this.queuedBytes += data.length;
    // Through a tty the kernel says nothing of a message's source: it is the device's peer
    // (learned from sysfs at receive() for an announced channel).
    this.queue.push({ src: this.peer, dst: this.localAddr, data });
    for (const wake of [...this.waiters]) wake();
  }

  gone(reason: string, error?: () => Error): void {
    if (this.goneReason) return;
    this.goneReason = reason;
    this.goneError = error;
    this.helper.releaseHandle(this.handle);
    for (const wake of [...this.waiters]) wake();
  }

  private failure(): Error {
    return this.goneError?.() ?? new StaleEndpointError(`${this.target}: endpoint "${this.name}" is gone: ${this.goneReason}`);
  }

  async send(data: Uint8Array, options: { dest?: number; timeoutMs?: number } = {}): Promise<void> {
    if (this.goneReason) throw this.failure();
    const peer = await this.learnPeer();
    if (this.announced && peer === RPMSG_ADDR_ANY) {
      throw new ProtocolError(`${this.target}: "${this.name}" (${hex(this.localAddr)}): the kernel knows no peer for ${this.announced.sysfs} yet (dst is -1 until the remote's first message on it)`);
    }
    if (options.dest !== undefined && options.dest !== peer) {
      throw new ProtocolError(`${this.target}: rpmsg_char sends only to the endpoint's own peer (${hex(peer)}), not to ${hex(options.dest)}`);
    }
    await this.helper.request(HELPER_OP.SEND, this.handle, data, `send ${data.length} bytes on "${this.name}"`, options.timeoutMs ?? HELPER_REQUEST_TIMEOUT_MS);
  }

  async receive(options: { timeoutMs?: number } = {}): Promise<Message> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = this.queue.shift();
      if (message) {
        this.queuedBytes -= message.data.length;
        if (message.src === RPMSG_ADDR_ANY && this.announced) message.src = await this.learnPeer().catch(() => RPMSG_ADDR_ANY);
        return message;
      }
      if (this.goneReason) throw this.failure();
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError(`${this.target}: no message on "${this.name}" (${hex(this.localAddr)} <- ${hex(this.remoteAddr)}) within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  async close(): Promise<void> {
    if (this.goneReason) return;
    this.gone('closed');
    if (!this.helper.ended) await this.helper.request(HELPER_OP.CLOSE, this.handle, new Uint8Array(0), `close "${this.name}"`, HELPER_REQUEST_TIMEOUT_MS);
    if (this.announced && !this.helper.ended) await this.announced.release();
  }
}

export class LinuxRemoteprocHost implements Host {
  private cachedState: RemoteState = 'offline';
  private instance: string | undefined;
  private helper: RpmsgHelperClient | undefined;
  private readonly registry = new Map<string, Channel>();
  private readonly nsListeners = new Set<(event: NameServiceEvent) => void>();
  private readonly endpoints = new Set<LinuxHostEndpoint>();
  private polling = false;
  private poller: Promise<void> | undefined;
  private kernelLines = 0;
  private crashReason: string | undefined;
  /** The failure behind crashReason: the remote's crash, or the board becoming unreachable. */
  private crashError: (() => Error) | undefined;
  /** Waiting in waitForCrash: told the reason, and the error when it is not the remote's crash. */
  private readonly crashWaiters = new Set<(reason: string, infrastructure?: Error) => void>();
  private readonly recentKernelLog: string[] = [];

  constructor(private readonly options: LinuxRemoteprocHostOptions) {}

  get state(): RemoteState {
    return this.cachedState;
  }

  private get sysfs(): string {
    if (!this.instance) throw new InfrastructureError(`${this.options.target}: the remoteproc host is not attached`);
    return `/sys/class/remoteproc/${this.instance}`;
  }

  private get debugfs(): string {
    return `/sys/kernel/debug/remoteproc/${this.instance ?? 'remoteproc0'}`;
  }

  /** Finds the remoteproc instance by name, reads its state, uploads (if needed) and starts the helper. */
  async attach(): Promise<void> {
    const { shell, target, rprocName } = this.options;
    const listing = await shell.runCheck(`for d in /sys/class/remoteproc/remoteproc*; do [ -e "$d/name" ] && printf '%s %s\\n' "\${d##*/}" "$(cat "$d/name")"; done; true`);
    const instances = listing
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ') as [string, string]);
    const found = instances.find(([, name]) => name === rprocName);
    if (!found) {
      throw new InfrastructureError(
        `${target}: no remoteproc instance named "${rprocName}" (found: ${instances.map(([dir, name]) => `${dir}=${name}`).join(', ') || 'none: is the remoteproc driver loaded?'})`,
      );
    }
    this.instance = found[0];
    // Recovery off: a crash must stay visible as "crashed" until the farm has seen and reported it.
    await shell.run(`echo disabled > ${this.debugfs}/recovery`);
    // Kernel log lines from before the farm came are not this run's.
    this.kernelLines = Number((await shell.run('dmesg 2>/dev/null | wc -l')).stdout.trim()) || 0;
    await this.refreshState();
    this.options.log(`${target}: remoteproc "${rprocName}" is ${this.instance} (${this.cachedState})`);
    await this.ensureHelper();
  }

  private async ensureHelper(): Promise<RpmsgHelperClient> {
    if (this.helper && !this.helper.ended) return this.helper;
    const { shell, target, helperAbi, helperDir, rpmsgCtrl } = this.options;
    const local = await ensureRpmsgHelper(helperAbi);
    const bytes = await readFile(local);
    const sha = sha256Hex(bytes);
    const remote = `${helperDir}/farm-rpmsg-helper-${sha.slice(0, 16)}`;
    const present = await shell.run(`[ -x ${shellQuote(remote)} ] && sha256sum ${shellQuote(remote)}`);
    if (present.exitCode !== 0 || !present.stdout.startsWith(sha)) {
      this.options.log(`${target}: uploading the rpmsg helper (${helperAbi}, ${bytes.length} bytes) to ${remote}`);
      await shell.runCheck(`mkdir -p ${shellQuote(helperDir)}`);
      await shell.put(bytes, remote, { mode: 0o755, timeoutMs: 60_000 });
    }
    const link = await this.options.launchHelper(remote, rpmsgCtrl);
    try {
      this.helper = await RpmsgHelperClient.start(link, target, 10_000);
    } catch (error) {
      link.close();
      const more = (await link.diagnose?.().catch(() => ''))?.trim();
      if (!more || !(error instanceof InfrastructureError)) throw error;
      throw new InfrastructureError(`${error.message} (on the ${link.name}; its stderr: ${more.slice(-1000)})`, { cause: error });
    }
    return this.helper;
  }

  private async refreshState(): Promise<RemoteState> {
    const text = (await this.options.shell.runCheck(`cat ${this.sysfs}/state`)).trim();
    this.cachedState = (STATES as readonly string[]).includes(text) ? (text as RemoteState) : 'offline';
    return this.cachedState;
  }

  async start(firmware: FirmwareImage): Promise<void> {
    const { shell, target, firmwareDir } = this.options;
    if (!firmware.path) throw new InfrastructureError(`${target}: a Linux remoteproc board loads ELF images; ${firmware.label} has no path`);
    await this.refreshState();
    if (this.cachedState !== 'offline') await this.stop();
    const name = basename(firmware.path);
    if (!/^[\w.+-]+$/.test(name)) throw new InfrastructureError(`${target}: firmware file name ${name} is not usable as a remoteproc firmware name`);
    const remote = `${firmwareDir}/${name}`;
    const current = await shell.run(`sha256sum ${shellQuote(remote)} 2>/dev/null`);
    if (!current.stdout.startsWith(firmware.sha256)) {
      const bytes = await readFile(firmware.path);
      this.options.log(`${target}: uploading ${name} (${bytes.length} bytes, sha256 ${firmware.sha256.slice(0, 12)}) to ${remote}`);
      await shell.put(bytes, remote, { timeoutMs: 60_000 });
    }
    await this.boot(name);
  }

  /** Sets `firmware` and writes `start`; waits for `running`. */
  async boot(name: string): Promise<void> {
    const { shell, target } = this.options;
    await this.ensureHelper();
    this.crashReason = undefined;
    this.crashError = undefined;
    this.registry.clear();
    await this.readKernelLog();
    this.recentKernelLog.length = 0;
    await shell.runCheck(`echo ${shellQuote(name)} > ${this.sysfs}/firmware`);
    const started = await shell.run(`echo start > ${this.sysfs}/state`, { timeoutMs: this.options.startTimeoutMs });
    if (started.exitCode !== 0) {
      const log = (await this.readKernelLog()).slice(-5).join('\n');
      const missing = /No such file/i.test(started.stderr) || /firmware load for .* failed with error -2/.test(log);
      const message = `${target}: ${this.instance} (${this.options.rprocName}) did not start ${name}: ${started.stderr.trim()}${log ? `\nkernel log:\n${log}` : ''}`;
      if (missing) throw new InfrastructureError(`${target}: firmware ${name} is missing on the board (${this.options.firmwareDir}): ${message}`);
      throw new FirmwareError(message);
    }
    const deadline = Date.now() + this.options.startTimeoutMs;
    while ((await this.refreshState()) !== 'running') {
      if (this.cachedState === 'crashed') throw new FirmwareError(`${target}: ${name} crashed while starting`);
      if (Date.now() > deadline) throw new TimeoutError(`${target}: ${this.instance} is still ${this.cachedState} ${this.options.startTimeoutMs} ms after start`);
      await sleep(this.options.pollMs);
    }
    this.startPolling();
  }

  async stop(): Promise<void> {
    await this.stopPolling();
    this.dropEndpoints('the remote was stopped');
    this.emitDestroyAll();
    const state = await this.refreshState();
    if (state === 'crashed') {
      // The kernel refuses `stop` on a crashed core: recover (reboot) it, then stop it.
      await this.options.shell.run(`echo recover > ${this.debugfs}/recovery`, { timeoutMs: this.options.startTimeoutMs });
      await this.refreshState();
    }
    if (this.cachedState !== 'offline') {
      const result = await this.options.shell.run(`echo stop > ${this.sysfs}/state`, { timeoutMs: this.options.startTimeoutMs });
      if ((await this.refreshState()) !== 'offline') {
        throw new InfrastructureError(`${this.options.target}: ${this.instance} is still ${this.cachedState} after stop${result.stderr.trim() ? `: ${result.stderr.trim()}` : ''}`);
      }
    }
    this.crashReason = undefined;
    this.crashError = undefined;
  }

  private emitDestroyAll(): void {
    for (const channel of this.registry.values()) this.emit({ name: channel.name, addr: channel.remoteAddr, kind: 'destroy' });
    this.registry.clear();
  }

  private dropEndpoints(reason: string, error?: () => Error): void {
    for (const endpoint of this.endpoints) endpoint.gone(reason, error);
    this.endpoints.clear();
  }

  private emit(event: NameServiceEvent): void {
    for (const listener of [...this.nsListeners]) listener(event);
  }

  // ---- polling: channels, state, kernel log ----

  private startPolling(): void {
    this.polling = true;
    this.poller = (async () => {
      while (this.polling) {
        try {
          await this.pollOnce();
        } catch (error) {
          this.options.log(`${this.options.target}: poll failed: ${(error as Error).message}`);
          if (error instanceof InfrastructureError) {
            // The board stopped answering (connection lost, sysfs unreadable): every waiter learns it now.
            this.markCrashed(`the board stopped answering: ${(error as Error).message}`, false);
            this.polling = false;
            return;
          }
        }
        await sleep(this.options.pollMs);
      }
    })();
  }

  private async stopPolling(): Promise<void> {
    this.polling = false;
    await this.poller;
    this.poller = undefined;
  }

  /** Kernel-log reads one at a time: each asks for the lines after the last one seen. */
  private logQueue: Promise<unknown> = Promise.resolve();
  private exclusive<T>(run: () => Promise<T>): Promise<T> {
    const result = this.logQueue.then(run);
    this.logQueue = result.catch(() => {});
    return result;
  }

  private pollOnce(): Promise<void> {
    return this.exclusive(() => this.pollOnceNow());
  }

  private async pollOnceNow(): Promise<void> {
    const out = await this.options.shell.runCheck(`cat ${this.sysfs}/state; echo '--'; ls /sys/bus/rpmsg/devices 2>/dev/null; echo '--'; dmesg 2>/dev/null | tail -n +${this.kernelLines + 1}`);
    const [stateText = '', devicesText = '', logText = ''] = out.split('--\n');
    const state = stateText.trim();
    this.consumeKernelLog(logText);
    const seen = new Map<string, Channel>();
    for (const device of devicesText.split('\n').filter(Boolean)) {
      // virtio0.<name>.<src>.<dst>: the name may contain dots.
      const match = /^[^.]+\.(.+)\.(-?\d+)\.(-?\d+)$/.exec(device);
      if (!match || match[3] === '-1') continue; // a host-side device (no remote peer)
      seen.set(device, { name: match[1] as string, remoteAddr: Number(match[3]) });
    }
    for (const [device, channel] of this.registry) {
      if (!seen.has(device)) {
        this.registry.delete(device);
        this.emit({ name: channel.name, addr: channel.remoteAddr, kind: 'destroy' });
      }
    }
    for (const [device, channel] of seen) {
      if (!this.registry.has(device)) {
        this.registry.set(device, channel);
        this.emit({ name: channel.name, addr: channel.remoteAddr, kind: 'create' });
      }
    }
    if ((STATES as readonly string[]).includes(state)) {
      if (state === 'crashed' && this.cachedState !== 'crashed') {
        const line = this.recentKernelLog.filter((l) => /crash detected/.test(l)).pop();
        this.cachedState = 'crashed';
        this.markCrashed(line ?? `${this.instance} state is crashed`, true);
      } else if (state !== 'crashed') this.cachedState = state as RemoteState;
    }
  }

  private markCrashed(reason: string, remote: boolean): void {
    if (this.crashReason) return;
    this.crashReason = reason;
    const error = () => (remote ? new RemoteCrashedError(`${this.options.target}: remote crashed: ${reason}`) : new InfrastructureError(`${this.options.target}: ${reason}`));
    this.crashError = error;
    this.dropEndpoints(reason, error);
    this.emitDestroyAll();
    for (const waiter of [...this.crashWaiters]) waiter(reason, remote ? undefined : error());
  }

  private consumeKernelLog(text: string): void {
    const lines = text.split('\n').filter((line) => line !== '');
    this.kernelLines += lines.length;
    for (const line of lines) {
      this.recentKernelLog.push(line);
      this.options.onKernelLog(line);
    }
    if (this.recentKernelLog.length > 2000) this.recentKernelLog.splice(0, this.recentKernelLog.length - 2000);
  }

  async kernelLog(): Promise<readonly string[]> {
    return this.readKernelLog();
  }

  readKernelLog(): Promise<string[]> {
    return this.exclusive(async () => {
      const out = await this.options.shell.run(`dmesg 2>/dev/null | tail -n +${this.kernelLines + 1}`);
      this.consumeKernelLog(out.stdout);
      return [...this.recentKernelLog];
    });
  }

  // ---- Host ----

  async waitForChannel(name: string, options: { timeoutMs?: number } = {}): Promise<Channel> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const channel = [...this.registry.values()].find((candidate) => candidate.name === name);
      if (channel) return channel;
      if (this.crashReason && this.crashError) throw this.crashError();
      if (this.cachedState === 'offline') throw new ProtocolError(`${this.options.target}: waiting for "${name}" while the remote is offline`);
      if (Date.now() > deadline) {
        throw new FirmwareError(
          `${this.options.target}: the remote did not announce "${name}" within ${timeoutMs} ms (announced: ${[...this.registry.values()].map((c) => `${c.name}@${hex(c.remoteAddr)}`).join(', ') || 'nothing'})`,
        );
      }
      await sleep(Math.min(this.options.pollMs, 20));
    }
  }

  channels(): readonly Channel[] {
    return [...this.registry.values()];
  }

  onNameService(listener: (event: NameServiceEvent) => void): () => void {
    this.nsListeners.add(listener);
    return () => this.nsListeners.delete(listener);
  }

  async openEndpoint(options: OpenEndpointOptions): Promise<HostEndpoint> {
    const { target } = this.options;
    if (this.cachedState !== 'running') throw new ProtocolError(`${target}: cannot open "${options.name}": the remote is ${this.cachedState}`);
    const helper = await this.ensureHelper();
    const announced = options.remoteAddr === undefined ? [...this.registry.values()].find((c) => c.name === options.name) : undefined;
    const dst = options.remoteAddr ?? announced?.remoteAddr ?? RPMSG_ADDR_ANY;
    const src = options.localAddr ?? RPMSG_ADDR_ANY;
    if (options.announce) return this.openAnnounced(helper, options.name, options.localAddr);
    // An rpmsg-tty channel is the kernel's rpmsg_tty device: the /dev/ttyRPMSG<n> listed under
    // the channel's device in sysfs, used in raw mode.
    const tty = announced && announced.name === 'rpmsg-tty' && options.localAddr === undefined ? await this.ttyOf(announced) : undefined;
    if (tty) return this.openTtyEndpoint(helper, options.name, src, dst, tty);
    let endpoint: LinuxHostEndpoint | undefined;
    const handle = helper.allocateHandle({
      onMessage: (data) => endpoint?.deliver(data),
      onGone: (reason) => {
        if (endpoint) void this.endpointGone(endpoint, helper, reason);
      },
    });
    endpoint = new LinuxHostEndpoint(options.name, src, dst, helper, handle, target);
    try {
      await helper.request(HELPER_OP.OPEN_EPT, handle, endpointInfo(options.name, src, dst), `RPMSG_CREATE_EPT_IOCTL "${options.name}" ${hex(src)} -> ${hex(dst)}`, HELPER_REQUEST_TIMEOUT_MS);
    } catch (error) {
      helper.releaseHandle(handle);
      throw error;
    }
    this.endpoints.add(endpoint);
    return endpoint;
  }

  /**
   * A channel the host announces: RPMSG_CREATE_DEV_IOCTL makes the kernel register a local rpmsg
   * device <name>.<src>.-1, bind the driver of that name and send the NS CREATE to the remote. The
   * farm talks through the device the driver made: rpmsg_tty's /dev/ttyRPMSGn (raw), found in
   * sysfs under the device. Its peer is what the kernel learns from the remote's first message.
   */
  private async openAnnounced(helper: RpmsgHelperClient, name: string, localAddr: number | undefined): Promise<HostEndpoint> {
    const { target } = this.options;
    if (localAddr === undefined || localAddr === RPMSG_ADDR_ANY) {
      throw new ProtocolError(`${target}: announcing "${name}" needs a local address: the kernel announces only devices with a fixed source address`);
    }
    const info = endpointInfo(name, localAddr, RPMSG_ADDR_ANY);
    try {
      await this.helperIoctl(helper, HELPER_OP.CREATE_DEV, info, `RPMSG_CREATE_DEV_IOCTL "${name}" ${hex(localAddr)}`);
    } catch (error) {
      if (error instanceof HelperRequestError && /\(errno 25\)/.test(error.message)) {
        throw new HelperRequestError(`${error.message}: this kernel has no RPMSG_CREATE_DEV_IOCTL (Linux older than 5.18): set params.hostAnnouncedChannels: false for this board`, { cause: error });
      }
      throw error;
    }
    const release = () => this.helperIoctl(helper, HELPER_OP.RELEASE_DEV, info, `RPMSG_RELEASE_DEV_IOCTL "${name}" ${hex(localAddr)}`);
    let opened: HostEndpoint | undefined;
    try {
      const device = `/sys/bus/rpmsg/devices/virtio0.${name}.${localAddr}.-1`;
      const tty = await this.ttyUnder(device);
      if (!tty) {
        throw new ProtocolError(`${target}: the kernel bound no tty to the announced "${name}" (${device} has no tty/ttyRPMSG*): the farm talks to host-announced channels through rpmsg_tty only`);
      }
      const readPeer = async () => {
        const text = (await this.options.shell.run(`cat ${device}/dst`, { timeoutMs: 5000 })).stdout.trim();
        const value = /^0x[0-9a-f]{1,8}$|^-1$/i.test(text) ? Number(text) : Number.NaN;
        if (Number.isNaN(value)) throw new ProtocolError(`${target}: ${device}/dst reads ${JSON.stringify(text.slice(0, 40))}, not an address`);
        return value === -1 ? RPMSG_ADDR_ANY : value >>> 0;
      };
      opened = await this.openTtyEndpoint(helper, name, localAddr, RPMSG_ADDR_ANY, tty, { sysfs: device, readPeer, release });
      return opened;
    } finally {
      if (!opened) await release().catch(() => {});
    }
  }

  private async helperIoctl(helper: RpmsgHelperClient, op: number, info: Buffer, what: string): Promise<void> {
    const handle = helper.allocateHandle({ onMessage: () => {}, onGone: () => {} });
    try {
      await helper.request(op, handle, info, what, HELPER_REQUEST_TIMEOUT_MS);
    } finally {
      helper.releaseHandle(handle);
    }
  }

  private async openTtyEndpoint(helper: RpmsgHelperClient, name: string, src: number, dst: number, tty: string, announced?: AnnouncedDevice): Promise<LinuxHostEndpoint> {
    let endpoint: LinuxHostEndpoint | undefined;
    const handle = helper.allocateHandle({
      onMessage: (data) => endpoint?.deliver(data),
      onGone: (reason) => {
        if (endpoint) void this.endpointGone(endpoint, helper, reason);
      },
    });
    endpoint = new LinuxHostEndpoint(name, src, dst, helper, handle, this.options.target, announced);
    try {
      await helper.request(HELPER_OP.OPEN_TTY, handle, Buffer.from(tty), `open ${tty} (raw)`, HELPER_REQUEST_TIMEOUT_MS);
    } catch (error) {
      helper.releaseHandle(handle);
      throw error;
    }
    this.options.log(`${this.options.target}: "${name}" (${hex(src)} -> ${dst === RPMSG_ADDR_ANY ? 'its peer' : hex(dst)}) through ${tty} in raw mode`);
    this.endpoints.add(endpoint);
    return endpoint;
  }

  /**
   * The /dev/ttyRPMSG<n> rpmsg_tty registered for an rpmsg device: the tty's class device is in
   * sysfs under the rpmsg device (<device>/tty/ttyRPMSGn). The driver's probe and udev may take a
   * moment: up to a second.
   */
  private async ttyUnder(device: string): Promise<string | undefined> {
    const found = await this.options.shell.run(
      `i=0; while [ $i -lt 20 ]; do for t in ${device}/tty/ttyRPMSG*; do [ -e "$t" ] && [ -c "/dev/\${t##*/}" ] && { echo "/dev/\${t##*/}"; exit 0; }; done; sleep 0.05; i=$((i+1)); done; exit 1`,
      { timeoutMs: 5000 },
    );
    const path = found.stdout.trim();
    return found.exitCode === 0 && /^\/dev\/ttyRPMSG\d+$/.test(path) ? path : undefined;
  }

  /** The /dev/ttyRPMSG<n> of an rpmsg-tty channel the remote announced, when the board has one. */
  private async ttyOf(channel: Channel): Promise<string | undefined> {
    const device = [...this.registry.entries()].find(([, candidate]) => candidate === channel)?.[0];
    return device === undefined ? undefined : this.ttyUnder(`/sys/bus/rpmsg/devices/${device}`);
  }

  /**
   * An endpoint's device ended: the helper itself is gone (infrastructure), or the kernel
   * destroyed the endpoint, which it does when the remote stops or crashes: the state is read
   * again first, so a crash is reported as one rather than as a broken pipe.
   */
  private async endpointGone(endpoint: LinuxHostEndpoint, helper: RpmsgHelperClient, reason: string): Promise<void> {
    if (helper.ended) {
      endpoint.gone(reason, () => new InfrastructureError(helper.ended ?? reason));
      return;
    }
    if (this.polling) await this.pollOnce().catch(() => {});
    const crash = this.crashReason;
    const crashError = this.crashError;
    if (crash && crashError) endpoint.gone(crash, crashError);
    else endpoint.gone(reason);
  }

  /** The reference firmware's fault words (crash, hang), sent on an answering channel through rpmsg_char. */
  async injectFault(kind: FaultKind): Promise<void> {
    const channel = chooseProbeTarget([...this.registry.values()]) ?? [...this.registry.values()][0];
    if (!channel) throw new InfrastructureError(`${this.options.target}: no channel to send the ${kind} word on (nothing announced yet)`);
    const endpoint = await this.openEndpoint({ name: channel.name, remoteAddr: channel.remoteAddr });
    try {
      await endpoint.send(controlMessage(kind), { timeoutMs: 2000 });
    } finally {
      await endpoint.close().catch(() => {});
    }
    this.options.log(`${this.options.target}: sent the ${kind} word to ${channel.name}@${hex(channel.remoteAddr)}`);
  }

  /**
   * Linux does not notice a remote that stopped making progress (no watchdog on most boards):
   * while a crash is awaited, the farm pings an answering channel through the helper, and a ping
   * unanswered for stallTimeoutMs is reported as a crash ("no progress").
   */
  private async probeUntilStalled(deadline: number, watching: () => boolean): Promise<string | undefined> {
    const stallMs = this.options.stallTimeoutMs;
    while (watching() && Date.now() < deadline) {
      const target = this.cachedState === 'running' && !this.crashReason ? chooseProbeTarget([...this.registry.values()]) : undefined;
      if (!target) {
        await sleep(100);
        continue;
      }
      const wait = Math.min(stallMs, deadline - Date.now());
      if (wait < stallMs) break;
      let endpoint: HostEndpoint | undefined;
      try {
        endpoint = await this.openEndpoint({ name: target.name, remoteAddr: target.remoteAddr });
        await endpoint.send(new Uint8Array(PROBE_PAYLOAD_BYTES), { timeoutMs: wait });
        await endpoint.receive({ timeoutMs: wait });
      } catch (error) {
        if (!watching()) return undefined;
        if (error instanceof TimeoutError) {
          const reason = `no progress: ${target.name}@${hex(target.remoteAddr)} did not answer within ${stallMs} ms`;
          this.markCrashed(reason, true);
          return reason;
        }
        // The probe failed otherwise: the remote may be crashing right now (the kernel refuses
        // endpoints, destroys ours). What sysfs says decides; the crash is reported from there.
        await this.pollOnce().catch(() => {});
        if (this.crashReason) return undefined;
        if (error instanceof InfrastructureError) throw error;
      } finally {
        await endpoint?.close().catch(() => {});
      }
      await sleep(100);
    }
    return undefined;
  }

  async waitForCrash(options: { timeoutMs?: number } = {}): Promise<string> {
    if (this.crashReason) {
      const error = this.crashError?.();
      if (error && !(error instanceof RemoteCrashedError)) throw error; // the board went away: not a crash of the remote
      return this.crashReason;
    }
    const timeoutMs = options.timeoutMs ?? 10_000;
    let resolveCrash!: (reason: string, infrastructure?: Error) => void;
    const crashed = new Promise<string>((resolve, reject) => (resolveCrash = (reason, infrastructure) => (infrastructure ? reject(infrastructure) : resolve(reason))));
    this.crashWaiters.add(resolveCrash);
    let timer: NodeJS.Timeout | undefined;
    let watching = true;
    const probing = this.probeUntilStalled(Date.now() + timeoutMs, () => watching).then((reason) => (reason === undefined ? new Promise<never>(() => {}) : reason));
    probing.catch(() => {});
    try {
      return await Promise.race([
        crashed,
        probing,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new TimeoutError(`${this.options.target}: ${this.instance} did not report a crash within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      watching = false;
      clearTimeout(timer);
      this.crashWaiters.delete(resolveCrash);
    }
  }

  async trace(): Promise<string> {
    const out = await this.options.shell.run(`cat ${this.debugfs}/trace0 2>/dev/null`, { timeoutMs: 5000 });
    const nul = out.stdout.indexOf('\0');
    return nul >= 0 ? out.stdout.slice(0, nul) : out.stdout;
  }

  /** The running rpmsg helper's process id on the board (to name exactly it, e.g. in a test that kills it). */
  get helperPid(): number | undefined {
    return this.helper && !this.helper.ended ? this.helper.pid : undefined;
  }

  /** Ends polling and the helper (teardown). */
  async detach(): Promise<void> {
    await this.stopPolling();
    this.dropEndpoints('the target was torn down');
    this.helper?.close();
    this.helper = undefined;
  }
}
