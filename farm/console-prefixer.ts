/**
 * Tags console output with its source ("[sim uart0] ") at the start of each line, however the
 * bytes were chunked: a UART read can end mid-line, and the next chunk continues that line
 * rather than starting a new tagged one. Nothing is held back, so a prompt without a newline
 * still shows at once.
 */
export class ConsolePrefixer {
  private readonly atLineStart = new Map<string, boolean>();

  constructor(private readonly tag: (stream: string) => string) {}

  format(stream: string, text: string): string {
    if (text === '') return '';
    const prefix = this.tag(stream);
    const continuing = this.atLineStart.get(stream) === false;
    this.atLineStart.set(stream, text.endsWith('\n'));
    // Tag every line that starts inside this chunk and is not empty; the first one only if it
    // is a new line (an empty one stays untagged, as it would inside a chunk).
    const tagged = text.replace(/\n(?=.)/g, `\n${prefix}`);
    return continuing || !/^./.test(text) ? tagged : prefix + tagged;
  }

  /**
   * What to print before a line of our own (a progress or NS line) so it does not land in the
   * middle of a console line: a newline when some stream is mid-line. That stream's next chunk
   * then starts a fresh, tagged line.
   */
  lineBreak(): string {
    let midLine = false;
    for (const [stream, atStart] of this.atLineStart) {
      if (!atStart) {
        midLine = true;
        this.atLineStart.set(stream, true);
      }
    }
    return midLine ? '\n' : '';
  }
}
