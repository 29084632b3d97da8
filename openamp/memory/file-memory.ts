import * as fs from 'node:fs';
import { InfrastructureError, MemoryAccessError, hex } from '../../base/errors.js';
import { checkRange, type SharedMemory } from './shared-memory.js';

export interface FileMemoryCreateOptions {
  /** Remove the file when this handle closes (only ever for a file this handle created). */
  unlinkOnClose?: boolean;
}

export interface FileMemoryOpenOptions {
  /**
   * Use only the first `size` bytes of the file (default: the whole file as it is now). The
   * file must already be at least this long.
   */
  size?: number;
}

/** Largest chunk handed to one read/write/fill syscall (keeps fill's scratch buffer small). */
const FILL_CHUNK = 64 * 1024;

/**
 * Shared memory over a file that another process maps MAP_SHARED: a QEMU memory-backend-file
 * with share=on, or open-amp's /dev/shm/openamp.shm. Node cannot mmap, so every access is a
 * positioned pread/pwrite on one fd; the page cache is the same memory the other process has
 * mapped, so our writes are visible to it (and its to us) as soon as the syscall returns.
 *
 * Ordering: each access is a syscall, which the kernel brackets with full barriers, so the
 * ordered accessors (`load*`/`store*`) are the plain ones. A u16/u32 access is a single
 * copy of 2/4 bytes and is not torn for aligned fields on the machines we run on.
 */
export class FileMemory implements SharedMemory {
  readonly name: string;
  private fd: number;
  // Scratch for the scalar accessors: one per width so the hot path allocates nothing.
  private readonly scratch1 = Buffer.alloc(1);
  private readonly scratch2 = Buffer.alloc(2);
  private readonly scratch4 = Buffer.alloc(4);

  private constructor(
    readonly path: string,
    fd: number,
    readonly size: number,
    private readonly unlinkOnClose: boolean,
  ) {
    this.fd = fd;
    this.name = `file:${path}`;
  }

  /**
   * Creates the file if needed and sets its length to exactly `size` (extending with zeros or
   * truncating). `unlinkOnClose` is honoured only when the file did not exist before, so a
   * handle never deletes a file someone else made.
   */
  static create(path: string, size: number, options: FileMemoryCreateOptions = {}): FileMemory {
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new InfrastructureError(`cannot create shared-memory file ${path}: size ${size} is not a positive integer`);
    }
    let fd: number;
    let created = true;
    try {
      fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new InfrastructureError(`cannot create shared-memory file ${path}: ${(error as Error).message}`, { cause: error });
      }
      created = false;
      fd = openExisting(path);
    }
    try {
      fs.ftruncateSync(fd, size);
    } catch (error) {
      fs.closeSync(fd);
      if (created) fs.rmSync(path, { force: true });
      throw new InfrastructureError(`cannot size shared-memory file ${path} to ${hex(size)} bytes: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return new FileMemory(path, fd, size, created && options.unlinkOnClose === true);
  }

  /** Opens a file someone else created (QEMU's memory backend, the other open-amp process). */
  static open(path: string, options: FileMemoryOpenOptions = {}): FileMemory {
    const fd = openExisting(path);
    let fileSize: number;
    try {
      fileSize = fs.fstatSync(fd).size;
    } catch (error) {
      fs.closeSync(fd);
      throw new InfrastructureError(`cannot stat shared-memory file ${path}: ${(error as Error).message}`, { cause: error });
    }
    const size = options.size ?? fileSize;
    if (!Number.isSafeInteger(size) || size <= 0 || size > fileSize) {
      fs.closeSync(fd);
      throw new InfrastructureError(
        `shared-memory file ${path} is ${fileSize} bytes; cannot use ${size} bytes of it` +
          (fileSize === 0 ? ' (empty: has the other side created it yet?)' : ''),
      );
    }
    return new FileMemory(path, fd, size, false);
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  read(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    const out = new Uint8Array(length);
    this.readAt(out, offset);
    return out;
  }

  readInto(offset: number, target: Uint8Array): void {
    checkRange(this, offset, target.length);
    this.readAt(target, offset);
  }

  write(offset: number, data: Uint8Array): void {
    checkRange(this, offset, data.length);
    this.writeAt(data, offset);
  }

  fill(offset: number, length: number, value: number): void {
    checkRange(this, offset, length);
    const chunk = Buffer.alloc(Math.min(length, FILL_CHUNK), value);
    for (let done = 0; done < length; done += chunk.length) {
      this.writeAt(chunk.subarray(0, Math.min(chunk.length, length - done)), offset + done);
    }
  }

  getU8(offset: number): number {
    checkRange(this, offset, 1);
    this.readScratch(this.scratch1, offset);
    return this.scratch1[0]!;
  }

  getU16(offset: number): number {
    checkRange(this, offset, 2);
    this.readScratch(this.scratch2, offset);
    return this.scratch2.readUInt16LE(0);
  }

  getU32(offset: number): number {
    checkRange(this, offset, 4);
    this.readScratch(this.scratch4, offset);
    return this.scratch4.readUInt32LE(0);
  }

  setU8(offset: number, value: number): void {
    checkRange(this, offset, 1);
    this.scratch1[0] = value;
    this.writeScratch(this.scratch1, offset);
  }

  setU16(offset: number, value: number): void {
    checkRange(this, offset, 2);
    this.scratch2.writeUInt16LE(value & 0xffff, 0);
    this.writeScratch(this.scratch2, offset);
  }

  setU32(offset: number, value: number): void {
    checkRange(this, offset, 4);
    this.scratch4.writeUInt32LE(value >>> 0, 0);
    this.writeScratch(this.scratch4, offset);
  }

  loadU8(offset: number): number {
    return this.getU8(offset);
  }

  storeU8(offset: number, value: number): void {
    this.setU8(offset, value);
  }

  loadU16(offset: number): number {
    return this.getU16(offset);
  }

  storeU16(offset: number, value: number): void {
    this.setU16(offset, value);
  }

  loadU32(offset: number): number {
    return this.getU32(offset);
  }

  storeU32(offset: number, value: number): void {
    this.setU32(offset, value);
  }

  /** Idempotent. Unlinks the file when it was created by this handle with `unlinkOnClose`. */
  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    // Mark closed first: a later access must never reach a recycled fd number.
    this.fd = -1;
    fs.closeSync(fd);
    if (this.unlinkOnClose) fs.rmSync(this.path, { force: true });
  }

  private liveFd(offset: number, length: number): number {
    if (this.fd < 0) {
      throw new MemoryAccessError(`access of ${length} byte(s) at offset ${hex(offset)} after ${this.name} was closed`, offset, length);
    }
    return this.fd;
  }

  private readScratch(scratch: Buffer, offset: number): void {
    const got = fs.readSync(this.liveFd(offset, scratch.length), scratch, 0, scratch.length, offset);
    if (got !== scratch.length) this.shortAccess('read', offset, scratch.length, got);
  }

  private writeScratch(scratch: Buffer, offset: number): void {
    const put = fs.writeSync(this.liveFd(offset, scratch.length), scratch, 0, scratch.length, offset);
    if (put !== scratch.length) this.shortAccess('write', offset, scratch.length, put);
  }

  // Regular files and tmpfs transfer everything in one call; the loop covers the rest and is
  // bounded because each round must make progress.
  private readAt(target: Uint8Array, offset: number): void {
    const fd = this.liveFd(offset, target.length);
    let done = 0;
    while (done < target.length) {
      const got = fs.readSync(fd, target, done, target.length - done, offset + done);
      if (got <= 0) this.shortAccess('read', offset, target.length, done);
      done += got;
    }
  }

  private writeAt(data: Uint8Array, offset: number): void {
    const fd = this.liveFd(offset, data.length);
    let done = 0;
    while (done < data.length) {
      const put = fs.writeSync(fd, data, done, data.length - done, offset + done);
      if (put <= 0) this.shortAccess('write', offset, data.length, done);
      done += put;
    }
  }

  private shortAccess(what: 'read' | 'write', offset: number, length: number, transferred: number): never {
    // The file shrank under us (the other side truncated or recreated it).
    throw new MemoryAccessError(
      `${what} of ${length} byte(s) at offset ${hex(offset)} of ${this.name} transferred only ${transferred}: ` +
        `the file is shorter than the ${this.size} bytes it had when opened`,
      offset,
      length,
    );
  }
}

function openExisting(path: string): number {
  try {
    return fs.openSync(path, fs.constants.O_RDWR);
  } catch (error) {
    throw new InfrastructureError(`cannot open shared-memory file ${path}: ${(error as Error).message}`, { cause: error });
  }
}
