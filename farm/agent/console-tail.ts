/**
 * The consoles of a running job, for the farm database's job log: the job's run appends its
 * live events (UART and remote output, target log, test starts and ends) to live-events.jsonl
 * in its out dir; this reads what is new and turns it into the tagged lines `farm up` prints.
 * Bounded: a console that never stops talking keeps the first `maxLines` lines of the job (and
 * a line saying the rest was dropped), each line at most `maxLineChars`; one call reads at most
 * a few MiB, the rest comes with the next.
 */
import { liveEventsFile, readLiveEvents } from '../../reports/live-events.js';
import { LiveFormatter } from '../live-formatter.js';

export const MAX_CONSOLE_LINES = 20_000;
const MAX_LINE_CHARS = 2000;
const READ_BYTES = 1024 * 1024;
const READS_PER_TAKE = 4;

export class JobConsoleTail {
  private offset = 0;
  private partial = '';
  private kept = 0;
  private truncated = false;
  private readonly formatter = new LiveFormatter();
  private readonly file: string;

  constructor(outDir: string, private readonly maxLines = MAX_CONSOLE_LINES) {
    this.file = liveEventsFile(outDir);
  }

  /** The lines completed since the last call; with `final`, the unterminated last one too. */
  take(final = false): string[] {
    let text = this.partial;
    for (let read = 0; read < READS_PER_TAKE; read++) {
      const next = readLiveEvents(this.file, this.offset, READ_BYTES);
      if (next.offset === this.offset) break;
      this.offset = next.offset;
      text += next.events.map((event) => this.formatter.format(event)).join('');
    }
    const lines = text.split('\n');
    this.partial = final ? '' : (lines.pop() ?? '');
    if (final && lines.at(-1) === '') lines.pop();
    const out: string[] = [];
    for (const line of lines) {
      if (this.kept >= this.maxLines) {
        if (!this.truncated) out.push(`[farm] console truncated: the job log keeps the first ${this.maxLines} lines of a job`);
        this.truncated = true;
        break;
      }
      this.kept++;
      out.push(line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}… (${line.length - MAX_LINE_CHARS} more characters)` : line);
    }
    // A partial line longer than any line we keep is not held forever.
    if (this.partial.length > MAX_LINE_CHARS * 4) this.partial = this.partial.slice(0, MAX_LINE_CHARS * 4);
    return out;
  }
}
