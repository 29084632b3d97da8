import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FAULT_CRASH_WORD, FAULT_HANG_WORD, SHUTDOWN_MSG, controlCommandOf, controlMessage, floodPayload, floodPayloadOk } from './control-words.js';

test('control words are the C firmware values, little-endian first word', () => {
  assert.equal(SHUTDOWN_MSG, 0xef56a55a);
  assert.equal(FAULT_CRASH_WORD, 0xfa11c0de);
  assert.equal(FAULT_HANG_WORD, 0xfa11b10c);
  assert.deepEqual([...controlMessage('crash')], [0xde, 0xc0, 0x11, 0xfa]);
  for (const command of ['shutdown', 'crash', 'hang'] as const) assert.equal(controlCommandOf(controlMessage(command)), command);
});

test('only the first word counts, and short or ordinary messages carry no command', () => {
  const long = new Uint8Array(100);
  long.set(controlMessage('hang'), 0);
  assert.equal(controlCommandOf(long), 'hang');
  const later = new Uint8Array(8);
  later.set(controlMessage('crash'), 4);
  assert.equal(controlCommandOf(later), undefined);
  assert.equal(controlCommandOf(new Uint8Array([0xde, 0xc0, 0x11])), undefined);
  assert.equal(controlCommandOf(new TextEncoder().encode('hello world!')), undefined);
});

test('flood payloads: each sequence number has its own bytes; a changed, short or reordered message is not accepted', () => {
  const seven = floodPayload(7, 496);
  assert.equal(seven.length, 496);
  assert.equal(floodPayloadOk(seven, 7), true);
  assert.equal(floodPayloadOk(seven, 8), false, 'another sequence number');
  assert.equal(floodPayloadOk(floodPayload(8, 496), 7), false, 'the next message in place of this one');
  const corrupted = seven.slice();
  corrupted[300] ^= 1;
  assert.equal(floodPayloadOk(corrupted, 7), false, 'one flipped bit');
  assert.equal(floodPayloadOk(seven.subarray(0, 3), 7), false, 'shorter than its sequence number');
  assert.equal(floodPayloadOk(floodPayload(0xffffffff, 16), 0xffffffff), true);
});
