/**
 * The framed, checksummed results the board agent prints (board-agent.ts):
 * `FARM1 <length> <crc32 hex> <JSON payload>` on a line of its own. A frame whose length or
 * CRC does not match (noise on the serial line, a truncated line) is a ProtocolError: the farm
 * never takes a verdict from bytes it cannot vouch for.
 */
import { ProtocolError } from '../../base/errors.js';

const FRAME = /^FARM1 (\d{1,7}) ([0-9a-f]{8}) (.*)$/m;

/** A corrupt or missing result frame. */
export class ResultFrameError extends ProtocolError {}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE, as binascii.crc32 / zlib). */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The frame as the agent prints it (tests, and the double's own checks). */
export function encodeFrame(payload: string): string {
  const bytes = Buffer.from(payload, 'utf8');
  return `FARM1 ${bytes.length} ${crc32(bytes).toString(16).padStart(8, '0')} ${payload}`;
}

/** The JSON payload of the one frame in `stdout`, checked. */
export function decodeFrame(stdout: string, what: string): Record<string, unknown> {
  const match = FRAME.exec(stdout);
  if (!match) throw new ResultFrameError(`${what}: no result frame in the script output ${JSON.stringify(stdout.slice(0, 200))}`);
  const length = Number(match[1]);
  const crc = match[2] as string;
  // The payload is ASCII JSON; the console text is latin1 (one char per byte), and the line may end in \r.
  const payload = (match[3] as string).replace(/\r$/, '');
  const bytes = Buffer.from(payload, 'latin1');
  if (bytes.length !== length) throw new ResultFrameError(`${what}: result frame says ${length} bytes, ${bytes.length} arrived`);
  const actual = crc32(bytes).toString(16).padStart(8, '0');
  if (actual !== crc) throw new ResultFrameError(`${what}: result frame CRC ${actual}, the board sent ${crc}`);
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch (error) {
    throw new ResultFrameError(`${what}: result frame is not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ResultFrameError(`${what}: result frame is not an object`);
  return value as Record<string, unknown>;
}
