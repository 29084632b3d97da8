/**
 * A cpio archive in the "newc" format the Linux kernel unpacks as an initramfs
 * (Documentation/driver-api/early-userspace/buffer-format.rst): each entry a 110-byte ASCII
 * header, its NUL-terminated name and its data, each padded to 4 bytes, then "TRAILER!!!".
 * Written here rather than with cpio(1): the image is assembled from folders of extracted
 * packages plus files made in memory (keys, scripts), with owner root whoever builds it.
 */

export type CpioEntry =
  | { readonly type: 'dir'; readonly path: string; readonly mode?: number }
  | { readonly type: 'file'; readonly path: string; readonly data: Uint8Array; readonly mode?: number }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string }
  | { readonly type: 'char'; readonly path: string; readonly major: number; readonly minor: number; readonly mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}

function pad4(length: number): number {
  return (4 - (length % 4)) % 4;
}

/** The archive of `entries`, in their order (a folder must come before what it holds). */
export function newcArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let inode = 1;
  const push = (path: string, mode: number, data: Uint8Array, rdev: { major: number; minor: number } = { major: 0, minor: 0 }): void => {
    const name = Buffer.from(`${path}\0`, 'utf8');
    const header =
      '070701' +
      hex8(inode++) +
      hex8(mode) +
      hex8(0) + // uid: root
      hex8(0) + // gid: root
      hex8(mode & S_IFDIR ? 2 : 1) +
      hex8(0) + // mtime: fixed, so one recipe gives one archive
      hex8(data.length) +
      hex8(0) +
      hex8(0) +
      hex8(rdev.major) +
      hex8(rdev.minor) +
      hex8(name.length) +
      hex8(0);
    parts.push(Buffer.from(header, 'ascii'), name, Buffer.alloc(pad4(110 + name.length)), Buffer.from(data), Buffer.alloc(pad4(data.length)));
  };
  for (const entry of entries) {
    const path = entry.path.replace(/^\/+/, '');
    if (path === '' || path.split('/').includes('..')) throw new Error(`cpio: bad entry path ${JSON.stringify(entry.path)}`);
    if (entry.type === 'dir') push(path, S_IFDIR | (entry.mode ?? 0o755), new Uint8Array());
    else if (entry.type === 'file') push(path, S_IFREG | (entry.mode ?? 0o644), entry.data);
    else if (entry.type === 'symlink') push(path, S_IFLNK | 0o777, Buffer.from(entry.target, 'utf8'));
    else push(path, S_IFCHR | (entry.mode ?? 0o600), new Uint8Array(), entry);
  }
  push('TRAILER!!!', 0, new Uint8Array());
  return Buffer.concat(parts);
}
