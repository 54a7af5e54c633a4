import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { addUrlSecret } from "../../lib/redact.ts";
import type { RateLimiterBackend } from "../../lib/rate-limits/backend.ts";
import { readLua } from "./lua.ts";

type Call = (...args: (string | number)[]) => Promise<number>;

/** Options of {@link RedisRateLimiterBackend}. */
export interface RedisRateLimiterBackendOptions {
  /** An ioredis client to use (not closed by `close()`), or a URL to connect to. */
  client?: Redis;
  /** Redis URL, used when no `client` is given. @defaultValue `redis://127.0.0.1:6379` */
  url?: string;
  /** Key prefix. @defaultValue "dramats-limits" */
  prefix?: string;
  /**
   * Prefix of group barriers' keys. Dramatiq's RedisBackend uses none (a barrier is the group's
   * uuid itself), so keep the default wherever Python workers may run a chord's members.
   * @defaultValue ""
   */
  barrierPrefix?: string;
}

/**
 * Rate limits and group barriers in Redis. Each operation is one Lua script, so limits hold
 * across every process; expiries use Redis's clock, so hosts need not agree on the time.
 * Group barriers are Dramatiq's (a counter under the group's uuid, `barrier-arrive.lua`), so
 * Python and Node workers count a chord's members on the same barrier.
 */
export class RedisRateLimiterBackend implements RateLimiterBackend {
  /** Key prefix. @defaultValue "dramats-limits" */
  readonly prefix: string;
  /** Prefix of group barriers' keys ("" as in Dramatiq). */
  readonly barrierPrefix: string;
  readonly #redis: Redis;
  readonly #owned: boolean;
  readonly #slot: Call;
  readonly #window: Call;
  readonly #bucket: Call;
  readonly #arrive: Call;
  readonly #close: Call;

  constructor(options: RedisRateLimiterBackendOptions = {}) {
    this.prefix = options.prefix ?? "dramats-limits";
    this.barrierPrefix = options.barrierPrefix ?? "";
    this.#owned = options.client === undefined;
    if (options.url !== undefined) addUrlSecret(options.url);
    this.#redis = options.client ?? new Redis(options.url ?? "redis://127.0.0.1:6379", { enableAutoPipelining: true });
    // Commands fail on their own while Redis is away; without a listener ioredis prints every reconnect error.
    if (this.#owned) this.#redis.on("error", () => {});
    const define = (name: string, file: string, keys: number): Call => {
      this.#redis.defineCommand(name, { numberOfKeys: keys, lua: readLua(file) });
      const command = (this.#redis as unknown as Record<string, Call>)[name]!;
      return command.bind(this.#redis);
    };
    this.#slot = define("dramatsLimitSlotV1", "limit-slot", 1);
    this.#window = define("dramatsLimitWindowV1", "limit-window", 1);
    this.#bucket = define("dramatsLimitBucketV1", "limit-bucket", 1);
    this.#arrive = define("dramatsBarrierArriveV3", "barrier-arrive", 5);
    this.#close = define("dramatsBarrierCloseV2", "barrier-close", 4);
  }

  #key(kind: string, key: string): string {
    return `${this.prefix}:${kind}:${key}`;
  }

  async acquireSlot(key: string, holder: string, limit: number, ttl: number): Promise<boolean> {
    return (await this.#slot(this.#key("slots", key), holder, limit, ttl)) === 1;
  }

  async releaseSlot(key: string, holder: string): Promise<void> {
    await this.#redis.zrem(this.#key("slots", key), holder);
  }

  async hitWindow(key: string, limit: number, window: number): Promise<boolean> {
    return (await this.#window(this.#key("window", key), limit, window, randomUUID())) === 1;
  }

  async takeToken(key: string, capacity: number, period: number): Promise<boolean> {
    return (await this.#bucket(this.#key("bucket", key), capacity, period)) === 1;
  }

  /** Dramatiq's keys for barrier `id`, dramats' own state, and the layout before 0.x. */
  #barrierKeys(id: string): string[] {
    const key = this.barrierPrefix + id;
    return [key, `${key}@events`, `${key}@dramats`, this.#key("barrier", id), this.#key("barrier-members", id)];
  }

  /** Dramatiq's `Barrier.create`: SET `<id>` parties NX PX ttl (dramatiq/rate_limits/backends/redis.py:45-46). */
  async createBarrier(key: string, parties: number, ttl: number): Promise<boolean> {
    return (await this.#redis.set(this.barrierPrefix + key, parties, "PX", ttl, "NX")) === "OK";
  }

  async arriveAtBarrier(key: string, member: string): Promise<boolean> {
    return (await this.#arrive(...this.#barrierKeys(key), member)) === 1;
  }

  async closeBarrier(key: string): Promise<void> {
    await this.#close(...this.#barrierKeys(key).slice(0, 4));
  }

  /** Closes the connection this backend opened (a `client` passed in stays open). Idempotent. */
  async close(): Promise<void> {
    if (this.#owned) this.#redis.disconnect();
  }
}
