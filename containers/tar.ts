/**
 * The two tar archives the engine's archive endpoints need: one small file to write into a
 * container before it starts (PUT /containers/{id}/archive), and the one file GET
 * /containers/{id}/archive returns (a host key read out of a container). ustar only, bounded:
 * what a container hands back is untrusted.
 */
import { InfrastructureError } from '../base/errors.js';

const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** A ustar archive holding `file` (a path relative to the extraction root, e.g. root/.ssh/authorized_keys) owned by root. */
export function tarOneFile(file: string, content: Uint8Array, mode: number): Buffer {
  if (file.startsWith('/') || file.split('/').includes('..')) throw new InfrastructureError(`tar: ${file}: must be a relative path without ..`);
  let name = file;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = file.lastIndexOf('/', 155);
    prefix = file.slice(0, cut);
    name = file.slice(cut + 1);
    if (cut < 0 || Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) throw new InfrastructureError(`tar: ${file}: path too long for ustar`);
  }
  const header = Buffer.alloc(BLOCK);
  header.write(name, 0, 100, 'utf8');
  header.write(octal(mode & 0o7777, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  header.write(octal(content.length, 12), 124, 'ascii');
  header.write(octal(Math.floor(Date.now() / 1000), 12), 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write('0', 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  header.write('root', 265, 'ascii');
  header.write('root', 297, 'ascii');
  header.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  const padding = (BLOCK - (content.length % BLOCK)) % BLOCK;
  return Buffer.concat([header, Buffer.from(content), Buffer.alloc(padding), Buffer.alloc(2 * BLOCK)]);
}

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? length : end).toString('utf8');
}

/**
 * The first regular file of a tar archive (PAX / GNU long-name records skipped): its name and
 * content. Throws on a malformed archive, a link (the caller asked for a file), or a file larger
 * than `maxBytes`.
 */
export function firstFileOfTar(archive: Buffer, maxBytes: number): { name: string; content: Buffer } {
  let offset = 0;
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) break;
    const sizeText = field(header, 124, 12).trim();
    if (!/^[0-7]*$/.test(sizeText)) throw new InfrastructureError('tar: malformed size field');
    const size = Number.parseInt(sizeText || '0', 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const dataStart = offset + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > archive.length) throw new InfrastructureError('tar: truncated archive');
    const prefix = field(header, 345, 155);
    const name = prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100);
    if (type === '0' || type === '\0') {
      if (size > maxBytes) throw new InfrastructureError(`tar: ${name} is ${size} bytes, more than the ${maxBytes} expected`);
      return { name, content: Buffer.from(archive.subarray(dataStart, dataEnd)) };
    }
    if (type === '1' || type === '2') throw new InfrastructureError(`tar: ${name} is a link, not a file`);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw new InfrastructureError('tar: no file in the archive');
}
