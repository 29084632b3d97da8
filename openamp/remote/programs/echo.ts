import type { RemoteProgram, RemoteProgramContext } from '../program.js';
import { serveDemoChannel } from './demo-channel.js';

/** open-amp's rpmsg-echo: returns every message unchanged on `rpmsg-openamp-demo-channel`. */
export const echoProgram: RemoteProgram = {
  name: 'echo',
  start(context: RemoteProgramContext): void {
    serveDemoChannel(context, { program: 'echo', replies: 'message(s)', answer: (message) => message.data });
  },
};
