/**
 * A doorbell tells the other core "look at the rings". It carries no data: the notify id is
 * informative and most transports drop it (open-amp's Linux machine sends one byte, the
 * remoteproc mailbox drivers a queue id).
 */
export interface Doorbell {
  /** "atomics", "unix-socket", "poll", ... (for logs and benchmark labels). */
  readonly kind: string;

  /** Ring the other side. Never blocks. */
  notify(notifyId: number): void;

  /**
   * Calls `handler` from the event loop each time the other side rings (a polling doorbell
   * calls it on every tick). One handler at a time; returns a function that stops listening.
   */
  listen(handler: (notifyId: number) => void): () => void;

  /**
   * Blocks the calling thread until the other side rings or `timeoutMs` passes; true when it
   * rang. For remote-role loops running in a worker thread. Transports that cannot block
   * synchronously leave it undefined.
   */
  waitSync?(timeoutMs: number): boolean;

  /**
   * Transports whose other end can go away (a socket) call `listener` once when it does, after
   * they called the listen() handler one last time: kicks already sent but lost with the
   * connection must not lose the messages they announced. Returns a function that unsubscribes.
   */
  onPeerGone?(listener: (reason: Error) => void): () => void;

  close(): void;
}

/** What handlers receive from transports that do not carry a notify id (socket, polling). */
export const NOTIFY_ID_UNKNOWN = 0xffffffff;
