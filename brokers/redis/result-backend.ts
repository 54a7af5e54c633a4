import { Redis } from "ioredis";
import { InvalidOptions } from "../../lib/errors.ts";
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
  /**
   * Connections that blocking `result()` calls may hold at once. Past that, readers queue and
   * block in slices of at most 250 ms, taking turns, so a result is seen within about
   * (waiting readers / this) × 250 ms of its store. @defaultValue 32
   */
  maxBlockingConnections?: number;
}

/** Grace, past a read's own timeout, before its blocked connection is dropped (e.g. a BLMOVE re-sent after a reconnect). */
const OVERRUN_GRACE = 1_000;
/** Longest blocking call while other readers queue for a connection (ms). */
const SLICE_MS = 250;

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
    // Checked before any connection opens: a refused option leaves nothing behind.
    const max = options.maxBlockingConnections ?? 32;
    if (!Number.isInteger(max) || max < 1) throw new InvalidOptions(`maxBlockingConnections must be an integer >= 1, got ${JSON.stringify(max)}`);
    this.#owned = options.client === undefined;
    if (options.url !== undefined) addUrlSecret(options.url);
    this.#redis = options.client ?? new Redis(options.url ?? "redis://127.0.0.1:6379", { enableAutoPipelining: true });
    // Commands fail on their own while Redis is away; without a listener ioredis prints every reconnect error.
    if (this.#owned) this.#redis.on("error", () => {});
    this.#blocking = new BlockingPool(this.#redis, max, `dramats-results-wait:${this.namespace}`);
  }

  protected async storeRaw(key: string, value: string, ttl: number): Promise<void> {
    await this.#redis.multi().del(key).lpush(key, value).pexpire(key, ttl).exec();
  }

  protected async readRaw(key: string, timeout: number): Promise<string | undefined> {
    const now = await this.#redis.lindex(key, 0);
    if (now !== null || timeout <= 0) return now ?? undefined;
    const deadline = Date.now() + timeout;
    for (;;) {
      const moved = await this.#blocking.with((connection) => this.#block(connection, key, this.#blocking.slice(Math.max(deadline - Date.now(), 1), SLICE_MS)));
      if (moved !== null) return moved;
      if (Date.now() >= deadline) return (await this.#redis.lindex(key, 0)) ?? undefined;
    }
  }

  /** One BLMOVE key key of at most `ms`; null when it timed out (or overran and its connection was dropped). */
  async #block(connection: Redis, key: string, ms: number): Promise<string | null> {
    // BLMOVE's timeout is in seconds (a decimal); it returns null when it runs out.
    const seconds = (Math.max(ms, 1) / 1000).toFixed(3);
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<null>((resolve) => {
      timer = setTimeout(() => {
        this.#blocking.drop(connection);
        resolve(null);
      }, ms + OVERRUN_GRACE);
    });
    try {
      return await Promise.race([connection.blmove(key, key, "LEFT", "LEFT", seconds), overrun]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connections this backend opened (a `client` passed in stays open). Idempotent. */
  async close(): Promise<void> {
    this.#blocking.close();
    if (this.#owned) this.#redis.disconnect();
  }
}
