import { Redis } from "ioredis";
import { addUrlSecret } from "../../lib/redact.ts";
import { ResultBackend } from "../../lib/results/backend.ts";
import { Subscriber } from "./subscriber.ts";

/** Options of {@link RedisResultBackend}. */
export interface RedisResultBackendOptions {
  /** An ioredis client to use (not closed by `close()`), or a URL to connect to. */
  client?: Redis;
  /** Redis URL, used when no `client` is given. @defaultValue `redis://127.0.0.1:6379` */
  url?: string;
  /** @defaultValue "dramatiq-results" (Dramatiq's) */
  namespace?: string;
}

/**
 * Results in Redis, laid out as Dramatiq's RedisBackend lays them out (a one-element list per
 * result, read with LINDEX 0), so Python code reads what dramats stores and the reverse.
 * Waiting readers are woken by a publish on the result's key instead of polling.
 */
export class RedisResultBackend extends ResultBackend {
  readonly #redis: Redis;
  readonly #owned: boolean;
  readonly #subscriber: Subscriber;

  constructor(options: RedisResultBackendOptions = {}) {
    super(options.namespace === undefined ? {} : { namespace: options.namespace });
    this.#owned = options.client === undefined;
    if (options.url !== undefined) addUrlSecret(options.url);
    this.#redis = options.client ?? new Redis(options.url ?? "redis://127.0.0.1:6379", { enableAutoPipelining: true });
    // Commands fail on their own while Redis is away; without a listener ioredis prints every reconnect error.
    if (this.#owned) this.#redis.on("error", () => {});
    this.#subscriber = new Subscriber(this.#redis);
  }

  #channel(key: string): string {
    return `${this.namespace}:stored:${key}`;
  }

  protected async storeRaw(key: string, value: string, ttl: number): Promise<void> {
    await this.#redis.multi().del(key).lpush(key, value).pexpire(key, ttl).publish(this.#channel(key), "1").exec();
  }

  protected async readRaw(key: string, timeout: number): Promise<string | undefined> {
    const now = await this.#redis.lindex(key, 0);
    if (now !== null || timeout <= 0) return now ?? undefined;
    // Subscribe first, then read again: a result stored in between is not missed.
    let wake!: () => void;
    const stored = new Promise<void>((resolve) => (wake = resolve));
    const unsubscribe = await this.#subscriber.listen(this.#channel(key), () => wake());
    try {
      const again = await this.#redis.lindex(key, 0);
      if (again !== null) return again;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stored, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout)))]);
      clearTimeout(timer);
      return (await this.#redis.lindex(key, 0)) ?? undefined;
    } finally {
      await unsubscribe();
    }
  }

  /** Closes the connections this backend opened (a `client` passed in stays open). Idempotent. */
  async close(): Promise<void> {
    this.#subscriber.close();
    if (this.#owned) this.#redis.disconnect();
  }
}
