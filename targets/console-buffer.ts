import { escapeRemoteText } from '../base/remote-text.js';

/** How much console text a target keeps between two takes; the newest text wins. */
export const CONSOLE_LIMIT = 1_000_000;

/**
 * A target's console capture: every chunk goes on to the live log at once and is kept until
 * the next `take` (the fixtures attach it to the test that just ran). A remote that floods
 * its UART between two tests costs at most about twice `limit` characters.
 */
export class ConsoleBuffer {
  private text = '';

  constructor(
    /** Where each chunk goes live, with the name of the stream it came from ("uart0"). */
    private readonly forward: (stream: string, text: string) => void,
    readonly limit = CONSOLE_LIMIT,
  ) {}

  /** `text` comes from the remote: it is escaped (escapeRemoteText) before it is kept or forwarded. */
  write(stream: string, raw: string): void {
    const text = escapeRemoteText(raw);
    this.text += text;
    // Trimmed only when twice over, so a full buffer is not copied for every line.
    if (this.text.length > 2 * this.limit) this.text = this.text.slice(-this.limit);
    this.forward(stream, text);
  }

  /** The text written since the last call: its newest `limit` characters. */
  take(): string {
    const text = this.text.slice(-this.limit);
    this.text = '';
    return text;
  }
}
