import type { RpmsgEndpoint, RpmsgMessage } from '../../rpmsg/api.js';
import { controlCommandOf } from '../control-words.js';
import { DEMO_CHANNEL, type RemoteProgramContext, type RemoteProgramName } from '../program.js';

export interface DemoChannelService {
  readonly program: RemoteProgramName;
  /** What the log calls the replies: "message(s)", "product(s)". */
  readonly replies: string;
  /** The reply to a request, or undefined to drop it (after logging why). */
  answer(message: RpmsgMessage, endpoint: RpmsgEndpoint): Uint8Array | undefined;
}

/**
 * What open-amp's echo and matrix-multiply demos share: one announced endpoint on
 * DEMO_CHANNEL that answers each request to its sender. The shutdown word or the host's NS
 * DESTROY of the channel ends the program (endpoint destroyed, which announces NS DESTROY to
 * the host); control words for faults are the runtime's.
 */
export function serveDemoChannel(context: RemoteProgramContext, service: DemoChannelService): void {
  const { program, replies } = service;
  let answered = 0;
  context.device.createEndpoint({
    name: DEMO_CHANNEL,
    announce: true,
    onMessage: (message, endpoint) => {
      if (context.takeFault(message)) return;
      if (controlCommandOf(message.data) === 'shutdown') {
        context.log(`${program}: shutdown message after ${answered} ${replies}`);
        endpoint.destroy();
        context.finish('shutdown message');
        return;
      }
      const reply = service.answer(message, endpoint);
      if (reply === undefined) return;
      answered++;
      context.reply(endpoint, reply, message.src);
    },
    onUnbind: (endpoint) => {
      context.log(`${program}: host destroyed ${DEMO_CHANNEL} after ${answered} ${replies}`);
      endpoint.destroy();
      context.finish('host destroyed the channel');
    },
  });
  context.log(`${program}: announced ${DEMO_CHANNEL}`);
}
