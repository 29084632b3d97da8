import { RPMSG_NS_CREATE, RPMSG_NS_DESTROY, type RpmsgEndpoint } from '../../rpmsg/api.js';
import type { RemoteProgram, RemoteProgramContext } from '../program.js';

export const CLIENT_SAMPLE_CHANNEL = 'rpmsg-client-sample';
export const TTY_CHANNEL = 'rpmsg-tty';
export const RAW_CHANNEL = 'rpmsg-raw';
export const CLIENT_SAMPLE_ADDR = 0x400;
export const TTY_ADDR = 0x401;
export const RAW_ADDR = 0x402;
/** The endpoint the remote owns without announcing it. */
export const FIXED_ADDR = 0x1;
/** rpmsg_client_sample's count: the remote destroys its endpoint after this many messages. */
export const CLIENT_SAMPLE_MESSAGES = 100;
/** What the remote sends first on a tty channel the host announced. */
export const BOUND_MESSAGE = 'bound';

const encoder = new TextEncoder();

function addr4(addr: number): string {
  return '0x' + addr.toString(16).padStart(4, '0');
}

/** "TTY 0x0401: " for the tty endpoint at 0x401 (the Zephyr sample's prefix). */
export function ttyPrefix(addr: number): string {
  return `TTY ${addr4(addr)}: `;
}

/** "from ept 0x0402: " for the raw endpoint at 0x402, "from ept 0x0001: " for the fixed one. */
export function eptPrefix(addr: number): string {
  return `from ept ${addr4(addr)}: `;
}

function prefixed(prefix: string, data: Uint8Array): Uint8Array {
  const head = encoder.encode(prefix);
  const out = new Uint8Array(head.length + data.length);
  out.set(head, 0);
  out.set(data, head.length);
  return out;
}

/**
 * ST's multi-services demo as the Zephyr openamp_rsc_table sample runs it: rpmsg-client-sample
 * (echo, then NS DESTROY after 100 messages), rpmsg-tty and rpmsg-raw (prefixed replies), the
 * unannounced fixed endpoint 0x1, and a fresh tty endpoint for each rpmsg-tty channel the host
 * announces. Replies go to the sender's address. Prefixed replies longer than a buffer are
 * truncated by the device like open-amp does (the prefix always fits).
 */
export const multiServicesProgram: RemoteProgram = {
  name: 'multi-services',
  start(context: RemoteProgramContext): void {
    const { device } = context;
    const maxPayload = device.maxPayload;
    const fit = (data: Uint8Array): Uint8Array => (data.length > maxPayload ? data.subarray(0, maxPayload) : data);

    let samples = 0;
    device.createEndpoint({
      name: CLIENT_SAMPLE_CHANNEL,
      addr: CLIENT_SAMPLE_ADDR,
      announce: true,
      onMessage: (message, endpoint) => {
        if (context.takeFault(message)) return;
        samples++;
        context.reply(endpoint, message.data, message.src);
        if (samples === CLIENT_SAMPLE_MESSAGES) {
          context.log(`${CLIENT_SAMPLE_CHANNEL}: ${samples} messages, destroying ${addr4(endpoint.addr)}`);
          endpoint.destroy();
        }
      },
    });

    const ttyHandler = (message: { src: number; data: Uint8Array }, endpoint: RpmsgEndpoint): void => {
      context.reply(endpoint, fit(prefixed(ttyPrefix(endpoint.addr), message.data)), message.src);
    };

    device.createEndpoint({
      name: TTY_CHANNEL,
      addr: TTY_ADDR,
      announce: true,
      onMessage: (message, endpoint) => {
        if (context.takeFault(message)) return;
        ttyHandler(message, endpoint);
      },
    });

    for (const [name, addr, announce] of [
      [RAW_CHANNEL, RAW_ADDR, true],
      [`fixed-${addr4(FIXED_ADDR)}`, FIXED_ADDR, false],
    ] as const) {
      device.createEndpoint({
        name,
        addr,
        announce,
        onMessage: (message, endpoint) => {
          if (context.takeFault(message)) return;
          context.reply(endpoint, fit(prefixed(eptPrefix(endpoint.addr), message.data)), message.src);
        },
      });
    }
    context.log(`multi-services: announced ${CLIENT_SAMPLE_CHANNEL}, ${TTY_CHANNEL}, ${RAW_CHANNEL}; fixed endpoint ${addr4(FIXED_ADDR)}`);

    // Host-announced tty channels, by the host endpoint's address.
    const dynamicTtys = new Map<number, RpmsgEndpoint>();
    const release = (hostAddr: number, why: string): void => {
      const endpoint = dynamicTtys.get(hostAddr);
      if (!endpoint) return;
      dynamicTtys.delete(hostAddr);
      context.log(`${TTY_CHANNEL}: ${why}: released ${addr4(endpoint.addr)} (host ${addr4(hostAddr)})`);
      if (!endpoint.destroyed) endpoint.destroy();
    };
    device.onNameService((announcement) => {
      if (announcement.name !== TTY_CHANNEL) return;
      if (announcement.flags === RPMSG_NS_DESTROY) {
        release(announcement.addr, 'host destroyed the channel');
        return;
      }
      if (announcement.flags !== RPMSG_NS_CREATE || dynamicTtys.has(announcement.addr)) return;
      const hostAddr = announcement.addr;
      const endpoint = device.createEndpoint({
        name: TTY_CHANNEL,
        dest: hostAddr,
        onMessage: (message, ept) => {
          if (context.takeFault(message)) return;
          ttyHandler(message, ept);
        },
        onUnbind: () => release(hostAddr, 'unbound'),
      });
      dynamicTtys.set(hostAddr, endpoint);
      context.log(`${TTY_CHANNEL}: host announced ${addr4(hostAddr)}, bound ${addr4(endpoint.addr)}`);
      context.reply(endpoint, encoder.encode(BOUND_MESSAGE), hostAddr);
    });
  },
};
