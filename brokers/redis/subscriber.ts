import type { Redis } from "ioredis";

/**
 * One pub/sub connection shared by every waiter of a backend: waiting costs a channel
 * subscription, not a connection, and nothing polls.
 */
export class Subscriber {
  readonly #source: Redis;
  #connection: Redis | undefined;
  readonly #listeners = new Map<string, Set<(message: string) => void>>();

  constructor(source: Redis) {
    this.#source = source;
  }

  #ensure(): Redis {
    if (this.#connection === undefined) {
      const connection = this.#source.duplicate({ enableAutoPipelining: false });
      connection.on("error", () => {}); // reconnects on its own; subscriptions are restored by ioredis
      connection.on("message", (channel: string, message: string) => {
        for (const listener of this.#listeners.get(channel) ?? []) listener(message);
      });
      this.#connection = connection;
    }
    return this.#connection;
  }

  /** Listens on `channel`; resolves once the subscription is active. Returns the unsubscribe function. */
  async listen(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    const connection = this.#ensure();
    let listeners = this.#listeners.get(channel);
    if (listeners === undefined) {
      listeners = new Set();
      this.#listeners.set(channel, listeners);
      await connection.subscribe(channel);
    }
    listeners.add(listener);
    return async () => {
      const set = this.#listeners.get(channel);
      if (!set) return;
      set.delete(listener);
      if (set.size === 0) {
        this.#listeners.delete(channel);
        await connection.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  close(): void {
    this.#connection?.disconnect();
    this.#connection = undefined;
    this.#listeners.clear();
  }
}
