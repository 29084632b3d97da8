import { RPMSG_NS_DESTROY, type NameServiceAnnouncement } from '../../openamp/rpmsg/api.js';
import type { Channel, NameServiceEvent } from '../target.js';

interface ChannelWaiter {
  name: string;
  resolve(channel: Channel): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The remote's announced channels for one boot of the remote, in announcement order, with
 * waiters for a name and NS listeners. A DESTROY removes the channel with that name and
 * address. `fail` rejects every waiter (the remote crashed or was stopped).
 *
 * Every announcement costs O(1) (maps by name+address and by name; waiters by name): a remote
 * that floods the name service must not make the host quadratic. How many channels there can
 * be is bounded by the RPMsg device (maxChannels), which refuses the rest as a protocol error.
 */
export class ChannelRegistry {
  /** "addr:name" -> channel, in announcement order. */
  private readonly byKey = new Map<string, Channel>();
  /** The first-announced live channel of each name (what `find` returns). */
  private readonly byName = new Map<string, Channel>();
  private readonly waiters = new Map<string, Set<ChannelWaiter>>();
  private readonly listeners = new Set<(event: NameServiceEvent) => void>();

  channels(): readonly Channel[] {
    return [...this.byKey.values()];
  }

  get size(): number {
    return this.byKey.size;
  }

  find(name: string): Channel | undefined {
    return this.byName.get(name);
  }

  onNameService(listener: (event: NameServiceEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Feeds one NS message from the remote. */
  announce(announcement: NameServiceAnnouncement): void {
    const kind = announcement.flags === RPMSG_NS_DESTROY ? 'destroy' : 'create';
    const name = announcement.name;
    const key = `${announcement.addr}:${name}`;
    if (kind === 'create') {
      let channel = this.byKey.get(key);
      if (!channel) {
        channel = { name, remoteAddr: announcement.addr };
        this.byKey.set(key, channel);
        if (!this.byName.has(name)) this.byName.set(name, channel);
      }
      const waiting = this.waiters.get(name);
      if (waiting) {
        this.waiters.delete(name);
        for (const waiter of waiting) {
          clearTimeout(waiter.timer);
          waiter.resolve(channel);
        }
      }
    } else {
      const channel = this.byKey.get(key);
      if (channel) {
        this.byKey.delete(key);
        if (this.byName.get(name) === channel) {
          this.byName.delete(name);
          // Rare (a destroy of a name announced twice); bounded by the device's channel cap.
          for (const other of this.byKey.values()) {
            if (other.name === name) {
              this.byName.set(name, other);
              break;
            }
          }
        }
      }
    }
    if (this.listeners.size === 0) return;
    const event: NameServiceEvent = { name, addr: announcement.addr, kind };
    for (const listener of [...this.listeners]) listener(event);
  }

  /** Resolves with the channel once announced; `onTimeout` makes the error after `timeoutMs`. */
  waitFor(name: string, timeoutMs: number, onTimeout: () => Error): Promise<Channel> {
    const present = this.find(name);
    if (present) return Promise.resolve(present);
    return new Promise<Channel>((resolve, reject) => {
      const waiter: ChannelWaiter = {
        name,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.forget(waiter);
          reject(onTimeout());
        }, timeoutMs),
      };
      let waiting = this.waiters.get(name);
      if (!waiting) this.waiters.set(name, (waiting = new Set()));
      waiting.add(waiter);
    });
  }

  /** Rejects every waiter with `error` and forgets the channels (the boot is over). */
  fail(error: Error): void {
    const waiting = [...this.waiters.values()];
    this.waiters.clear();
    for (const set of waiting) {
      for (const waiter of set) {
        clearTimeout(waiter.timer);
        waiter.reject(error);
      }
    }
    this.byKey.clear();
    this.byName.clear();
  }

  private forget(waiter: ChannelWaiter): void {
    clearTimeout(waiter.timer);
    const waiting = this.waiters.get(waiter.name);
    if (!waiting) return;
    waiting.delete(waiter);
    if (waiting.size === 0) this.waiters.delete(waiter.name);
  }
}
