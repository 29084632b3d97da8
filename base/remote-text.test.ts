import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { propertyRuns } from '../openamp/testing/fuzz-runs.js';
import { escapeRemoteText, quoteRemote, truncatedList } from './remote-text.js';

/** What may never reach a terminal, an XML or an HTML report from a remote. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_IN_LINE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// eslint-disable-next-line no-control-regex
const FORBIDDEN_IN_TEXT = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

test('the title-and-clear escape of issue 14 comes out inert', () => {
  const evil = '\x1b]0;PWNED\x07\x1b[2J\u009b31m';
  assert.equal(quoteRemote(evil), '"\\x1b]0;PWNED\\x07\\x1b[2J\\x9b31m"');
  assert.equal(escapeRemoteText(`line\r\n${evil}\n\ttab`), 'line\n\\x1b]0;PWNED\\x07\\x1b[2J\\x9b31m\n\ttab');
  assert.equal(quoteRemote('rpmsg-openamp-demo-channel'), '"rpmsg-openamp-demo-channel"');
  assert.equal(quoteRemote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(escapeRemoteText('plain text\n'), 'plain text\n', 'plain text is returned as is');
  assert.equal(quoteRemote('\u202eevil'), '"\\u202eevil"', 'a bidi override cannot turn the message around');
  assert.equal(quoteRemote('😀'), '"😀"', 'a valid surrogate pair is a character');
  assert.equal(quoteRemote('\ud800x'), '"\\ud800x"', 'a lone surrogate is escaped');
});

test('property: any remote string comes out with no control, bidi or lone-surrogate character, and plain strings unchanged', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string()), (text) => {
      const quoted = quoteRemote(text);
      assert.doesNotMatch(quoted, FORBIDDEN_IN_LINE);
      assert.ok(quoted.startsWith('"') && quoted.endsWith('"'));
      const escaped = escapeRemoteText(text);
      assert.doesNotMatch(escaped, FORBIDDEN_IN_TEXT);
      if (!FORBIDDEN_IN_TEXT.test(text) && !text.includes('\r')) assert.equal(escaped, text);
      // Nothing is lost silently: every line feed of the input is still there.
      assert.equal(escaped.split('\n').length, text.replace(/\r\n/g, '\n').split('\n').length);
    }),
    { numRuns: propertyRuns('remote text: escaped output is terminal-safe') },
  );
});

test('truncatedList keeps short lists and counts what it leaves off', () => {
  assert.equal(truncatedList(['a', 'b']), 'a, b');
  assert.equal(truncatedList([]), '');
  const many = Array.from({ length: 200_000 }, (_, i) => `n${i}`);
  assert.equal(truncatedList(many, 3), 'n0, n1, n2, ... and 199997 more');
});
