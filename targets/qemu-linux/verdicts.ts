import { escapeRemoteText, quoteRemote } from '../../base/remote-text.js';
import type { Verdict } from './qemu-linux-params.js';

/** What one expected line came to in a command's output. */
export interface VerdictResult {
  readonly pattern: string;
  readonly ok: boolean;
  /** The matching lines, or why it failed, for the report. */
  readonly detail: string;
}

/** Lines of `output` matching `pattern` (CR stripped: a console's CRLF). */
function matchingLines(output: string, pattern: RegExp): { line: string; groups: string[] }[] {
  const found: { line: string; groups: string[] }[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const match = pattern.exec(line);
    if (match) found.push({ line, groups: match.slice(1).map((group) => group ?? '') });
  }
  return found;
}

/** True once every verdict's pattern matches some line (the console steps wait for this). */
export function allVerdictLinesSeen(output: string, expect: readonly Verdict[]): boolean {
  return expect.every((verdict) => matchingLines(output, new RegExp(verdict.pattern)).length > 0);
}

/**
 * Each verdict against the output: its pattern must match a line, and with `equals` the first
 * group of every matching line must be that value ("Test Results: Error count = (\d+)", "0").
 * The output is the remote's: details quote it escaped (base/remote-text.ts).
 */
export function checkVerdicts(output: string, expect: readonly Verdict[]): VerdictResult[] {
  return expect.map((verdict) => {
    const matches = matchingLines(output, new RegExp(verdict.pattern));
    if (matches.length === 0) return { pattern: verdict.pattern, ok: false, detail: `no line matches /${verdict.pattern}/` };
    if (verdict.equals !== undefined) {
      const wrong = matches.find((match) => match.groups[0] !== verdict.equals);
      if (wrong) return { pattern: verdict.pattern, ok: false, detail: `${quoteRemote(wrong.line)}: got ${quoteRemote(wrong.groups[0] ?? '')}, expected ${JSON.stringify(verdict.equals)}` };
    }
    return { pattern: verdict.pattern, ok: true, detail: escapeRemoteText(matches.map((match) => match.line.trim()).join(' | ')) };
  });
}
