/**
 * The STM32H747 board double: a chip whose M7 runs the real MicroPython (in a worker, see
 * micropython-worker.ts) and whose M4 is a Cortex-M4 in QEMU running the reference firmware,
 * with the `openamp` module in between implemented over the project's OpenAMP host stack
 * (targets/qemu's QemuTarget and its OpenAmpHost: every message crosses vrings in shared
 * memory to the real remote).
 *
 * The boundary the farm sees is the board's: a USB CDC serial port (a pty owned by
 * firmware/tools/pty-relay, opened by the farm with serialport) under a stable path
 * `<dir>/serial/by-id/usb-MicroPython_...-if00`. The H747's quirks are modelled:
 * - RemoteProc.stop()/shutdown() reset the whole chip: the pty goes away, and after
 *   `resetMs` (USB re-enumeration) a new one appears under the same stable path, with a fresh
 *   interpreter; the filesystem survives (it is flash);
 * - option-byte auto-boot (`autoBoot`): the M4 starts the flashed image by itself at every chip
 *   reset, and RemoteProc.start() then fails as on the stm32 port (the core is already booted);
 * - the M4 image may be "flashed" (`flashImage`) and started by address with RemoteProc(entry).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { firmwareSourceDir } from '../../../firmware/build.js';
import { FarmError, InfrastructureError, TimeoutError } from '../../../base/errors.js';
import { NoBufferError } from '../../../openamp/rpmsg/errors.js';
import { QEMU_MACHINES } from '../../../qemu/machines.js';
import { QemuTarget } from '../../qemu/qemu-target.js';
import { QEMU_PARAM_DEFAULTS } from '../../qemu/qemu-params.js';
import type { Host, HostEndpoint } from '../../target.js';
import { createSharedLinkBuffers, ringWrite, sharedLink, SLOT, type SharedLink, type WorkerInit, type WorkerMessage } from './shared-link.js';

export const RPMSG_ADDR_ANY = -1;

export interface BoardDoubleOptions {
  /** Directory of the double: serial/by-id/<link>, the board filesystem, load files. */
  readonly dir: string;
  /** Name in the by-id link and the USB serial number. */
  readonly serial?: string;
  /** Pause between a chip reset and the new USB port, ms (USB re-enumeration). */
  readonly resetMs?: number;
  /** The M4 auto-boots the flashed image (option bytes BCM4 set): RemoteProc cannot start it. */
  readonly autoBoot?: boolean;
  /** ELF image "flashed" to the M4 (RemoteProc(entry) starts it; autoBoot boots it). */
  readonly flashImage?: string;
  /** The M4 never gets to announce (a remote that never announces): its image is not started. */
  readonly silentRemote?: boolean;
  /** Without an M4 (REPL-only tests): the openamp module's calls fail with OSError. Default true. */
  readonly withM4?: boolean;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/** The stable path the farm opens, as udev names a MicroPython board's USB CDC interface. */
export function stableSerialPath(dir: string, serial = 'double'): string {
  return path.join(dir, 'serial', 'by-id', `usb-MicroPython_Board_in_FS_mode_${serial}-if00`);
}

export function ptyRelayPath(): string {
  return path.join(firmwareSourceDir(), 'build', 'tools', 'pty-relay');
}

/** Builds firmware/tools/pty-relay when it is missing or older than its source (make decides). */
export async function ensurePtyRelay(): Promise<string> {
  const result = await execa('make', ['-C', firmwareSourceDir(), 'tools'], { reject: false, all: true, stdin: 'ignore' });
  if (result.exitCode !== 0) throw new InfrastructureError(`building firmware/tools/pty-relay failed:\n${String(result.all ?? '').slice(-2000)}`);
  return ptyRelayPath();
}

interface EndpointRecord {
  readonly endpoint: HostEndpoint;
  /** Where send goes by default; RPMSG_ADDR_ANY until bound (open-amp unbinds on NS DESTROY). */
  dest: number;
  open: boolean;
  /**
   * An NS DESTROY unbound it. Our stack hands the NS callback over at once but a message that
   * arrived just before it only a turn later, so that message must not bind it again.
   */
  unbound: boolean;
}

interface RemoteProcRecord {
  readonly kind: 'file' | 'entry';
  readonly image: string;
  readonly entry?: number;
}

/** MicroPython's errno numbers used by the module. */
/** Events (messages, announcements) kept for Python at most; more are dropped. */
const MAX_PENDING_EVENTS = 4096;

const ERRNO = { ENOENT: 2, EIO: 5, EBADF: 9, EINVAL: 22, EPERM: 1, ENOTCONN: 107, ETIMEDOUT: 110 } as const;

export class BoardDouble {
  readonly serialPath: string;
  private relay: ChildProcess | undefined;
  private worker: Worker | undefined;
  private link: SharedLink | undefined;
  private pendingInput: Buffer[] = [];
  private inputTimer: NodeJS.Timeout | undefined;
  private files: { path: string; data: Uint8Array }[] = [];
  private m4: QemuTarget | undefined;
  private events: string[] = [];
  private endpoints = new Map<number, EndpointRecord>();
  private nextEndpointId = 1;
  private rprocs = new Map<number, RemoteProcRecord>();
  private nextRprocId = 1;
  private loads = 0;
  private boots = 0;
  private resetting: Promise<void> | undefined;
  private closed = false;
  private unsubscribeNs: (() => void) | undefined;
  private m4WorkDir: string | undefined;
  private droppedEvents = 0;
  private readonly log: (line: string) => void;
  /** Double settings that may change between resets (option bytes, the M4's behaviour). */
  private settings: { autoBoot: boolean; silentRemote: boolean; flashImage: string | undefined };
  /** Every chip boot (tests wait for a reset to complete). */
  private readonly bootListeners = new Set<(boot: number) => void>();

  constructor(private readonly options: BoardDoubleOptions) {
    this.serialPath = stableSerialPath(options.dir, options.serial);
    this.log = options.log ?? (() => {});
    this.settings = { autoBoot: options.autoBoot ?? false, silentRemote: options.silentRemote ?? false, flashImage: options.flashImage };
  }

  /**
   * Changes the double's settings, as ST's tools change option bytes or a different image is
   * flashed: they take effect at the next chip reset (auto-boot) or the next M4 start.
   */
  configure(settings: { autoBoot?: boolean; silentRemote?: boolean; flashImage?: string }): void {
    if (settings.autoBoot !== undefined) this.settings.autoBoot = settings.autoBoot;
    if (settings.silentRemote !== undefined) this.settings.silentRemote = settings.silentRemote;
    if (settings.flashImage !== undefined) this.settings.flashImage = settings.flashImage;
  }

  /** How many times the chip has booted (1 after start). */
  get bootCount(): number {
    return this.boots;
  }

  /** Powers the board: builds what it needs, starts QEMU (paused) and boots the chip. */
  async start(): Promise<void> {
    fs.mkdirSync(path.dirname(this.serialPath), { recursive: true });
    fs.mkdirSync(path.join(this.options.dir, 'load'), { recursive: true });
    await ensurePtyRelay();
    if (this.options.withM4 !== false) await this.startM4Emulation();
    await this.boot();
  }

  private async startM4Emulation(): Promise<void> {
    const workDir = fs.mkdtempSync(path.join(this.options.dir, 'm4-'));
    this.m4WorkDir = workDir;
    this.m4 = new QemuTarget('h747-m4', 'qemu-cortex-m4', QEMU_MACHINES['cortex-m4'], { ...QEMU_PARAM_DEFAULTS }, { configDir: this.options.dir, firmware: {}, workDir });
    await this.m4.setup({ info: (line) => this.log(line), console: () => {} });
  }

  /** Resolves after the chip's next boot completes (or at once if it already booted past `after`). */
  waitForBoot(after: number, timeoutMs: number): Promise<number> {
    if (this.boots > after) return Promise.resolve(this.boots);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.bootListeners.delete(listener);
        reject(new TimeoutError(`board double: no boot after #${after} within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (boot: number): void => {
        if (boot <= after) return;
        clearTimeout(timer);
        this.bootListeners.delete(listener);
        resolve(boot);
      };
      this.bootListeners.add(listener);
    });
  }

  /** A whole-chip reset (the H747's RemoteProc stop, the reset button, a power cycle). */
  reset(): Promise<void> {
    this.resetting ??= this.doReset().finally(() => {
      this.resetting = undefined;
    });
    return this.resetting;
  }

  /** Writes bytes on the M7's side of the serial line as if the board sent them (garbage tests). */
  injectSerialOutput(bytes: Uint8Array): void {
    this.relay?.stdin?.write(bytes);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.powerDown();
    await this.m4?.teardown();
    this.m4 = undefined;
    // The board's own files (serial/, the filesystem) stay; what the emulation used goes.
    if (this.m4WorkDir) fs.rmSync(this.m4WorkDir, { recursive: true, force: true });
    fs.rmSync(path.join(this.options.dir, 'load'), { recursive: true, force: true });
  }

  private get host(): Host {
    if (!this.m4) throw new InfrastructureError('board double: the M4 is not set up');
    return this.m4.host;
  }

  private async doReset(): Promise<void> {
    this.log('board double: whole-chip reset');
    await this.powerDown();
    await sleep(this.options.resetMs ?? 300);
    if (!this.closed) await this.boot();
  }

  private async powerDown(): Promise<void> {
    this.unsubscribeNs?.();
    this.unsubscribeNs = undefined;
    for (const record of this.endpoints.values()) record.open = false;
    this.endpoints.clear();
    this.rprocs.clear();
    this.events = [];
    if (this.m4 && this.host.state !== 'offline') await this.host.stop().catch((error: unknown) => this.log(`board double: M4 stop: ${String(error)}`));
    const worker = this.worker;
    this.worker = undefined;
    this.link = undefined;
    await worker?.terminate();
    clearTimeout(this.inputTimer);
    this.pendingInput = [];
    const relay = this.relay;
    this.relay = undefined;
    try {
      fs.rmSync(this.serialPath, { force: true });
    } catch {
      // gone already
    }
    if (relay && relay.exitCode === null && relay.signalCode === null) {
      const exited = new Promise((resolve) => relay.once('exit', resolve));
      relay.kill('SIGTERM');
      await exited;
    }
  }

  private async boot(): Promise<void> {
    const relay = spawn(ptyRelayPath(), [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.relay = relay;
    const ptyPath = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new InfrastructureError('board double: pty-relay did not report its pty within 5 s')), 5000);
      relay.stderr?.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const match = /^pty (\S+)\n/m.exec(text);
        if (match) {
          clearTimeout(timer);
          resolve(match[1] as string);
        }
      });
      relay.once('exit', (code) => {
        clearTimeout(timer);
        reject(new InfrastructureError(`board double: pty-relay exited (${code}): ${text.trim()}`));
      });
    });
    relay.stdin?.on('error', () => {});
    const buffers = createSharedLinkBuffers();
    const link = sharedLink(buffers);
    this.link = link;
    relay.stdout?.on('data', (chunk: Buffer) => this.input(chunk));
    const init: WorkerInit = { buffers, files: this.files, rawMode: false, preamble: '' };
    const worker = new Worker(new URL('./micropython-worker.js', import.meta.url), { workerData: init });
    this.worker = worker;
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') resolve();
        else if (message.type === 'failed') reject(new InfrastructureError(`board double: MicroPython failed: ${message.message}`));
        this.onWorkerMessage(worker, message);
      });
      worker.once('error', (error) => reject(error));
    });
    await ready;
    this.listenForAnnouncements();
    if (this.settings.autoBoot) await this.autoBootM4();
    // The port appears last: a farm waiting for it finds a chip that answers.
    const temporary = `${this.serialPath}.${process.pid}.tmp`;
    fs.rmSync(temporary, { force: true });
    fs.symlinkSync(ptyPath, temporary);
    fs.renameSync(temporary, this.serialPath);
    this.boots++;
    this.log(`board double: boot #${this.boots}, USB serial ${this.serialPath} -> ${ptyPath}`);
    for (const listener of [...this.bootListeners]) listener(this.boots);
  }

  private listenForAnnouncements(): void {
    if (!this.m4) return;
    this.unsubscribeNs = this.host.onNameService((event) => {
      if (event.kind === 'create') {
        this.queueEvent(`N ${event.addr} ${event.name}`);
      } else {
        // open-amp: an NS DESTROY unbinds the endpoint talking to that address.
        for (const record of this.endpoints.values()) {
          if (record.dest !== event.addr) continue;
          record.dest = RPMSG_ADDR_ANY;
          record.unbound = true;
        }
      }
    });
  }

  private async autoBootM4(): Promise<void> {
    const image = this.settings.flashImage;
    if (!image) {
      this.log('board double: autoBoot set but nothing flashed: the M4 boots nothing');
      return;
    }
    await this.startM4(image);
  }

  private async startM4(image: string): Promise<void> {
    if (this.settings.silentRemote) {
      this.log('board double: silentRemote: the M4 image is not started (it will never announce)');
      return;
    }
    const bytes = fs.readFileSync(image);
    await this.host.start({ label: path.basename(image), path: image, sha256: createHash('sha256').update(bytes).digest('hex') });
  }

  private input(chunk: Buffer): void {
    this.pendingInput.push(chunk);
    this.pumpInput();
  }

  /** Moves serial input into the worker's ring; what does not fit waits (USB flow control). */
  private pumpInput(): void {
    const link = this.link;
    if (!link) return;
    while (this.pendingInput.length > 0) {
      const chunk = this.pendingInput[0] as Buffer;
      const written = ringWrite(link, chunk);
      if (written === chunk.length) this.pendingInput.shift();
      else {
        this.pendingInput[0] = chunk.subarray(written);
        clearTimeout(this.inputTimer);
        this.inputTimer = setTimeout(() => this.pumpInput(), 2);
        return;
      }
    }
  }

  private onWorkerMessage(worker: Worker, message: WorkerMessage): void {
    if (worker !== this.worker) return;
    switch (message.type) {
      case 'output':
        this.relay?.stdin?.write(message.bytes);
        break;
      case 'files':
        this.files = message.files.map((file) => ({ path: file.path, data: file.data }));
        break;
      case 'rpc':
        void this.serve(worker, message.op, message.args);
        break;
      case 'failed':
        this.log(`board double: MicroPython failed: ${message.message}`);
        break;
      default:
        break;
    }
  }

  private async serve(worker: Worker, op: string, args: readonly unknown[]): Promise<void> {
    let reply: string;
    try {
      reply = await this.handle(op, args);
    } catch (error) {
      this.log(`board double: openamp ${op} failed: ${error instanceof Error ? error.message : String(error)}`);
      reply = `E${ERRNO.EIO}`;
    }
    if (worker !== this.worker || !this.link) return;
    let bytes = Buffer.from(reply, 'utf8');
    const link = this.link;
    if (bytes.length > link.reply.length) {
      this.log(`board double: openamp ${op} reply of ${bytes.length} bytes does not fit`);
      bytes = Buffer.from(`E${ERRNO.EIO}`);
    }
    link.reply.set(bytes);
    Atomics.store(link.control, SLOT.rpcLength, bytes.length);
    Atomics.store(link.control, SLOT.rpcState, 2);
    Atomics.notify(link.control, SLOT.rpcState);
  }

  private queueEvent(line: string): void {
    // Python that never polls must not grow the chip's memory without bound (a board drops too).
    if (this.events.length >= MAX_PENDING_EVENTS) {
      if (this.droppedEvents++ === 0) this.log(`board double: ${MAX_PENDING_EVENTS} openamp events undelivered: dropping more until Python polls`);
      return;
    }
    this.droppedEvents = 0;
    this.events.push(line);
    if (this.link) Atomics.store(this.link.control, SLOT.eventsPending, 1);
  }

  private async handle(op: string, args: readonly unknown[]): Promise<string> {
    switch (op) {
      case 'poll': {
        if (this.link) Atomics.store(this.link.control, SLOT.eventsPending, 0);
        // Bounded per call: the rest stays pending for the next poll.
        const taken = this.events.splice(0, 64);
        if (this.events.length > 0 && this.link) Atomics.store(this.link.control, SLOT.eventsPending, 1);
        return taken.join('\n');
      }
      case 'create':
        return this.createEndpoint(String(args[0]), Number(args[1]), Number(args[2]));
      case 'send':
        return this.send(Number(args[0]), String(args[1]), Number(args[2]), Number(args[3]));
      case 'ready': {
        const record = this.endpoints.get(Number(args[0]));
        return record && record.open && record.dest !== RPMSG_ADDR_ANY ? 'Y' : 'N';
      }
      case 'deinit': {
        const id = Number(args[0]);
        const record = this.endpoints.get(id);
        this.endpoints.delete(id);
        if (record?.open) {
          record.open = false;
          await record.endpoint.close().catch(() => {});
        }
        return 'OK';
      }
      case 'rproc_file': {
        const file = path.join(this.options.dir, 'load', `load-${++this.loads}.elf`);
        fs.writeFileSync(file, Buffer.from(String(args[1]), 'base64'));
        const id = this.nextRprocId++;
        this.rprocs.set(id, { kind: 'file', image: file });
        return String(id);
      }
      case 'rproc_entry': {
        if (!this.settings.flashImage) return `E${ERRNO.ENOENT}`;
        const id = this.nextRprocId++;
        this.rprocs.set(id, { kind: 'entry', image: this.settings.flashImage, entry: Number(args[0]) });
        return String(id);
      }
      case 'rproc_start': {
        const record = this.rprocs.get(Number(args[0]));
        if (!record) return `E${ERRNO.EBADF}`;
        if (!this.m4) return `E${ERRNO.EIO}`;
        // stm32 port: with BCM4 set the CM4 is already booted and cannot be started.
        if (this.settings.autoBoot) return `E${ERRNO.EPERM}`;
        if (this.host.state !== 'offline') return `E${ERRNO.EPERM}`;
        try {
          await this.startM4(record.image);
        } catch (error) {
          this.log(`board double: M4 start failed: ${error instanceof Error ? error.message : String(error)}`);
          return `E${error instanceof FarmError && /ELF|image|segment/i.test(error.message) ? ERRNO.EINVAL : ERRNO.EIO}`;
        }
        return 'OK';
      }
      case 'rproc_stop':
        // The H747's M4 cannot be stopped alone: the port resets the whole chip. The call never
        // returns: the reset terminates the interpreter that made it.
        setTimeout(() => void this.reset(), 5);
        return new Promise<string>(() => {});
      default:
        return `E${ERRNO.EINVAL}`;
    }
  }

  private async createEndpoint(name: string, src: number, dest: number): Promise<string> {
    if (!this.m4 || this.host.state !== 'running') {
      this.log(`board double: Endpoint(${JSON.stringify(name)}): the M4 is ${this.m4 ? this.host.state : 'absent'}`);
      return `E${ERRNO.ENOTCONN}`;
    }
    // open-amp's rpmsg_create_ept announces a named endpoint that has no destination yet.
    const announce = dest === RPMSG_ADDR_ANY && name !== '';
    let endpoint: HostEndpoint;
    try {
      endpoint = await this.host.openEndpoint({
        name,
        ...(src === RPMSG_ADDR_ANY ? {} : { localAddr: src }),
        ...(dest === RPMSG_ADDR_ANY ? {} : { remoteAddr: dest }),
        ...(announce ? { announce: true } : {}),
      });
    } catch (error) {
      this.log(`board double: Endpoint(${JSON.stringify(name)}) failed: ${error instanceof Error ? error.message : String(error)}`);
      return `E${ERRNO.EINVAL}`;
    }
    const id = this.nextEndpointId++;
    const record: EndpointRecord = { endpoint, dest: dest === RPMSG_ADDR_ANY ? RPMSG_ADDR_ANY : dest, open: true, unbound: false };
    this.endpoints.set(id, record);
    void this.pump(id, record);
    return String(id);
  }

  /** Delivers what arrives on an endpoint to its Python callback (through the event queue). */
  private async pump(id: number, record: EndpointRecord): Promise<void> {
    while (record.open && !this.closed) {
      try {
        const message = await record.endpoint.receive({ timeoutMs: 1000 });
        // open-amp learns an unbound endpoint's peer from its first message.
        if (record.dest === RPMSG_ADDR_ANY && !record.unbound) record.dest = message.src;
        if (record.open) this.queueEvent(`M ${id} ${message.src} ${Buffer.from(message.data).toString('hex')}`);
      } catch (error) {
        if (error instanceof TimeoutError) continue;
        record.open = false;
        return;
      }
    }
  }

  private async send(id: number, hex: string, src: number, dest: number): Promise<string> {
    const record = this.endpoints.get(id);
    if (!record || !record.open) return `E${ERRNO.EBADF}`;
    if (src !== RPMSG_ADDR_ANY && src !== record.endpoint.localAddr) return `E${ERRNO.EINVAL}`;
    const to = dest !== RPMSG_ADDR_ANY ? dest : record.dest;
    if (to === RPMSG_ADDR_ANY) return `E${ERRNO.ENOTCONN}`;
    try {
      await record.endpoint.send(new Uint8Array(Buffer.from(hex, 'hex')), { dest: to, timeoutMs: 50 });
    } catch (error) {
      if (error instanceof NoBufferError || error instanceof TimeoutError) return 'EAGAIN';
      this.log(`board double: send on endpoint ${id} failed: ${error instanceof Error ? error.message : String(error)}`);
      return `E${ERRNO.EIO}`;
    }
    return 'OK';
  }
}
