import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConsolePrefixer } from './console-prefixer.js';

test('console lines are tagged once each, however the chunks split them', () => {
  const prefixer = new ConsolePrefixer((stream) => `[sim ${stream}] `);
  const out = [
    prefixer.format('uart0', 'boot'),
    prefixer.format('uart0', 'ing echo\nannounced'),
    prefixer.format('uart0', ' channel\n'),
    prefixer.format('uart0', 'running\n\nlogin: '),
  ].join('');
  assert.equal(out, '[sim uart0] booting echo\n[sim uart0] announced channel\n[sim uart0] running\n\n[sim uart0] login: ');
});

test('an empty line is untagged whether or not a chunk starts with it', () => {
  const text = 'one\n\ntwo\r\n\r\nthree\n';
  const whole = new ConsolePrefixer(() => '[t] ').format('uart0', text);
  assert.equal(whole, '[t] one\n\n[t] two\r\n\r\n[t] three\n');
  const split = new ConsolePrefixer(() => '[t] ');
  assert.equal(['one\n', '\ntwo\r\n', '\r\nthree\n'].map((chunk) => split.format('uart0', chunk)).join(''), whole);
});

test('each stream keeps its own line state', () => {
  const prefixer = new ConsolePrefixer((stream) => `<${stream}> `);
  assert.equal(prefixer.format('a', 'half'), '<a> half');
  assert.equal(prefixer.format('b', 'other\n'), '<b> other\n');
  assert.equal(prefixer.format('a', ' line\n'), ' line\n');
  assert.equal(prefixer.format('a', ''), '');
  assert.equal(prefixer.format('a', 'next\n'), '<a> next\n');
});

test('a line of our own printed mid-line first ends the console line; the rest of it is tagged again', () => {
  const prefixer = new ConsolePrefixer((stream) => `[${stream}] `);
  let out = prefixer.format('uart0', 'rpmsg: NS CREATE "rpmsg-openamp-de');
  out += prefixer.lineBreak() + 'NS create seen\n';
  out += prefixer.format('uart0', 'mo-channel"\n');
  assert.equal(out, '[uart0] rpmsg: NS CREATE "rpmsg-openamp-de\nNS create seen\n[uart0] mo-channel"\n');
  assert.equal(prefixer.lineBreak(), '', 'nothing to break when every stream is at a line start');
});
