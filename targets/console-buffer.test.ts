import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsoleBuffer } from './console-buffer.js';

test('ConsoleBuffer forwards every chunk live and hands out the text since the last take', () => {
  const forwarded: [string, string][] = [];
  const buffer = new ConsoleBuffer((stream, text) => forwarded.push([stream, text]));
  buffer.write('uart0', 'boot\n');
  buffer.write('remote-stderr', 'oops\n');
  assert.deepEqual(forwarded, [
    ['uart0', 'boot\n'],
    ['remote-stderr', 'oops\n'],
  ]);
  assert.equal(buffer.take(), 'boot\noops\n');
  assert.equal(buffer.take(), '');
  buffer.write('uart0', 'next\n');
  assert.equal(buffer.take(), 'next\n');
});

test('ConsoleBuffer keeps the newest `limit` characters of a flood', () => {
  const buffer = new ConsoleBuffer(() => {}, 10);
  for (let index = 0; index < 100; index++) buffer.write('uart0', String(index % 10));
  assert.equal(buffer.take(), '0123456789');
  buffer.write('uart0', 'abcdefghijkl');
  assert.equal(buffer.take(), 'cdefghijkl');
});
