import { ProtocolError, TimeoutError, hex } from '../../base/errors.js';
import { RPMSG_ADDR_ANY, type RpmsgEndpoint } from '../../openamp/rpmsg/api.js';
import type { HostEndpoint, Message } from '../target.js';
import { quoteRemote } from '../../base/remote-text.js';
import type { BootSession } from './boot-session.js';

export const DEFAULT_RECEIVE_TIMEOUT_MS = 5000;
/** Linux's wait for a free TX buffer. */
export const DEFAULT_SEND_TIMEOUT_MS = 15_000;

/** The endpoint has no peer yet: no announcement bound it and no address was given. */
export class UnboundEndpointError extends ProtocolError {}

/** A host endpoint of one boot: fails with the boot's error once the remote crashed or stopped. */
export class OpenAmpHostEndpoint implements HostEndpoint {
  constructor(
    private readonly endpoint: RpmsgEndpoint,
    private readonly session: BootSession,
  ) {}

  get name(): string {
    return this.endpoint.name;
  }

  get localAddr(): number {
    return this.endpoint.addr;
  }

  get remoteAddr(): number {
    return this.endpoint.dest;
  }

  async send(data: Uint8Array, options: { dest?: number; timeoutMs?: number } = {}): Promise<void> {
    this.session.assertUp();
    const dest = options.dest ?? this.endpoint.dest;
    if (dest === RPMSG_ADDR_ANY) {
      throw new UnboundEndpointError(
        `endpoint ${quoteRemote(this.name)} at ${hex(this.localAddr)} has no remote address yet (no announcement bound it); pass dest`,
      );
    }
    await this.session.race(this.endpoint.send(data, { dest, timeoutMs: options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS }));
  }

  async receive(options: { timeoutMs?: number } = {}): Promise<Message> {
    if (!this.session.up) {
      // What the remote sent before it went away was delivered: hand it out, then the verdict.
      // (The device closed its endpoints: receive(0) takes a queued message or fails at once.)
      const message = await this.endpoint.receive(0).catch(() => undefined);
      if (message) return { src: message.src, dst: message.dst, data: message.data };
      this.session.assertUp();
    }
    let message;
    try {
      message = await this.session.race(this.endpoint.receive(options.timeoutMs ?? DEFAULT_RECEIVE_TIMEOUT_MS));
    } catch (error) {
      throw error instanceof TimeoutError && this.session.up ? this.session.explainTimeout(error) : error;
    }
    return { src: message.src, dst: message.dst, data: message.data };
  }

  async close(): Promise<void> {
    // After a crash or stop the device is gone with every endpoint; nothing to send.
    if (this.endpoint.destroyed || !this.session.up) return;
    this.endpoint.destroy();
  }
}
