import type { Doorbell } from '../doorbell/doorbell.js';
import type { VirtioTransport } from '../virtio/transport.js';

export const RPMSG_ADDR_ANY = 0xffffffff;
/** The name service endpoint. */
export const RPMSG_NS_ADDR = 0x35;
/** First dynamic address (RPMSG_RESERVED_ADDRESSES). */
export const RPMSG_RESERVED_ADDRESSES = 1024;
export const RPMSG_HEADER_SIZE = 16;
export const RPMSG_DEFAULT_BUFFER_SIZE = 512;
/** Names are at most 32 bytes including the NUL. */
export const RPMSG_NAME_SIZE = 32;
export const RPMSG_NS_MESSAGE_SIZE = 40;
export const RPMSG_NS_CREATE = 0;
export const RPMSG_NS_DESTROY = 1;

export interface RpmsgMessage {
  readonly src: number;
  readonly dst: number;
  readonly data: Uint8Array;
}

export interface NameServiceAnnouncement {
  readonly name: string;
  readonly addr: number;
  readonly flags: typeof RPMSG_NS_CREATE | typeof RPMSG_NS_DESTROY;
}

export interface RpmsgEndpoint {
  readonly name: string;
  /** Local address. */
  readonly addr: number;
  /** Peer address; RPMSG_ADDR_ANY until bound (announcement, or first received message). */
  readonly dest: number;
  readonly destroyed: boolean;

  /** Waits up to `timeoutMs` (default 15000, as Linux) for a free buffer, then NoBufferError. */
  send(data: Uint8Array, options?: { dest?: number; timeoutMs?: number }): Promise<void>;
  /** Fails at once with NoBufferError when no buffer is free. */
  trySend(data: Uint8Array, dest?: number): void;
  /** Next queued message (endpoints created without `onMessage`); TimeoutError after `timeoutMs`. */
  receive(timeoutMs?: number): Promise<RpmsgMessage>;
  /** Queued messages as an async iterator; ends when the endpoint is destroyed. */
  [Symbol.asyncIterator](): AsyncIterator<RpmsgMessage>;
  /** Releases the address; an endpoint that was announced sends NS DESTROY. */
  destroy(): void;
}

export interface CreateEndpointOptions {
  name: string;
  /** Local address; the next free dynamic address (>= 1024) when omitted or ANY. */
  addr?: number;
  /** Peer address; when omitted the endpoint binds to the peer's announcement of `name`. */
  dest?: number;
  /** Send NS CREATE for this endpoint (now, or as soon as the device is ready). */
  announce?: boolean;
  /** Deliver messages to this callback instead of the endpoint's queue. */
  onMessage?: (message: RpmsgMessage, endpoint: RpmsgEndpoint) => void;
  /** Called when the peer sends NS DESTROY for this endpoint's channel (dest goes back to ANY). */
  onUnbind?: (endpoint: RpmsgEndpoint) => void;
}

/** One RPMsg bus over one virtio device, in either role. */
export interface RpmsgDevice {
  /** 'host' = virtio driver (owns the buffers), 'remote' = virtio device. */
  readonly role: 'host' | 'remote';
  readonly bufferSize: number;
  /** bufferSize - 16. */
  readonly maxPayload: number;

  createEndpoint(options: CreateEndpointOptions): RpmsgEndpoint;
  /** The endpoint at a local address, if any. */
  endpoint(addr: number): RpmsgEndpoint | undefined;
  /**
   * Called for each NS message from the peer, after pre-registered endpoints were bound. A
   * listener may create an endpoint for an announced name. Returns an unsubscribe function.
   */
  onNameService(listener: (announcement: NameServiceAnnouncement) => void): () => void;
  /**
   * Processes everything pending on both rings (received messages, returned buffers) and
   * returns how many ring entries it handled. Listening on the doorbell calls this; a busy
   * loop (benchmarks, remote-role workers) may call it directly.
   */
  poll(): number;
  /** Stops listening, fails pending sends and receives, releases every endpoint (no NS messages). */
  close(): void;
}

export interface RpmsgDeviceOptions {
  /**
   * The virtio device. The RPMsg device kicks the other side only through
   * `transport.notify` (open-amp: virtqueue_kick -> virtio notify -> remoteproc ops->notify;
   * for a remoteproc vdev that is `RemoteprocOps.kick`).
   */
  transport: VirtioTransport;
  /** Where the other side's kicks arrive: the device listens on it (or waits with waitSync). */
  doorbell: Doorbell;
  /** Buffer size in bytes including the 16-byte header; 512 by default. */
  bufferSize?: number;
  /**
   * Host role only: where the host's buffer pool lives (device address and size). Linux uses
   * min(2 * num, 512) buffers: half posted on vring 0 for the remote, half for sending.
   */
  bufferPool?: { da: number; size: number };
  /** Called with a protocol error found in a ring or header (the bad entry is dropped). */
  onProtocolError?: (error: Error) => void;
  /**
   * How many channels (distinct name and address pairs) the peer may announce and keep
   * (default RPMSG_MAX_CHANNELS); an announcement past it is a protocol error and is dropped.
   */
  maxChannels?: number;
}

/** Default cap on the channels a peer may announce on one device (Linux and open-amp have fixed tables too). */
export const RPMSG_MAX_CHANNELS = 1024;
