import { Redis } from "ioredis";
import { addUrlSecret } from "../../lib/redact.ts";
import { ResultBackend } from "../../lib/results/backend.ts";
import { BlockingPool } from "./blocking-pool.ts";

/** Options of {@link RedisResultBackend}. */
export interface RedisResultBackendOptions {
  /** An ioredis client to use (not closed by `close()`), or a URL to connect to. */
  client?: Redis;
  /** Redis URL, used when no `client` is given. @defaultValue `redis://127.0.0.1:6379` */
  url?: string;
  /** @defaultValue "dramatiq-results" (Dramatiq's) */
  namespace?: string;
}

/** Grace, past a read's own timeout, before its blocked connection is dropped (e.g. a BLMOVE re-sent after a reconnect). */
const OVERRUN_GRACE = 1_000;

/**
 * Results in Redis, written and read as Dramatiq's RedisBackend does
 * (dramatiq/results/backends/redis.py:105-110 `_store`: DEL, LPUSH, PEXPIRE of a one-element
 * list; :91-99 `get_result`: LINDEX 0, or BRPOPLPUSH key key to wait), so each side reads what
 * the other stores. A waiting reader blocks on the list itself (BLMOVE key key, which leaves the
 * list as it was): any LPUSH wakes it, Python's or ours, and nothing polls. Each reader waiting
 * at that moment holds a connection of its own (a blocked connection serves nothing else).
 */
export class RedisResultBackend extends ResultBackend {
  readonly #redis: Redis;
  readonly #owned: boolean;
  readonly #blocking: BlockingPool;

  constructor(options: RedisResultBackendOptions = {}) {
    super(options.namespace === undefined ? {} : { namespace: options.namespace });
    this.#owned = options.client === undefined;
    if (options.url !== undefined) addUrlSecret(options.url);
    this.#redis = options.client ?? new Redis(options.url ?? "redis://127.0.0.1:6379", { enableAutoPipelining: true });
    // Commands fail on their own while Redis is away; without a listener ioredis prints every reconnect error.
    if (this.#owned) this.#redis.on("error", () => {});
    this.#blocking = new BlockingPool(this.#redis);
  }

  protected async storeRaw(key: string, value: string, ttl: number): Promise<void> {
    await this.#redis.multi().del(key).lpush(key, value).pexpire(key, ttl).exec();
  }

  protected async readRaw(key: string, timeout: number): Promise<string | undefined> {
    const now = await this.#redis.lindex(key, 0);
    if (now !== null || timeout <= 0) return now ?? undefined;
    // BLMOVE's timeout is in seconds (a decimal); it returns null when it runs out.
    const seconds = (Math.max(timeout, 1) / 1000).toFixed(3);
    const moved = await this.#blocking.with(async (connection) => {
      let timer: NodeJS.Timeout | undefined;
      const overrun = new Promise<null>((resolve) => {
        timer = setTimeout(() => {
          this.#blocking.drop(connection);
          resolve(null);
        }, timeout + OVERRUN_GRACE);
      });
      try {
        return await Promise.race([connection.blmove(key, key, "LEFT", "LEFT", seconds), overrun]);
      } finally {
        clearTimeout(timer);
      }
    });
    return moved ?? (await this.#redis.lindex(key, 0)) ?? undefined;
  }

  /** Closes the connections this backend opened (a `client` passed in stays open). Idempotent. */
  async close(): Promise<void> {
    this.#blocking.close();
    if (this.#owned) this.#redis.disconnect();
  }
}
