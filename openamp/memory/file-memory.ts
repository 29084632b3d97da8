import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { InfrastructureError, MemoryAccessError, hex } from '../../base/errors.js';
import { checkRange } from './shared-memory.js';
import { ViewMemory } from './view-memory.js';

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

/**
 * Shared memory over a file that another process maps MAP_SHARED: a QEMU memory-backend-file
 * with share=on, or open-amp's /dev/shm/openamp.shm. We map it too (native/mapped-file.c, an
 * addon `npm run build` compiles against Node's headers), so ring fields are plain loads and
 * stores, ordered ones Atomics, as in any open-amp host; a pread per field cost ~1 µs each.
 *
 * The file belongs to the other side, which may shrink it (a hostile remote, a QEMU that died):
 * the addon turns the bus error of an access past the new end into a fault count, and every
 * access checks that count afterwards, so a shrunk file is a MemoryAccessError, never a crash.
 */
export class FileMemory extends ViewMemory {
  readonly name: string;
  private mapping: ArrayBuffer | undefined;
  private readonly faultsSeen: number;

  private constructor(
    readonly path: string,
    mapping: ArrayBuffer,
    private readonly unlinkOnClose: boolean,
  ) {
    super(mapping);
    this.mapping = mapping;
    this.name = `file:${path}`;
    this.faultsSeen = mappedFile().faultCount[0]!;
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
      return new FileMemory(path, mapFile(path, fd, size), created && options.unlinkOnClose === true);
    } catch (error) {
      if (created) fs.rmSync(path, { force: true });
      if (error instanceof InfrastructureError) throw error;
      throw new InfrastructureError(`cannot size shared-memory file ${path} to ${hex(size)} bytes: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      // The mapping keeps the file; the descriptor is not needed after mmap.
      fs.closeSync(fd);
    }
  }

  /** Opens a file someone else created (QEMU's memory backend, the other open-amp process). */
  static open(path: string, options: FileMemoryOpenOptions = {}): FileMemory {
    const fd = openExisting(path);
    try {
      let fileSize: number;
      try {
        fileSize = fs.fstatSync(fd).size;
      } catch (error) {
        throw new InfrastructureError(`cannot stat shared-memory file ${path}: ${(error as Error).message}`, { cause: error });
      }
      const size = options.size ?? fileSize;
      if (!Number.isSafeInteger(size) || size <= 0 || size > fileSize) {
        throw new InfrastructureError(
          `shared-memory file ${path} is ${fileSize} bytes; cannot use ${size} bytes of it` +
            (fileSize === 0 ? ' (empty: has the other side created it yet?)' : ''),
        );
      }
      return new FileMemory(path, mapFile(path, fd, size), false);
    } finally {
      fs.closeSync(fd);
    }
  }

  get closed(): boolean {
    return this.mapping === undefined;
  }

  protected override beforeAccess(offset: number, length: number): void {
    if (this.mapping === undefined) {
      throw new MemoryAccessError(`access of ${length} byte(s) at offset ${hex(offset)} after ${this.name} was closed`, offset, length);
    }
    checkRange(this, offset, length);
  }

  protected override afterAccess(offset: number, length: number): void {
    if (mappedFile().faultCount[0] !== this.faultsSeen) this.shrunk(offset, length);
  }

  /** Idempotent. Unlinks the file when it was created by this handle with `unlinkOnClose`. */
  close(): void {
    const mapping = this.mapping;
    if (mapping === undefined) return;
    // Marked closed and views dropped first: a later access must never reach unmapped pages.
    this.mapping = undefined;
    this.dropViews();
    mappedFile().unmap(mapping);
    if (this.unlinkOnClose) fs.rmSync(this.path, { force: true });
  }

  private shrunk(offset: number, length: number): never {
    let now = 'unknown';
    try {
      now = `${fs.statSync(this.path).size}`;
    } catch {
      // gone altogether
    }
    throw new MemoryAccessError(
      `access of ${length} byte(s) at offset ${hex(offset)} of ${this.name} is past its end: the file is shorter than the ` +
        `${this.size} bytes it had when mapped (${now} now: the other side truncated or recreated it)`,
      offset,
      length,
    );
  }
}

interface MappedFileAddon {
  map(fd: number, size: number): ArrayBuffer;
  unmap(buffer: ArrayBuffer): void;
  faults(): Int32Array;
  yieldCpu(): void;
}

let addon: { map: MappedFileAddon['map']; unmap: MappedFileAddon['unmap']; yieldCpu: MappedFileAddon['yieldCpu']; faultCount: Int32Array } | undefined;

/**
 * sched_yield(2), from the same addon: for a host that spins on the rings of a mapped file
 * (RpmsgVirtioOptions.spinYield). The kernel often wakes the remote process on the core of the
 * host that kicked it; while the host spins there, the remote waits for the core instead of
 * answering, until the spin gives up. Yielding lets it run at once.
 */
export function yieldCpu(): void {
  mappedFile().yieldCpu();
}

/** The addon, loaded once (its fault counter is one buffer for the whole process). */
function mappedFile(): NonNullable<typeof addon> {
  if (!addon) {
    const file = fileURLToPath(new URL('./native/mapped-file.node', import.meta.url));
    let loaded: MappedFileAddon;
    try {
      loaded = createRequire(import.meta.url)(file) as MappedFileAddon;
    } catch (error) {
      throw new InfrastructureError(`cannot load the shared-memory addon ${file} (run \`npm run build\`): ${(error as Error).message}`, { cause: error });
    }
    // A build of the addon from before yieldCpu existed (tsc run, the addon not rebuilt).
    if (typeof loaded.yieldCpu !== 'function') throw new InfrastructureError(`the shared-memory addon ${file} is out of date (no yieldCpu): run \`npm run build\``);
    addon = { map: loaded.map, unmap: loaded.unmap, yieldCpu: loaded.yieldCpu, faultCount: loaded.faults() };
  }
  return addon;
}

function mapFile(path: string, fd: number, size: number): ArrayBuffer {
  try {
    return mappedFile().map(fd, size);
  } catch (error) {
    if (error instanceof InfrastructureError) throw error;
    throw new InfrastructureError(`cannot map shared-memory file ${path} (${hex(size)} bytes): ${(error as Error).message}`, { cause: error });
  }
}

function openExisting(path: string): number {
  try {
    return fs.openSync(path, fs.constants.O_RDWR);
  } catch (error) {
    throw new InfrastructureError(`cannot open shared-memory file ${path}: ${(error as Error).message}`, { cause: error });
  }
}
