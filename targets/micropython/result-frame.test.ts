import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../../base/errors.js';
import { crc32, decodeFrame, encodeFrame, ResultFrameError } from './result-frame.js';

test('crc32 is binascii.crc32 (the value MicroPython printed for b"abc")', () => {
  assert.equal(crc32(Buffer.from('abc')), 891568578);
  assert.equal(crc32(new Uint8Array()), 0);
});

test('a frame round-trips, found among other output and with a trailing CR', () => {
  const frame = encodeFrame('{"src": 1024, "data": "00ff", "ev": []}');
  assert.deepEqual(decodeFrame(`noise\r\n${frame}\r\n`, 'recv'), { src: 1024, data: '00ff', ev: [] });
});

test('a frame whose CRC, length or JSON is wrong, or a missing frame, is a ResultFrameError (protocol)', () => {
  const good = encodeFrame('{"ok": 1, "ev": []}');
  const flipped = good.replace('"ok": 1', '"ok": 2');
  assert.throws(() => decodeFrame(flipped, 'send'), (error: unknown) => error instanceof ResultFrameError && error instanceof ProtocolError && /CRC/.test(error.message));
  const truncated = good.slice(0, -3);
  assert.throws(() => decodeFrame(truncated, 'send'), /says 19 bytes, 16 arrived/);
  assert.throws(() => decodeFrame('FARM1 3 00000000 abc', 'send'), /CRC/);
  assert.throws(() => decodeFrame(encodeFrame('[1]'), 'send'), /not an object/);
  assert.throws(() => decodeFrame(encodeFrame('nope'), 'send'), /not JSON/);
  assert.throws(() => decodeFrame('just text', 'send'), /no result frame/);
});
