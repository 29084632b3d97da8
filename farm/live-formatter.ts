/**
 * A run's live events (reports/live-events.ts) as the lines `farm up` prints: console text
 * tagged "[target stream] ", the farm's and the tests' lines "[target] ...". `farm serve` shows
 * them; a farm agent streams them into the farm database's job log.
 */
import { ConsolePrefixer } from './console-prefixer.js';

/** Turns live events into the lines `farm up` prints: console tagged "[target stream] ", the farm's lines "[target] ...". */
export class LiveFormatter {
  private readonly consoles = new Map<string, ConsolePrefixer>();

  format(event: { target: string; stream: string; text: string }): string {
    const prefixer = this.prefixer(event.target);
    if (event.stream === 'farm' || event.stream === 'test') {
      const tag = event.target ? `[${event.target}] ` : '[farm] ';
      const lineBreak = [...this.consoles.values()].map((console) => console.lineBreak()).join('').slice(0, 1);
      return `${lineBreak}${event.text.split('\n').map((line) => `${tag}${event.stream === 'test' ? '== ' : ''}${line}`).join('\n')}\n`;
    }
    return prefixer.format(event.stream, event.text);
  }

  private prefixer(target: string): ConsolePrefixer {
    let prefixer = this.consoles.get(target);
    if (!prefixer) {
      prefixer = new ConsolePrefixer((stream) => `[${target} ${stream}] `);
      this.consoles.set(target, prefixer);
    }
    return prefixer;
  }
}
