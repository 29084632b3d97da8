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
 */
export class ChannelRegistry {
  private readonly list: Channel[] = [];
  private readonly waiters = new Set<ChannelWaiter>();
  private readonly listeners = new Set<(event: NameServiceEvent) => void>();

  channels(): readonly Channel[] {
    return [...this.list];
  }

  find(name: string): Channel | undefined {
    return this.list.find((channel) => channel.name === name);
  }

  onNameService(listener: (event: NameServiceEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Feeds one NS message from the remote. */
  announce(announcement: NameServiceAnnouncement): void {
    const kind = announcement.flags === RPMSG_NS_DESTROY ? 'destroy' : 'create';
    const channel: Channel = { name: announcement.name, remoteAddr: announcement.addr };
    if (kind === 'create') {
      const known = this.list.some((c) => c.name === channel.name && c.remoteAddr === channel.remoteAddr);
      if (!known) this.list.push(channel);
      for (const waiter of [...this.waiters]) {
        if (waiter.name !== channel.name) continue;
        this.settle(waiter);
        waiter.resolve(channel);
      }
    } else {
      const index = this.list.findIndex((c) => c.name === channel.name && c.remoteAddr === channel.remoteAddr);
      if (index >= 0) this.list.splice(index, 1);
    }
    const event: NameServiceEvent = { name: channel.name, addr: channel.remoteAddr, kind };
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
          this.settle(waiter);
          reject(onTimeout());
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Rejects every waiter with `error` and forgets the channels (the boot is over). */
  fail(error: Error): void {
    for (const waiter of [...this.waiters]) {
      this.settle(waiter);
      waiter.reject(error);
    }
    this.list.length = 0;
  }

  private settle(waiter: ChannelWaiter): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
  }
}
