/**
 * A running `farm run`'s live events, for `farm serve`: one JSON object per line in
 * live-events.jsonl in the run's out dir. The workers append their targets' console bytes and
 * log lines, the runner appends test starts and ends. Each append is one write() of one line on
 * an O_APPEND file, so lines of parallel writers never interleave. Text is redacted before it
 * is written. A write that fails (disk full) is dropped: the live view must never fail a test.
 */
import { appendFileSync, closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { redactSecrets } from './redact.js';

export const LIVE_EVENTS_FILE = 'live-events.jsonl';

export interface LiveEvent {
  /** ms since the epoch. */
  readonly t: number;
  readonly target: string;
  /** A console stream ("uart0", "remote-stdout"), "farm" for the target's log, "test" for test starts and ends. */
  readonly stream: string;
  readonly text: string;
}

export function liveEventsFile(outDir: string): string {
  return join(outDir, LIVE_EVENTS_FILE);
}

/** Longest text of one event; a longer chunk is split. */
const MAX_TEXT = 16 * 1024;

export class LiveEventLog {
  constructor(private readonly file: string) {}

  append(target: string, stream: string, text: string): void {
    const clean = redactSecrets(text);
    let lines = '';
    for (let at = 0; at < clean.length || (at === 0 && clean.length === 0); at += MAX_TEXT) {
      lines += `${JSON.stringify({ t: Date.now(), target, stream, text: clean.slice(at, at + MAX_TEXT) })}\n`;
      if (clean.length === 0) break;
    }
    try {
      appendFileSync(this.file, lines);
    } catch {
      // The live view is best effort.
    }
  }
}

function isLiveEvent(value: unknown): value is LiveEvent {
  if (!value || typeof value !== 'object') return false;
  const event = value as Record<string, unknown>;
  return typeof event.t === 'number' && typeof event.target === 'string' && typeof event.stream === 'string' && typeof event.text === 'string';
}

/**
 * The events appended since `offset` (bytes), at most `maxBytes` of them, and the offset to read
 * from next. A partly written last line is left for the next read; malformed lines are skipped.
 */
export function readLiveEvents(file: string, offset: number, maxBytes = 1024 * 1024): { events: LiveEvent[]; offset: number } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return { events: [], offset };
  }
  try {
    const size = fstatSync(fd).size;
    if (size < offset) offset = 0; // a new run rewrote the file
    const length = Math.min(size - offset, maxBytes);
    if (length <= 0) return { events: [], offset };
    const buffer = Buffer.alloc(length);
    const read = readSync(fd, buffer, 0, length, offset);
    const text = buffer.subarray(0, read).toString('utf8');
    const end = text.lastIndexOf('\n');
    if (end < 0) return { events: [], offset: length >= maxBytes ? offset + read : offset };
    const events: LiveEvent[] = [];
    for (const line of text.slice(0, end).split('\n')) {
      try {
        const parsed: unknown = JSON.parse(line);
        if (isLiveEvent(parsed)) events.push(parsed);
      } catch {
        // skipped
      }
    }
    return { events, offset: offset + Buffer.byteLength(text.slice(0, end + 1)) };
  } finally {
    closeSync(fd);
  }
}
