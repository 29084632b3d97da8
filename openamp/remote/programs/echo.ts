import { DEMO_CHANNEL, type RemoteProgram, type RemoteProgramContext } from '../program.js';
import { controlCommandOf } from '../control-words.js';

/**
 * open-amp's rpmsg-echo: returns every message unchanged on `rpmsg-openamp-demo-channel`. The
 * shutdown word or the host's NS DESTROY of the channel ends it (endpoint destroyed, which
 * announces NS DESTROY to the host).
 */
export const echoProgram: RemoteProgram = {
  name: 'echo',
  start(context: RemoteProgramContext): void {
    let received = 0;
    context.device.createEndpoint({
      name: DEMO_CHANNEL,
      announce: true,
      onMessage: (message, endpoint) => {
        if (context.takeFault(message)) return;
        if (controlCommandOf(message.data) === 'shutdown') {
          context.log(`echo: shutdown message after ${received} message(s)`);
          endpoint.destroy();
          context.finish('shutdown message');
          return;
        }
        received++;
        context.reply(endpoint, message.data, message.src);
      },
      onUnbind: (endpoint) => {
        context.log(`echo: host destroyed ${DEMO_CHANNEL} after ${received} message(s)`);
        endpoint.destroy();
        context.finish('host destroyed the channel');
      },
    });
    context.log(`echo: announced ${DEMO_CHANNEL}`);
  },
};
