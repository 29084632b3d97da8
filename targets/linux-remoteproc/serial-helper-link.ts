/**
 * The rpmsg helper on a serial line of its own, for boards reached only over serial: the board's
 * console carries the shell (login, commands, uploads, and the kernel's own messages, which it
 * prints there at any moment), so the helper's binary frames need a second, 8-bit-clean line
 * that nothing else writes to (on the STM32MP157C-DK2: a UART on the Arduino or GPIO connector
 * and a 3.3 V USB-serial adapter). The board runs the helper with that line, made raw, as its
 * stdin and stdout; the farm opens its end here.
 *
 * A line, unlike an SSH channel, has no end-of-file and no exit status: the helper is ended by
 * `stopHelper` (a kill through the board's shell), and whatever an earlier helper left on the
 * line before the new one's ready frame is skipped (the ready frame is recognised by its bytes).
 */
import type * as serialportModule from 'serialport';
import { InfrastructureError } from '../../base/errors.js';
import { lazyRequire } from '../../base/lazy-require.js';
import type { HelperLink } from './rpmsg-helper-client.js';

type SerialPort = serialportModule.SerialPort;
const serialport = lazyRequire<typeof serialportModule>('serialport');

/** op OK, 0, length (any), handle 0, then "pid=": the first frame of every helper. */
function readyFrameAt(buffer: Buffer): number {
  for (let at = buffer.indexOf(0x80); at >= 0 && at + 12 <= buffer.length; at = buffer.indexOf(0x80, at + 1)) {
    if (buffer[at + 1] === 0 && buffer.readUInt32LE(at + 4) === 0 && buffer.subarray(at + 8, at + 12).toString('latin1') === 'pid=') return at;
  }
  return -1;
}

/** Bytes kept while looking for the ready frame (an earlier helper's leftovers are dropped). */
const MAX_UNSYNCED = 64 * 1024;

export class SerialHelperLink implements HelperLink {
  private synced = false;
  private unsynced = Buffer.alloc(0);
  private closed = false;
  /** Set by the launcher: reads the helper's stderr file on the board. */
  diagnose: (() => Promise<string>) | undefined;

  private constructor(
    private readonly port: SerialPort,
    readonly name: string,
    private readonly stopHelper: () => Promise<void>,
  ) {}

  /** Opens the farm's end of the line (before the helper starts, so its ready frame is not missed). */
  static async open(target: string, path: string, baudRate: number, stopHelper: () => Promise<void>): Promise<SerialHelperLink> {
    const port = new (serialport().SerialPort)({ path, baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) =>
      port.open((error) => (error ? reject(new InfrastructureError(`${target}: cannot open the rpmsg helper's serial line ${path}: ${error.message}`, { cause: error })) : resolve())),
    );
    port.on('error', () => {}); // reported as the close that follows
    return new SerialHelperLink(port, `serial line ${path}`, stopHelper);
  }

  listen(events: { data(chunk: Buffer): void; stderr(chunk: Buffer): void; end(reason: string, withStderr: boolean): void }): void {
    this.port.on('data', (chunk: Buffer) => {
      if (this.synced) {
        events.data(chunk);
        return;
      }
      this.unsynced = Buffer.concat([this.unsynced, chunk]);
      const at = readyFrameAt(this.unsynced);
      if (at < 0) {
        // Keep a tail long enough to hold the start of a ready frame cut by a chunk boundary.
        if (this.unsynced.length > MAX_UNSYNCED) this.unsynced = this.unsynced.subarray(this.unsynced.length - 16);
        return;
      }
      this.synced = true;
      const rest = this.unsynced.subarray(at);
      this.unsynced = Buffer.alloc(0);
      events.data(rest);
    });
    this.port.on('close', () => events.end(`'s ${this.name} closed`, false));
  }

  write(data: Buffer): void {
    if (!this.closed) this.port.write(data);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.stopHelper().catch(() => {});
    if (this.port.isOpen) this.port.close(() => {});
  }
}
