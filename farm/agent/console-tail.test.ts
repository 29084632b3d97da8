import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LiveEventLog, liveEventsFile } from '../../reports/live-events.js';
import { JobConsoleTail } from './console-tail.js';

test('a job\'s console tail: tagged lines as farm up prints them, a partial line held until it ends (or the job does), bounded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'farm-console-tail-test-'));
  try {
    const tail = new JobConsoleTail(dir, 5);
    assert.deepEqual(tail.take(), [], 'no file yet: nothing');
    const log = new LiveEventLog(liveEventsFile(dir));
    log.append('fk', 'test', 'start echo › pings');
    log.append('fk', 'uart0', 'booted\nhalf a li');
    assert.deepEqual(tail.take(), ['[fk] == start echo › pings', '[fk uart0] booted']);
    log.append('fk', 'uart0', 'ne\n');
    log.append('fk', 'uart0', 'password=hunter22 no newline');
    assert.deepEqual(tail.take(), ['[fk uart0] half a line']);
    // The secret was masked on its way into the file; the job's end flushes the partial line.
    assert.deepEqual(tail.take(true), ['[fk uart0] password=*** no newline']);
    // A console that never stops: the first 5 lines of the job are kept, then one line says so.
    const chatty = new JobConsoleTail(join(dir, 'chatty'), 5);
    const chattyLog = new LiveEventLog(liveEventsFile(join(dir, 'chatty')));
    mkdirSync(join(dir, 'chatty'));
    for (let index = 0; index < 10; index++) chattyLog.append('fk', 'uart0', `line ${index} ${'x'.repeat(index === 1 ? 3000 : 0)}\n`);
    const kept = chatty.take();
    assert.equal(kept.length, 6);
    assert.equal(kept[0], '[fk uart0] line 0 ');
    assert.match(kept[1] ?? '', /^\[fk uart0\] line 1 x+… \(1018 more characters\)$/);
    assert.equal(kept[5], '[farm] console truncated: the job log keeps the first 5 lines of a job');
    chattyLog.append('fk', 'uart0', 'more\n');
    assert.deepEqual(chatty.take(), [], 'nothing more after the bound');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
