import { checkRange, type SharedMemory } from './shared-memory.js';

/**
 * Shared memory that this process addresses directly, through views of one buffer: a
 * SharedArrayBuffer (the simulated SoC, host and remote are threads of one process) or a file
 * mapped MAP_SHARED (open-amp's /dev/shm file, a QEMU memory-backend file; see FileMemory).
 * Ordered accessors use Atomics, which is what makes a ring index written by one side publish
 * the descriptors written before it to the other, and keeps the JIT from caching a polled index.
 *
 * Subclasses may guard every access: `beforeAccess` runs first (the range check; a closed
 * store), `afterAccess` once the bytes moved (a mapped file that shrank under us).
 */
export abstract class ViewMemory implements SharedMemory {
  abstract readonly name: string;
  readonly size: number;
  private bytes: Uint8Array;
  private view: DataView;
  private u16: Uint16Array;
  private u32: Uint32Array;

  protected constructor(buffer: ArrayBufferLike) {
    this.size = buffer.byteLength;
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
    this.u16 = new Uint16Array(buffer, 0, Math.floor(buffer.byteLength / 2));
    this.u32 = new Uint32Array(buffer, 0, Math.floor(buffer.byteLength / 4));
  }

  protected beforeAccess(offset: number, length: number): void {
    checkRange(this, offset, length);
  }

  protected afterAccess(_offset: number, _length: number): void {}

  /** Drops the views (a closed store keeps no reference to its pages). */
  protected dropViews(): void {
    const empty = new ArrayBuffer(0);
    this.bytes = new Uint8Array(empty);
    this.view = new DataView(empty);
    this.u16 = new Uint16Array(empty);
    this.u32 = new Uint32Array(empty);
  }

  read(offset: number, length: number): Uint8Array {
    this.beforeAccess(offset, length);
    const out = this.bytes.slice(offset, offset + length);
    this.afterAccess(offset, length);
    return out;
  }

  readInto(offset: number, target: Uint8Array): void {
    this.beforeAccess(offset, target.length);
    target.set(this.bytes.subarray(offset, offset + target.length));
    this.afterAccess(offset, target.length);
  }

  write(offset: number, data: Uint8Array): void {
    this.beforeAccess(offset, data.length);
    this.bytes.set(data, offset);
    this.afterAccess(offset, data.length);
  }

  fill(offset: number, length: number, value: number): void {
    this.beforeAccess(offset, length);
    this.bytes.fill(value, offset, offset + length);
    this.afterAccess(offset, length);
  }

  getU8(offset: number): number {
    this.beforeAccess(offset, 1);
    const value = this.bytes[offset]!;
    this.afterAccess(offset, 1);
    return value;
  }

  getU16(offset: number): number {
    this.beforeAccess(offset, 2);
    const value = this.view.getUint16(offset, true);
    this.afterAccess(offset, 2);
    return value;
  }

  getU32(offset: number): number {
    this.beforeAccess(offset, 4);
    const value = this.view.getUint32(offset, true);
    this.afterAccess(offset, 4);
    return value;
  }

  setU8(offset: number, value: number): void {
    this.beforeAccess(offset, 1);
    this.bytes[offset] = value;
    this.afterAccess(offset, 1);
  }

  setU16(offset: number, value: number): void {
    this.beforeAccess(offset, 2);
    this.view.setUint16(offset, value, true);
    this.afterAccess(offset, 2);
  }

  setU32(offset: number, value: number): void {
    this.beforeAccess(offset, 4);
    this.view.setUint32(offset, value >>> 0, true);
    this.afterAccess(offset, 4);
  }

  loadU8(offset: number): number {
    this.beforeAccess(offset, 1);
    const value = Atomics.load(this.bytes, offset);
    this.afterAccess(offset, 1);
    return value;
  }

  storeU8(offset: number, value: number): void {
    this.beforeAccess(offset, 1);
    Atomics.store(this.bytes, offset, value);
    this.afterAccess(offset, 1);
  }

  // Typed-array Atomics are native-endian; every machine this runs on is little-endian, which
  // `assertLittleEndian` below checks once at load time. Unaligned ordered fields fall back to
  // a plain access bracketed by an atomic on byte 0 of the field.
  loadU16(offset: number): number {
    this.beforeAccess(offset, 2);
    let value: number;
    if (offset % 2 === 0) value = Atomics.load(this.u16, offset / 2);
    else {
      Atomics.load(this.bytes, offset);
      value = this.view.getUint16(offset, true);
    }
    this.afterAccess(offset, 2);
    return value;
  }

  storeU16(offset: number, value: number): void {
    this.beforeAccess(offset, 2);
    if (offset % 2 === 0) Atomics.store(this.u16, offset / 2, value);
    else {
      this.view.setUint16(offset, value, true);
      Atomics.store(this.bytes, offset, value & 0xff);
    }
    this.afterAccess(offset, 2);
  }

  loadU32(offset: number): number {
    this.beforeAccess(offset, 4);
    let value: number;
    if (offset % 4 === 0) value = Atomics.load(this.u32, offset / 4);
    else {
      Atomics.load(this.bytes, offset);
      value = this.view.getUint32(offset, true);
    }
    this.afterAccess(offset, 4);
    return value;
  }

  storeU32(offset: number, value: number): void {
    this.beforeAccess(offset, 4);
    if (offset % 4 === 0) Atomics.store(this.u32, offset / 4, value >>> 0);
    else {
      this.view.setUint32(offset, value >>> 0, true);
      Atomics.store(this.bytes, offset, value & 0xff);
    }
    this.afterAccess(offset, 4);
  }

  abstract close(): void;
}

function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error('OpenAMP shared memory needs a little-endian host');
  }
}
assertLittleEndian();
