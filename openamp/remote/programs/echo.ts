import type { RpmsgMessage } from '../../rpmsg/api.js';
import { FLOOD_SINK_WORD, FLOOD_SOURCE_WORD, floodPayload, floodPayloadOk, floodSinkReport } from '../control-words.js';
import type { RemoteProgram, RemoteProgramContext } from '../program.js';
import { serveDemoChannel } from './demo-channel.js';

/** The largest flood message: one 512-byte buffer less the RPMsg header. */
const MAX_FLOOD_SIZE = 496;

/**
 * open-amp's rpmsg-echo: returns every message unchanged on `rpmsg-openamp-demo-channel`; plus
 * the farm's flood words (control-words.ts), as the C reference echo does.
 */
export const echoProgram: RemoteProgram = {
  name: 'echo',
  start(context: RemoteProgramContext): void {
    let sink: { left: number; next: number; bad: number } | undefined;
    const word = (data: Uint8Array, at: number): number => new DataView(data.buffer, data.byteOffset + at, 4).getUint32(0, true);
    serveDemoChannel(context, {
      program: 'echo',
      replies: 'message(s)',
      answer: (message: RpmsgMessage, endpoint) => {
        const data = message.data;
        if (sink) {
          if (!floodPayloadOk(data, sink.next)) sink.bad++;
          sink.next++;
          if (--sink.left > 0) return undefined;
          const done = sink;
          sink = undefined;
          context.log(`echo: flood sink took ${done.next} message(s), ${done.bad} bad`);
          return floodSinkReport(done.next, done.bad);
        }
        if (data.length >= 8 && word(data, 0) === FLOOD_SINK_WORD) {
          const count = word(data, 4);
          if (count === 0) return floodSinkReport(0, 0);
          sink = { left: count, next: 0, bad: 0 };
          return undefined;
        }
        if (data.length >= 12 && word(data, 0) === FLOOD_SOURCE_WORD) {
          const count = word(data, 4);
          const size = Math.min(MAX_FLOOD_SIZE, Math.max(4, word(data, 8)));
          let seq = 0;
          context.replyStream(endpoint, message.src, count, () => floodPayload(seq++, size));
          return undefined;
        }
        return data;
      },
    });
  },
};
