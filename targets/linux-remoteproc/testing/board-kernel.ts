/**
 * The kernel of the STM32MP157 board double: what Linux's remoteproc, rpmsg bus, rpmsg_char and
 * rpmsg_client_sample drivers do behind their files, played by the project's own OpenAMP host
 * driving an emulated Cortex-M4 (the qemu-cortex-m4 machinery). The FUSE bridge
 * (firmware/tools/fuse-bridge.c) sends it every operation on the files mounted at the kernel's
 * paths; a write to `state` really boots the image written to /lib/firmware.
 *
 * Tree under the FUSE mount (bound to the kernel's paths by the double):
 *   remoteproc-class/remoteproc0/{name,firmware,state}   -> /sys/class/remoteproc
 *   remoteproc-debug/remoteproc0/{trace0,recovery,crash} -> /sys/kernel/debug/remoteproc
 *   rpmsg-bus/devices/<virtio0.name.src.dst>/{name,src,dst}[/tty/ttyRPMSGn] -> /sys/bus/rpmsg
 *   dev/{rpmsg_ctrl0,rpmsgN,kmsg}                         -> /dev (symlinks)
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hex } from '../../../base/errors.js';
import { RPMSG_ADDR_ANY } from '../../../openamp/rpmsg/api.js';
import { sha256Hex } from '../../firmware-image.js';
import type { Host, HostEndpoint, Message } from '../../target.js';

/** Messages a /dev/rpmsgN holds for its readers before the rest waits in the endpoint. */
const CHAR_QUEUE_LIMIT = 512;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

export const ERRNO = { EPERM: 1, ENOENT: 2, EIO: 5, EBADF: 9, EAGAIN: 11, EBUSY: 16, EEXIST: 17, ENODEV: 19, EINVAL: 22, ENOTTY: 25, EPIPE: 32, ENOSYS: 38, ETIMEDOUT: 110 } as const;

/** include/uapi/linux/rpmsg.h */
export const RPMSG_CREATE_EPT_IOCTL = 0x4028b501;
export const RPMSG_DESTROY_EPT_IOCTL = 0xb502;
export const RPMSG_CREATE_DEV_IOCTL = 0x4028b503;
export const RPMSG_RELEASE_DEV_IOCTL = 0x4028b504;

export class Errno extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

export interface KernelReply {
  readonly result: number;
  readonly data?: Uint8Array;
}

export interface BoardKernelOptions {
  /** The OpenAMP host driving the emulated M4 (set up by the double). */
  readonly host: Host;
  /** Where /lib/firmware lives on this machine (bind-mounted there in the namespace). */
  readonly firmwareDir: string;
  /** The remoteproc instance's `name`. */
  readonly rprocName: string;
  /** Creates / removes the /dev node for `name` (a symlink into the FUSE mount, inside the namespace). */
  readonly devNode: (name: string, present: boolean) => Promise<void>;
  /** rpmsg_client_sample's message count (the kernel's module parameter; 100). */
  readonly clientSampleCount?: number;
  /**
   * rpmsg_tty: makes /dev/ttyRPMSG<index> a terminal whose other end is `link` (bytes the
   * terminal's user writes arrive at `link.onInput`; `link.output` writes to it). Returns a
   * function that removes it. Without it, rpmsg-tty channels get no tty.
   */
  readonly ttyDevice?: (index: number, link: TtyLink) => Promise<() => Promise<void>>;
}

export interface TtyLink {
  onInput(data: Uint8Array): void;
  /** Set by the double: writes the remote's messages to the terminal. */
  output?: (data: Uint8Array) => void;
}

interface KmsgRecord {
  readonly seq: number;
  readonly usec: number;
  readonly text: string;
}

/** A /dev/rpmsgN: an rpmsg_char endpoint. */
interface CharEndpoint {
  readonly index: number;
  readonly endpoint: HostEndpoint;
  readonly info: { name: string; src: number; dst: number };
  readonly queue: Message[];
  readonly readers: Set<() => void>;
  destroyed: boolean;
}

interface OpenFile {
  readonly path: string;
  /** /dev/kmsg readers: the next record to return. */
  kmsgSeq: number;
  nonBlocking: boolean;
}

const text = (value: string) => new Uint8Array(Buffer.from(value));

/**
 * A local rpmsg device made by RPMSG_CREATE_DEV_IOCTL (drivers/rpmsg/rpmsg_ctrl.c): an
 * endpoint at `src`, announced to the remote (NS CREATE) when `src` is a fixed address, with the
 * driver of its name bound to it (rpmsg-tty: a /dev/ttyRPMSGn). Its peer is unknown (-1) until
 * the remote's first message on it: the kernel then takes that message's source as `dst`.
 */
interface LocalDevice {
  readonly key: string;
  readonly name: string;
  readonly src: number;
  dst: number;
  readonly endpoint: HostEndpoint;
}

/** Lab failures the double can be told to show (tests). */
export interface BoardFaults {
  /** `start` is accepted but the core never leaves offline (a remoteproc driver stuck on a mailbox). */
  stuckOffline?: boolean;
}

export class BoardKernel {
  readonly faults: BoardFaults = {};
  private firmware = '';
  private recovery: 'enabled' | 'disabled' = 'enabled';
  private readonly kmsg: KmsgRecord[] = [];
  private readonly kmsgWaiters = new Set<() => void>();
  private readonly started = Date.now();
  private readonly endpoints = new Map<number, CharEndpoint>();
  private readonly files = new Map<number, OpenFile>();
  private nextFh = 1;
  /** Channels announced by the remote, as the rpmsg bus lists them. */
  private readonly channels = new Map<string, { name: string; src: number; dst: number }>();
  /** Devices the host made with RPMSG_CREATE_DEV_IOCTL (also listed in `channels`, under the same key). */
  private readonly localDevices = new Map<string, LocalDevice>();
  private booting: Promise<void> | undefined;
  private lastCrash: string | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly options: BoardKernelOptions) {
    this.log(`remoteproc remoteproc0: ${options.rprocName} is available`);
  }

  /** Kernel log text as `dmesg` prints it (tests). */
  kernelLog(): string {
    return this.kmsg.map((record) => `[${(record.usec / 1e6).toFixed(6).padStart(12)}] ${record.text}`).join('\n');
  }

  log(line: string): void {
    this.kmsg.push({ seq: this.kmsg.length, usec: (Date.now() - this.started) * 1000, text: line });
    if (this.kmsg.length > 10_000) this.kmsg.splice(0, 1000);
    for (const wake of [...this.kmsgWaiters]) wake();
  }

  /** Called by the double when the emulated core crashes (QEMU failure, crash record, stall). */
  reportCrash(reason: string): void {
    if (this.lastCrash) return;
    this.lastCrash = reason;
    this.log(`remoteproc remoteproc0: crash detected in ${this.options.rprocName}: type fatal error (${reason})`);
    this.dropEndpoints('the remote crashed');
    for (const device of [...this.ttys.keys()]) void this.removeTty(device);
    for (const device of [...this.localDevices.values()]) void this.removeLocalDevice(device, false);
    if (this.recovery === 'enabled') {
      this.log('remoteproc remoteproc0: handling crash #1 in ' + this.options.rprocName);
      void this.restartAfterCrash();
    }
  }

  private get state(): string {
    const state = this.options.host.state;
    if (state === 'crashed' || (this.lastCrash && state !== 'offline')) return 'crashed';
    return state === 'attached' ? 'running' : state;
  }

  // ---- file operations (FUSE) ----

  async getattr(path: string): Promise<{ mode: number; size: number }> {
    if (this.isDir(path)) return { mode: S_IFDIR | 0o755, size: 0 };
    if (this.isFile(path)) return { mode: S_IFREG | (this.writable(path) ? 0o644 : 0o444), size: 4096 };
    throw new Errno(ERRNO.ENOENT, path);
  }

  readdir(path: string): string[] {
    switch (path) {
      case '/':
        return ['remoteproc-class', 'remoteproc-debug', 'rpmsg-bus', 'dev'];
      case '/remoteproc-class':
      case '/remoteproc-debug':
        return ['remoteproc0'];
      case '/remoteproc-class/remoteproc0':
        return ['name', 'firmware', 'state'];
      case '/remoteproc-debug/remoteproc0':
        return ['trace0', 'recovery', 'crash'];
      case '/rpmsg-bus':
        return ['devices'];
      case '/rpmsg-bus/devices':
        return [...this.channels.keys()];
      case '/dev':
        return ['rpmsg_ctrl0', 'kmsg', ...[...this.endpoints.keys()].map((index) => `rpmsg${index}`)];
    }
    const parts = path.split('/');
    if (this.channelOf(path)) {
      const tty = this.ttys.get(parts[3] as string);
      // The tty's class device sits under its rpmsg device, as tty_port_register_device() puts it.
      if (parts.length === 4) return ['name', 'src', 'dst', ...(tty ? ['tty'] : [])];
      if (tty && parts.length === 5 && parts[4] === 'tty') return [`ttyRPMSG${tty.index}`];
      if (tty && parts.length === 6 && parts[4] === 'tty' && parts[5] === `ttyRPMSG${tty.index}`) return ['dev'];
    }
    throw new Errno(ERRNO.ENOENT, path);
  }

  open(path: string, flags: number): number {
    if (!this.isFile(path)) throw new Errno(ERRNO.ENOENT, path);
    const endpoint = this.endpointOf(path);
    if (endpoint?.destroyed) throw new Errno(ERRNO.ENODEV, path);
    const fh = this.nextFh++;
    this.files.set(fh, { path, kmsgSeq: this.kmsg[0]?.seq ?? 0, nonBlocking: (flags & 0o4000) !== 0 });
    return fh;
  }

  release(fh: number): void {
    this.files.delete(fh);
  }

  async read(path: string, fh: number, offset: number, size: number): Promise<Uint8Array> {
    if (path === '/dev/kmsg') return this.readKmsg(fh, size);
    const endpoint = this.endpointOf(path);
    if (endpoint) return this.readEndpoint(endpoint, size);
    const content = text(await this.attribute(path));
    return content.subarray(Math.min(offset, content.length), Math.min(offset + size, content.length));
  }

  async write(path: string, data: Uint8Array): Promise<number> {
    const endpoint = this.endpointOf(path);
    if (endpoint) {
      if (endpoint.destroyed) throw new Errno(ERRNO.EPIPE, `${path}: endpoint destroyed`);
      try {
        await endpoint.endpoint.send(data, endpoint.info.dst === RPMSG_ADDR_ANY ? {} : { dest: endpoint.info.dst });
      } catch (error) {
        throw new Errno(ERRNO.EPIPE, `${path}: ${(error as Error).message}`);
      }
      return data.length;
    }
    const value = Buffer.from(data).toString().replace(/\n$/, '');
    const rproc = '/remoteproc-class/remoteproc0/';
    if (path === `${rproc}firmware`) {
      if (this.state !== 'offline') throw new Errno(ERRNO.EBUSY, 'firmware can only be changed while offline');
      if (value === '' || value.includes('/')) throw new Errno(ERRNO.EINVAL, `bad firmware name ${value}`);
      this.firmware = value;
      return data.length;
    }
    if (path === `${rproc}state`) {
      await this.writeState(value);
      return data.length;
    }
    if (path === '/remoteproc-debug/remoteproc0/recovery') {
      if (value === 'enabled' || value === 'disabled') this.recovery = value;
      else if (value === 'recover') await this.restartAfterCrash();
      else throw new Errno(ERRNO.EINVAL, `recovery: ${value}`);
      return data.length;
    }
    if (path === '/remoteproc-debug/remoteproc0/crash') {
      // rproc_report_crash() from debugfs: the kernel's own fake crash, not the remote's.
      if (this.state !== 'running') throw new Errno(ERRNO.EINVAL, 'not running');
      await this.options.host.stop().catch(() => {});
      this.lastCrash = undefined;
      this.reportCrashAfterStop(`debugfs crash: ${value}`);
      return data.length;
    }
    throw new Errno(ERRNO.EPERM, `${path} is read-only`);
  }

  async ioctl(path: string, cmd: number, input: Uint8Array): Promise<Uint8Array> {
    if (path === '/dev/rpmsg_ctrl0') {
      const info = parseEndpointInfo(input);
      if (cmd === RPMSG_CREATE_EPT_IOCTL) {
        await this.createCharEndpoint(info);
        return new Uint8Array(0);
      }
      if (cmd === RPMSG_CREATE_DEV_IOCTL) {
        await this.createLocalDevice(info);
        return new Uint8Array(0);
      }
      if (cmd === RPMSG_RELEASE_DEV_IOCTL) {
        await this.releaseLocalDevice(info);
        return new Uint8Array(0);
      }
      throw new Errno(ERRNO.ENOTTY, `ioctl ${hex(cmd)} on rpmsg_ctrl0`);
    }
    const endpoint = this.endpointOf(path);
    if (endpoint && cmd === RPMSG_DESTROY_EPT_IOCTL) {
      await this.destroyCharEndpoint(endpoint);
      return new Uint8Array(0);
    }
    throw new Errno(ERRNO.ENOTTY, `ioctl ${hex(cmd)} on ${path}`);
  }

  async truncate(path: string): Promise<void> {
    if (!this.isFile(path)) throw new Errno(ERRNO.ENOENT, path);
  }

  // ---- remoteproc ----

  private async writeState(value: string): Promise<void> {
    if (value === 'start') {
      if (this.booting) throw new Errno(ERRNO.EBUSY, 'already booting');
      if (this.state !== 'offline') throw new Errno(ERRNO.EBUSY, `state is ${this.state}`);
      if (this.faults.stuckOffline) {
        this.log(`remoteproc remoteproc0: powering up ${this.options.rprocName}`);
        return;
      }
      this.booting = this.boot().finally(() => (this.booting = undefined));
      await this.booting;
      return;
    }
    if (value === 'stop') {
      if (this.state === 'offline') throw new Errno(ERRNO.EINVAL, 'already offline');
      await this.shutdown();
      return;
    }
    throw new Errno(ERRNO.EINVAL, `unknown state command ${value}`);
  }

  private async boot(): Promise<void> {
    const name = this.firmware;
    const file = join(this.options.firmwareDir, name);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch {
      this.log(`remoteproc remoteproc0: Direct firmware load for ${name} failed with error -2`);
      this.log(`remoteproc remoteproc0: request_firmware failed: -2`);
      throw new Errno(ERRNO.ENOENT, `no /lib/firmware/${name}`);
    }
    this.log(`remoteproc remoteproc0: powering up ${this.options.rprocName}`);
    this.log(`remoteproc remoteproc0: Booting fw image ${name}, size ${bytes.length}`);
    this.lastCrash = undefined;
    this.unsubscribe?.();
    this.channels.clear();
    this.unsubscribe = this.options.host.onNameService((event) => {
      const key = `virtio0.${event.name}.-1.${event.addr}`;
      if (event.kind === 'create') {
        this.channels.set(key, { name: event.name, src: RPMSG_ADDR_ANY, dst: event.addr });
        this.log(`virtio_rpmsg_bus virtio0: creating channel ${event.name} addr ${hex(event.addr, 1)}`);
        if (event.name === 'rpmsg-client-sample') void this.clientSample(key, event.addr);
        if (event.name === 'rpmsg-tty') void this.rpmsgTty(key, event.addr);
      } else {
        this.channels.delete(key);
        this.log(`virtio_rpmsg_bus virtio0: destroying channel ${event.name} addr ${hex(event.addr, 1)}`);
        void this.removeTty(key);
      }
    });
    try {
      await this.options.host.start({ label: name, path: file, sha256: sha256Hex(bytes) });
    } catch (error) {
      this.log(`remoteproc remoteproc0: Failed to load program segments: ${(error as Error).message}`);
      this.log(`remoteproc remoteproc0: Boot failed: -22`);
      throw new Errno(ERRNO.EINVAL, (error as Error).message);
    }
    this.log(`remoteproc remoteproc0: remote processor ${this.options.rprocName} is now up`);
  }

  private async shutdown(): Promise<void> {
    this.dropEndpoints('the remote processor stopped');
    for (const device of [...this.ttys.keys()]) await this.removeTty(device);
    // The virtio device goes, and every rpmsg device on it, the host's own included.
    for (const device of [...this.localDevices.values()]) await this.removeLocalDevice(device, false);
    for (const [key, channel] of this.channels) {
      this.log(`virtio_rpmsg_bus virtio0: destroying channel ${channel.name} addr ${hex(channel.dst, 1)}`);
      this.channels.delete(key);
    }
    await this.options.host.stop();
    this.lastCrash = undefined;
    this.log(`remoteproc remoteproc0: stopped remote processor ${this.options.rprocName}`);
  }

  private reportCrashAfterStop(reason: string): void {
    this.lastCrash = reason;
    this.log(`remoteproc remoteproc0: crash detected in ${this.options.rprocName}: type fatal error (${reason})`);
  }

  private async restartAfterCrash(): Promise<void> {
    if (!this.lastCrash) return;
    await this.shutdown().catch(() => {});
    await this.boot().catch((error: unknown) => this.log(`remoteproc remoteproc0: recovery failed: ${(error as Error).message}`));
  }

  /** The kernel's samples/rpmsg/rpmsg_client_sample.c, bound to the remote's channel. */
  private async clientSample(device: string, remoteAddr: number): Promise<void> {
    const count = this.options.clientSampleCount ?? 100;
    const prefix = `rpmsg_client_sample ${device}:`;
    let endpoint: HostEndpoint;
    try {
      endpoint = await this.options.host.openEndpoint({ name: 'rpmsg-client-sample', remoteAddr });
      this.log(`${prefix} new channel: ${hex(endpoint.localAddr, 1)} -> ${hex(remoteAddr, 1)}!`);
      const hello = text('hello world!');
      await endpoint.send(hello);
      for (let n = 1; n <= count; n++) {
        const message = await endpoint.receive({ timeoutMs: 5000 });
        this.log(`${prefix} incoming msg ${n} (src: ${hex(message.src, 1)})`);
        if (n === count) {
          this.log(`${prefix} goodbye!`);
          break;
        }
        await endpoint.send(hello);
      }
      await endpoint.close();
    } catch (error) {
      this.log(`${prefix} rpmsg_send failed: ${(error as Error).message}`);
    }
  }

  // ---- rpmsg_tty ----

  private readonly ttys = new Map<string, { index: number; endpoint: HostEndpoint; remove: () => Promise<void>; closed: boolean }>();

  /** drivers/tty/rpmsg_tty.c bound to a channel the remote announced: its endpoint talks to the channel's address. */
  private async rpmsgTty(device: string, remoteAddr: number): Promise<void> {
    if (!this.options.ttyDevice) return;
    let endpoint: HostEndpoint;
    try {
      endpoint = await this.options.host.openEndpoint({ name: 'rpmsg-tty', remoteAddr });
    } catch (error) {
      this.log(`rpmsg_tty ${device}: ${(error as Error).message}`);
      return;
    }
    await this.bindTty(device, endpoint, () => remoteAddr);
  }

  /**
   * Registers one /dev/ttyRPMSG<n> (n: the lowest free) on `endpoint` and returns; its messages
   * go to the terminal until the device goes. What the terminal's user writes is sent to
   * `peer()` (a write while the peer is unknown fails, as rpmsg_send to RPMSG_ADDR_ANY does);
   * `onMessage` sees each message before the terminal does.
   */
  private async bindTty(device: string, endpoint: HostEndpoint, peer: () => number, onMessage: (message: Message) => void = () => {}): Promise<void> {
    if (!this.options.ttyDevice) return;
    const used = new Set([...this.ttys.values()].map((tty) => tty.index));
    let index = 0;
    while (used.has(index)) index++;
    const link: TtyLink = {
      onInput: (data) => {
        const dest = peer();
        if (dest === RPMSG_ADDR_ANY) {
          this.log(`rpmsg_tty ${device}: rpmsg_send failed: -22 (no remote address yet)`);
          return;
        }
        // One write of the terminal's user = one message (up to the payload size).
        for (let at = 0; at < data.length; at += 496) void endpoint.send(data.subarray(at, at + 496), { dest }).catch(() => {});
      },
    };
    const entry = { index, endpoint, remove: async () => {}, closed: false };
    this.ttys.set(device, entry);
    try {
      entry.remove = await this.options.ttyDevice(index, link);
    } catch (error) {
      this.ttys.delete(device);
      this.log(`rpmsg_tty ${device}: ${(error as Error).message}`);
      return;
    }
    this.log(`rpmsg_tty ${device}: TTY device ttyRPMSG${index} registered`);
    void (async () => {
      while (!entry.closed) {
        try {
          const message = await endpoint.receive({ timeoutMs: 1000 });
          onMessage(message);
          link.output?.(message.data);
        } catch (error) {
          if (!(error as Error).name.startsWith('TimeoutError')) break;
        }
      }
    })();
  }

  // ---- rpmsg_ctrl: local devices (RPMSG_CREATE_DEV_IOCTL / RPMSG_RELEASE_DEV_IOCTL) ----

  /**
   * rpmsg_ctrl's RPMSG_CREATE_DEV_IOCTL: rpmsg_create_channel() registers a device named
   * virtio0.<name>.<src>.<dst>; the driver matching the name probes it; then, the source being
   * a fixed address, virtio_rpmsg_announce_create() sends the NS CREATE to the remote.
   */
  private async createLocalDevice(info: { name: string; src: number; dst: number }): Promise<void> {
    if (this.state !== 'running') throw new Errno(ERRNO.ENODEV, 'no virtio rpmsg device: the remote processor is not running');
    const key = `virtio0.${info.name}.${addressText(info.src)}.${addressText(info.dst)}`;
    if (this.channels.has(key)) {
      this.log(`virtio_rpmsg_bus virtio0: channel ${info.name}:${hex(info.src, 1)}:${hex(info.dst, 1)} already exist`);
      throw new Errno(ERRNO.EEXIST, `channel ${key} exists`);
    }
    let endpoint: HostEndpoint;
    try {
      endpoint = await this.options.host.openEndpoint({
        name: info.name,
        ...(info.src === RPMSG_ADDR_ANY ? {} : { localAddr: info.src, announce: true }),
        ...(info.dst === RPMSG_ADDR_ANY ? {} : { remoteAddr: info.dst }),
      });
    } catch (error) {
      this.log(`virtio_rpmsg_bus virtio0: failed to create channel ${info.name}: ${(error as Error).message}`);
      throw new Errno(ERRNO.EBUSY, (error as Error).message);
    }
    const device: LocalDevice = { key, name: info.name, src: info.src, dst: info.dst, endpoint };
    this.localDevices.set(key, device);
    this.channels.set(key, device);
    this.log(`virtio_rpmsg_bus virtio0: creating channel ${info.name} addr ${hex(endpoint.localAddr, 1)}`);
    const learnPeer = (message: Message) => {
      if (device.dst !== RPMSG_ADDR_ANY) return;
      device.dst = message.src;
      this.log(`virtio_rpmsg_bus virtio0: ${key}: remote address ${hex(message.src, 1)} taken from its first message`);
    };
    if (info.name === 'rpmsg-tty' && this.options.ttyDevice) {
      // The driver's probe registers the tty before the ioctl returns, as on a board.
      await this.bindTty(key, endpoint, () => device.dst, learnPeer);
    } else {
      // No driver of ours for this name: the device exists (and was announced), unused.
      void this.drain(device);
    }
  }

  /** A device no driver took: its messages only teach it the peer. */
  private async drain(device: LocalDevice): Promise<void> {
    while (this.localDevices.get(device.key) === device) {
      try {
        const message = await device.endpoint.receive({ timeoutMs: 1000 });
        if (device.dst === RPMSG_ADDR_ANY) device.dst = message.src;
      } catch (error) {
        if (!(error as Error).name.startsWith('TimeoutError')) return;
      }
    }
  }

  /**
   * rpmsg_ctrl's RPMSG_RELEASE_DEV_IOCTL: the device matching name, src and dst (-1 matches any)
   * is unregistered; its driver goes, and the NS DESTROY is sent. None matching: EINVAL.
   */
  private async releaseLocalDevice(info: { name: string; src: number; dst: number }): Promise<void> {
    const device = [...this.localDevices.values()].find(
      (candidate) => candidate.name === info.name && (info.src === RPMSG_ADDR_ANY || info.src === candidate.src) && (info.dst === RPMSG_ADDR_ANY || info.dst === candidate.dst),
    );
    if (!device) throw new Errno(ERRNO.EINVAL, `no rpmsg device ${info.name} ${hex(info.src, 1)} -> ${hex(info.dst, 1)}`);
    await this.removeLocalDevice(device, true);
  }

  private async removeLocalDevice(device: LocalDevice, announce: boolean): Promise<void> {
    if (this.localDevices.get(device.key) !== device) return;
    this.localDevices.delete(device.key);
    this.channels.delete(device.key);
    await this.removeTty(device.key);
    // Closing an announced endpoint sends the NS DESTROY (when the remote still runs).
    if (announce) await device.endpoint.close().catch(() => {});
    this.log(`virtio_rpmsg_bus virtio0: destroying channel ${device.name} addr ${hex(device.endpoint.localAddr, 1)}`);
  }

  private async removeTty(device: string): Promise<void> {
    const tty = this.ttys.get(device);
    if (!tty) return;
    this.ttys.delete(device);
    tty.closed = true;
    await tty.remove().catch(() => {});
    await tty.endpoint.close().catch(() => {});
  }

  // ---- rpmsg_char ----

  private async createCharEndpoint(info: { name: string; src: number; dst: number }): Promise<void> {
    let index = 0;
    while (this.endpoints.has(index)) index++;
    let endpoint: HostEndpoint;
    try {
      endpoint = await this.options.host.openEndpoint({
        name: info.name,
        ...(info.src === RPMSG_ADDR_ANY ? {} : { localAddr: info.src }),
        ...(info.dst === RPMSG_ADDR_ANY ? {} : { remoteAddr: info.dst }),
      });
    } catch (error) {
      this.log(`rpmsg_chrdev: failed to create endpoint ${info.name} ${hex(info.src, 1)} -> ${hex(info.dst, 1)}: ${(error as Error).message}`);
      throw new Errno(ERRNO.EINVAL, (error as Error).message);
    }
    const char: CharEndpoint = { index, endpoint, info, queue: [], readers: new Set(), destroyed: false };
    this.endpoints.set(index, char);
    await this.options.devNode(`rpmsg${index}`, true);
    void this.pump(char);
  }

  /**
   * Moves messages from the endpoint into the char device's queue until it is destroyed. Like the
   * kernel's rpmsg_char it never drops one: while readers are behind (the queue is at
   * CHAR_QUEUE_LIMIT) the rest waits in the endpoint's own queue.
   */
  private async pump(char: CharEndpoint): Promise<void> {
    while (!char.destroyed) {
      // Backpressure instead of loss: while the device holds this many unread messages, leave
      // the rest in the endpoint (and the remote waiting for buffers).
      if (char.queue.length >= 256) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            char.readers.delete(wake);
            resolve();
          };
          char.readers.add(wake);
        });
        continue;
      }
      try {
        while (char.queue.length >= CHAR_QUEUE_LIMIT && !char.destroyed) await sleep(1);
        if (char.destroyed) return;
        char.queue.push(await char.endpoint.receive({ timeoutMs: 1000 }));
      } catch (error) {
        if ((error as Error).name.startsWith('TimeoutError')) continue;
        if (!char.destroyed) await this.destroyCharEndpoint(char);
        return;
      } finally {
        for (const wake of [...char.readers]) wake();
      }
    }
  }

  private async readEndpoint(char: CharEndpoint, size: number): Promise<Uint8Array> {
    for (;;) {
      const message = char.queue.shift();
      if (message) {
        for (const wake of [...char.readers]) wake(); // the pump may be waiting for room
        return message.data.subarray(0, size);
      }
      if (char.destroyed) throw new Errno(ERRNO.EPIPE, `rpmsg${char.index} destroyed`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          char.readers.delete(wake);
          resolve();
        };
        char.readers.add(wake);
      });
    }
  }

  private async destroyCharEndpoint(char: CharEndpoint): Promise<void> {
    if (char.destroyed) return;
    char.destroyed = true;
    this.endpoints.delete(char.index);
    for (const wake of [...char.readers]) wake();
    await char.endpoint.close().catch(() => {});
    await this.options.devNode(`rpmsg${char.index}`, false);
  }

  private dropEndpoints(reason: string): void {
    for (const char of [...this.endpoints.values()]) {
      this.log(`rpmsg_chrdev: rpmsg${char.index}: ${reason}`);
      void this.destroyCharEndpoint(char);
    }
  }

  // ---- /dev/kmsg ----

  private async readKmsg(fh: number, size: number): Promise<Uint8Array> {
    const file = this.files.get(fh);
    if (!file) throw new Errno(ERRNO.EBADF, 'kmsg');
    for (;;) {
      const first = this.kmsg[0]?.seq ?? 0;
      if (file.kmsgSeq < first) file.kmsgSeq = first;
      const record = this.kmsg[file.kmsgSeq - first];
      if (record) {
        file.kmsgSeq++;
        // One record per read, as /dev/kmsg: "<prio>,<seq>,<usec>,<flags>;<text>\n"
        return text(`6,${record.seq},${record.usec},-;${record.text}\n`).subarray(0, size);
      }
      if (file.nonBlocking) throw new Errno(ERRNO.EAGAIN, 'no more records');
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.kmsgWaiters.delete(wake);
          resolve();
        };
        this.kmsgWaiters.add(wake);
      });
    }
  }

  // ---- paths ----

  private async attribute(path: string): Promise<string> {
    const rproc = '/remoteproc-class/remoteproc0/';
    if (path === `${rproc}name`) return `${this.options.rprocName}\n`;
    if (path === `${rproc}firmware`) return `${this.firmware}\n`;
    if (path === `${rproc}state`) return `${this.state}\n`;
    if (path === '/remoteproc-debug/remoteproc0/trace0') return this.state === 'offline' ? '' : await this.options.host.trace().catch(() => '');
    if (path === '/remoteproc-debug/remoteproc0/recovery') return `${this.recovery}\n`;
    const channel = this.channelOf(path);
    if (channel) {
      const field = path.split('/')[4];
      if (field === 'name') return `${channel.name}\n`;
      // rpmsg_show_attr(src, src, "0x%x\n"): -1 (RPMSG_ADDR_ANY) reads 0xffffffff.
      if (field === 'src') return `0x${channel.src.toString(16)}\n`;
      if (field === 'dst') return `0x${channel.dst.toString(16)}\n`;
    }
    throw new Errno(ERRNO.EINVAL, `${path} cannot be read`);
  }

  private channelOf(path: string): { name: string; src: number; dst: number } | undefined {
    const parts = path.split('/');
    return parts[1] === 'rpmsg-bus' && parts[2] === 'devices' && parts[3] ? this.channels.get(parts[3]) : undefined;
  }

  private endpointOf(path: string): CharEndpoint | undefined {
    const match = /^\/dev\/rpmsg(\d+)$/.exec(path);
    return match ? this.endpoints.get(Number(match[1])) : undefined;
  }

  private isDir(path: string): boolean {
    try {
      this.readdir(path);
      return true;
    } catch {
      return false;
    }
  }

  private isFile(path: string): boolean {
    const slash = path.lastIndexOf('/');
    const dir = path.slice(0, slash) || '/';
    const name = path.slice(slash + 1);
    if (this.isDir(path)) return false;
    try {
      return this.readdir(dir).includes(name);
    } catch {
      return false;
    }
  }

  private writable(path: string): boolean {
    return /\/(firmware|state|recovery|crash)$/.test(path) || path.startsWith('/dev/');
  }
}

/** An address as the kernel prints it in a device name (%d of the u32: RPMSG_ADDR_ANY is -1). */
function addressText(addr: number): string {
  return addr === RPMSG_ADDR_ANY ? '-1' : String(addr);
}

/** struct rpmsg_endpoint_info { char name[32]; __u32 src; __u32 dst; } */
export function parseEndpointInfo(bytes: Uint8Array): { name: string; src: number; dst: number } {
  if (bytes.length !== 40) throw new Errno(ERRNO.EINVAL, `rpmsg_endpoint_info is 40 bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nameBytes = bytes.subarray(0, 32);
  const end = nameBytes.indexOf(0);
  return { name: Buffer.from(nameBytes.subarray(0, end < 0 ? 32 : end)).toString('latin1'), src: view.getUint32(32, true), dst: view.getUint32(36, true) };
}

export { S_IFLNK };
