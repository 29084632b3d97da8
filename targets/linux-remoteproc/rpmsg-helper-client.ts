/**
 * The farm's end of firmware/tools/rpmsg-helper.c, over one SSH channel: requests (open an
 * endpoint, send, close, create/release a device) each answered in order by OK or ERROR, and
 * MESSAGE / GONE events per handle. Frames: u8 op, u8 0, u16 length LE, u32 handle LE, payload.
 */
import type { ClientChannel } from 'ssh2';
import { InfrastructureError, ProtocolError, TimeoutError } from '../../base/errors.js';

export const HELPER_OP = { OPEN_EPT: 1, OPEN_TTY: 2, SEND: 3, CLOSE: 4, CREATE_DEV: 5, RELEASE_DEV: 6, OK: 0x80, ERROR: 0x81, MESSAGE: 0x82, GONE: 0x83 } as const;
const MAX_PAYLOAD = 4096;
const HEADER = 8;

/** The helper answered ERROR (an ioctl or a write failed on the board). */
export class HelperRequestError extends ProtocolError {}

interface Pending {
  readonly handle: number;
  readonly what: string;
  resolve(payload: Buffer): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export interface HandleEvents {
  onMessage(data: Uint8Array): void;
  onGone(reason: string): void;
}

/** struct rpmsg_endpoint_info { char name[32]; __u32 src; __u32 dst; } */
export function endpointInfo(name: string, src: number, dst: number): Buffer {
  const info = Buffer.alloc(40);
  info.write(name.slice(0, 31), 0, 'latin1');
  info.writeUInt32LE(src >>> 0, 32);
  info.writeUInt32LE(dst >>> 0, 36);
  return info;
}

export class RpmsgHelperClient {
  private buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];
  private readonly handles = new Map<number, HandleEvents>();
  private nextHandle = 1;
  private endedReason: string | undefined;
  private stderr = '';
  private readyWaiter: Pending | undefined;
  private helperPid: number | undefined;

  private constructor(
    private readonly channel: ClientChannel,
    private readonly target: string,
  ) {
    channel.on('data', (chunk: Buffer) => this.receive(chunk));
    channel.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-2000);
    });
    channel.on('exit', (code: number | null, signal?: string) => {
      this.end(`${this.target}: the rpmsg helper exited (${signal ? `signal ${signal}` : `exit ${code}`})${this.stderr.trim() ? `: ${this.stderr.trim()}` : ''}`);
    });
    channel.on('close', () => this.end(`${this.target}: the rpmsg helper's SSH channel closed`));
  }

  /** Runs `command` (the helper and its control device) on `open`'s channel and waits for its ready frame. */
  static async start(channel: ClientChannel, target: string, timeoutMs: number): Promise<RpmsgHelperClient> {
    const client = new RpmsgHelperClient(channel, target);
    const ready = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new InfrastructureError(`${target}: the rpmsg helper did not start within ${timeoutMs} ms${client.stderr ? `: ${client.stderr.trim()}` : ''}`)), timeoutMs);
      client.readyWaiter = { handle: 0, what: 'start', resolve, reject, timer };
    });
    const pid = /^pid=(\d{1,10}) /.exec(ready.toString('latin1'));
    client.helperPid = pid ? Number(pid[1]) : undefined;
    return client;
  }

  /** The helper's process id on the board (from its ready frame). */
  get pid(): number | undefined {
    return this.helperPid;
  }

  get ended(): string | undefined {
    return this.endedReason;
  }

  allocateHandle(events: HandleEvents): number {
    const handle = this.nextHandle++;
    if (this.nextHandle > 255) this.nextHandle = 1;
    this.handles.set(handle, events);
    return handle;
  }

  releaseHandle(handle: number): void {
    this.handles.delete(handle);
  }

  request(op: number, handle: number, payload: Uint8Array, what: string, timeoutMs: number): Promise<Buffer> {
    if (this.endedReason) return Promise.reject(new InfrastructureError(this.endedReason));
    if (payload.length > MAX_PAYLOAD) return Promise.reject(new ProtocolError(`${this.target}: ${what}: ${payload.length} bytes is more than the helper's ${MAX_PAYLOAD}`));
    const header = Buffer.alloc(HEADER);
    header.writeUInt8(op, 0);
    header.writeUInt16LE(payload.length, 2);
    header.writeUInt32LE(handle, 4);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        // The helper answers in order: one that misses a deadline is wedged; nothing after it can be trusted.
        this.end(`${this.target}: the rpmsg helper did not answer ${what} within ${timeoutMs} ms`, true);
      }, timeoutMs);
      this.pending.push({ handle, what, resolve, reject, timer });
      this.channel.write(Buffer.concat([header, Buffer.from(payload)]));
    });
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= HEADER) {
      const op = this.buffer.readUInt8(0);
      const length = this.buffer.readUInt16LE(2);
      const handle = this.buffer.readUInt32LE(4);
      if (length > MAX_PAYLOAD) {
        this.end(`${this.target}: the rpmsg helper sent a ${length}-byte frame (at most ${MAX_PAYLOAD}): not our helper, or a corrupted stream`);
        return;
      }
      if (this.buffer.length < HEADER + length) return;
      const payload = Buffer.from(this.buffer.subarray(HEADER, HEADER + length));
      this.buffer = this.buffer.subarray(HEADER + length);
      this.frame(op, handle, payload);
    }
  }

  private frame(op: number, handle: number, payload: Buffer): void {
    if (this.readyWaiter) {
      const ready = this.readyWaiter;
      this.readyWaiter = undefined;
      clearTimeout(ready.timer);
      if (op === HELPER_OP.OK) ready.resolve(payload);
      else ready.reject(new InfrastructureError(`${this.target}: the rpmsg helper did not start: ${payload.toString()}`));
      return;
    }
    if (op === HELPER_OP.MESSAGE) {
      this.handles.get(handle)?.onMessage(new Uint8Array(payload));
      return;
    }
    if (op === HELPER_OP.GONE) {
      this.handles.get(handle)?.onGone(payload.toString());
      return;
    }
    const pending = this.pending.shift();
    if (!pending || pending.handle !== handle || (op !== HELPER_OP.OK && op !== HELPER_OP.ERROR)) {
      this.end(`${this.target}: the rpmsg helper sent an unexpected frame (op 0x${op.toString(16)}, handle ${handle})`);
      return;
    }
    clearTimeout(pending.timer);
    if (op === HELPER_OP.OK) pending.resolve(payload);
    else pending.reject(new HelperRequestError(`${this.target}: ${pending.what}: ${payload.toString()}`));
  }

  private end(reason: string, timedOut = false): void {
    if (this.endedReason) return;
    this.endedReason = reason;
    const error = timedOut ? new TimeoutError(reason) : new InfrastructureError(reason);
    if (this.readyWaiter) {
      clearTimeout(this.readyWaiter.timer);
      this.readyWaiter.reject(error);
      this.readyWaiter = undefined;
    }
    for (const pending of this.pending.splice(0)) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    for (const events of this.handles.values()) events.onGone(reason);
    this.handles.clear();
    this.channel.close();
  }

  /** Ends the helper (EOF on its stdin: it destroys its endpoints and exits). */
  close(): void {
    if (this.endedReason) return;
    this.channel.end();
    this.end(`${this.target}: the rpmsg helper was closed`);
  }
}
