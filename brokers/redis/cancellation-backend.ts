import { Redis } from "ioredis";
import { addUrlSecret } from "../../lib/redact.ts";
import type { CancellationBackend } from "../../lib/cancellation/backend.ts";
import { Subscriber } from "./subscriber.ts";

/** Options of {@link RedisCancellationBackend}. */
export interface RedisCancellationBackendOptions {
  /** An ioredis client to use (not closed by `close()`), or a URL to connect to. */
  client?: Redis;
  /** Redis URL, used when no `client` is given. @defaultValue `redis://127.0.0.1:6379` */
  url?: string;
  /** Key prefix. @defaultValue "dramats-cancel" */
  prefix?: string;
}

/** Cancellations in a Redis sorted set (id → expiry), announced on a pub/sub channel. */
export class RedisCancellationBackend implements CancellationBackend {
  readonly #redis: Redis;
  readonly #owned: boolean;
  readonly #subscriber: Subscriber;
  readonly #key: string;
  readonly #channel: string;

  constructor(options: RedisCancellationBackendOptions = {}) {
    const prefix = options.prefix ?? "dramats-cancel";
    this.#key = `${prefix}:ids`;
    this.#channel = `${prefix}:events`;
    this.#owned = options.client === undefined;
    if (options.url !== undefined) addUrlSecret(options.url);
    this.#redis = options.client ?? new Redis(options.url ?? "redis://127.0.0.1:6379", { enableAutoPipelining: true });
    // Commands fail on their own while Redis is away; without a listener ioredis prints every reconnect error.
    if (this.#owned) this.#redis.on("error", () => {});
    this.#subscriber = new Subscriber(this.#redis);
  }

  async cancel(messageId: string, ttl: number): Promise<void> {
    const expiresAt = Date.now() + ttl;
    await this.#redis
      .multi()
      .zadd(this.#key, expiresAt, messageId)
      .zremrangebyscore(this.#key, "-inf", Date.now())
      .publish(this.#channel, `${messageId} ${expiresAt}`)
      .exec();
  }

  async list(): Promise<Map<string, number>> {
    const flat = await this.#redis.zrangebyscore(this.#key, Date.now(), "+inf", "WITHSCORES");
    const out = new Map<string, number>();
    for (let i = 0; i < flat.length; i += 2) out.set(flat[i]!, Number(flat[i + 1]));
    return out;
  }

  subscribe(listener: (messageId: string, expiresAt: number) => void): Promise<() => Promise<void>> {
    return this.#subscriber.listen(this.#channel, (event) => {
      const [id, expiresAt] = event.split(" ");
      if (id) listener(id, Number(expiresAt));
    });
  }

  async close(): Promise<void> {
    this.#subscriber.close();
    if (this.#owned) this.#redis.disconnect();
  }
}
