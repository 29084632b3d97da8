import { checkRange, type SharedMemory } from './shared-memory.js';

/**
 * Shared memory as a SharedArrayBuffer: the simulated SoC, where host and remote are threads
 * of one process. Ordered accessors use Atomics, which is what makes a ring index written by
 * one thread publish the descriptors written before it to the other.
 */
export class SabMemory implements SharedMemory {
  readonly size: number;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly name = `sab:${buffer.byteLength}`,
  ) {
    this.size = buffer.byteLength;
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
    this.u16 = new Uint16Array(buffer, 0, Math.floor(buffer.byteLength / 2));
    this.u32 = new Uint32Array(buffer, 0, Math.floor(buffer.byteLength / 4));
  }

  static allocate(size: number, name?: string): SabMemory {
    return new SabMemory(new SharedArrayBuffer(size), name);
  }

  read(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    return this.bytes.slice(offset, offset + length);
  }

  readInto(offset: number, target: Uint8Array): void {
    checkRange(this, offset, target.length);
    target.set(this.bytes.subarray(offset, offset + target.length));
  }

  write(offset: number, data: Uint8Array): void {
    checkRange(this, offset, data.length);
    this.bytes.set(data, offset);
  }

  fill(offset: number, length: number, value: number): void {
    checkRange(this, offset, length);
    this.bytes.fill(value, offset, offset + length);
  }

  getU8(offset: number): number {
    checkRange(this, offset, 1);
    return this.bytes[offset]!;
  }

  getU16(offset: number): number {
    checkRange(this, offset, 2);
    return this.view.getUint16(offset, true);
  }

  getU32(offset: number): number {
    checkRange(this, offset, 4);
    return this.view.getUint32(offset, true);
  }

  setU8(offset: number, value: number): void {
    checkRange(this, offset, 1);
    this.bytes[offset] = value;
  }

  setU16(offset: number, value: number): void {
    checkRange(this, offset, 2);
    this.view.setUint16(offset, value, true);
  }

  setU32(offset: number, value: number): void {
    checkRange(this, offset, 4);
    this.view.setUint32(offset, value, true);
  }

  loadU8(offset: number): number {
    checkRange(this, offset, 1);
    return Atomics.load(this.bytes, offset);
  }

  storeU8(offset: number, value: number): void {
    checkRange(this, offset, 1);
    Atomics.store(this.bytes, offset, value);
  }

  // Typed-array Atomics are native-endian; every machine this runs on is little-endian, which
  // `assertLittleEndian` below checks once at load time. Unaligned ordered fields fall back to
  // a plain access bracketed by a fence-like atomic on byte 0 of the field.
  loadU16(offset: number): number {
    checkRange(this, offset, 2);
    if (offset % 2 === 0) return Atomics.load(this.u16, offset / 2);
    Atomics.load(this.bytes, offset);
    return this.view.getUint16(offset, true);
  }

  storeU16(offset: number, value: number): void {
    checkRange(this, offset, 2);
    if (offset % 2 === 0) {
      Atomics.store(this.u16, offset / 2, value);
      return;
    }
    this.view.setUint16(offset, value, true);
    Atomics.store(this.bytes, offset, value & 0xff);
  }

  loadU32(offset: number): number {
    checkRange(this, offset, 4);
    if (offset % 4 === 0) return Atomics.load(this.u32, offset / 4);
    Atomics.load(this.bytes, offset);
    return this.view.getUint32(offset, true);
  }

  storeU32(offset: number, value: number): void {
    checkRange(this, offset, 4);
    if (offset % 4 === 0) {
      Atomics.store(this.u32, offset / 4, value >>> 0);
      return;
    }
    this.view.setUint32(offset, value >>> 0, true);
    Atomics.store(this.bytes, offset, value & 0xff);
  }

  close(): void {
    // Nothing to release: the buffer goes when the last thread drops it.
  }
}

function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error('OpenAMP shared memory needs a little-endian host');
  }
}
assertLittleEndian();
