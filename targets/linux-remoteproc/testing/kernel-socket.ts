/**
 * The Node end of firmware/tools/fuse-bridge.c: one UNIX-socket connection per FUSE operation,
 * answered by the BoardKernel. Request: u32 op, u32 flags, u64 fh, u64 offset, u32 size,
 * u32 path_len, u32 data_len, path, data; reply: i32 result (-errno), u32 data_len, data.
 */
import * as net from 'node:net';
import { BoardKernel, ERRNO, Errno } from './board-kernel.js';

const HEADER = 36;
const MAX_REQUEST = 1024 * 1024;
const OP = { GETATTR: 1, READDIR: 2, OPEN: 3, READ: 4, WRITE: 5, RELEASE: 6, IOCTL: 7, TRUNCATE: 8, READLINK: 9 } as const;

function reply(socket: net.Socket, result: number, data: Uint8Array = new Uint8Array(0)): void {
  const header = Buffer.alloc(8);
  header.writeInt32LE(result, 0);
  header.writeUInt32LE(data.length, 4);
  socket.end(Buffer.concat([header, data]));
}

async function dispatch(kernel: BoardKernel, op: number, path: string, flags: number, fh: number, offset: number, size: number, data: Uint8Array): Promise<{ result: number; data?: Uint8Array }> {
  switch (op) {
    case OP.GETATTR: {
      const { mode, size: fileSize } = await kernel.getattr(path);
      const out = Buffer.alloc(12);
      out.writeUInt32LE(mode, 0);
      out.writeBigUInt64LE(BigInt(fileSize), 4);
      return { result: 0, data: out };
    }
    case OP.READDIR:
      return { result: 0, data: Buffer.from(kernel.readdir(path).map((name) => `${name}\0`).join('')) };
    case OP.OPEN:
      return { result: kernel.open(path, flags) };
    case OP.READ: {
      const out = await kernel.read(path, fh, offset, size);
      return { result: out.length, data: out };
    }
    case OP.WRITE:
      return { result: await kernel.write(path, data) };
    case OP.RELEASE:
      kernel.release(fh);
      return { result: 0 };
    case OP.IOCTL: {
      const out = await kernel.ioctl(path, flags >>> 0, data);
      return { result: 0, data: out.subarray(0, size) };
    }
    case OP.TRUNCATE:
      await kernel.truncate(path);
      return { result: 0 };
    default:
      return { result: -ERRNO.ENOSYS };
  }
}

/** Serves `kernel` on a UNIX socket at `path`; returns the server (close it to stop). */
export function serveKernel(kernel: BoardKernel, path: string, onError: (message: string) => void): Promise<net.Server> {
  const server = net.createServer((socket) => {
    let buffer = Buffer.alloc(0);
    let handled = false;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (handled) return;
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length < HEADER) return;
      const pathLen = buffer.readUInt32LE(28);
      const dataLen = buffer.readUInt32LE(32);
      if (pathLen + dataLen > MAX_REQUEST) {
        handled = true;
        reply(socket, -ERRNO.EINVAL);
        return;
      }
      if (buffer.length < HEADER + pathLen + dataLen) return;
      handled = true;
      const op = buffer.readUInt32LE(0);
      const flags = buffer.readUInt32LE(4);
      const fh = Number(buffer.readBigUInt64LE(8));
      const offset = Number(buffer.readBigUInt64LE(16));
      const size = buffer.readUInt32LE(24);
      const filePath = buffer.subarray(HEADER, HEADER + pathLen).toString();
      const data = new Uint8Array(buffer.subarray(HEADER + pathLen, HEADER + pathLen + dataLen));
      if (process.env.FARM_DOUBLE_TRACE) onError(`fuse op ${op} ${filePath} fh ${fh} off ${offset} size ${size} data ${dataLen}`);
      dispatch(kernel, op, filePath, flags, fh, offset, size, data).then(
        (result) => reply(socket, result.result, result.data),
        (error: unknown) => {
          if (error instanceof Errno) reply(socket, -error.errno);
          else {
            onError(`board double: ${filePath}: ${String(error)}`);
            reply(socket, -ERRNO.EIO);
          }
        },
      );
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}
