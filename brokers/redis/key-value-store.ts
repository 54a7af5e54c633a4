import type { Redis } from "ioredis";
import type { KeyValueStore } from "../../lib/key-value-store.ts";

/** The Redis broker's key-value store: plain strings under `<namespace>:__kv__:`. */
export class RedisKeyValueStore implements KeyValueStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, namespace: string) {
    this.#redis = redis;
    this.#prefix = `${namespace}:__kv__:`;
  }

  /** The Redis key `key` is stored under. */
  redisKey(key: string): string {
    return this.#prefix + key;
  }

  async setIfAbsent(key: string, value: string, ttl: number): Promise<boolean> {
    return (await this.#redis.set(this.#prefix + key, value, "PX", Math.max(1, Math.round(ttl)), "NX")) === "OK";
  }

  async set(key: string, value: string, ttl: number): Promise<void> {
    await this.#redis.set(this.#prefix + key, value, "PX", Math.max(1, Math.round(ttl)));
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#redis.get(this.#prefix + key)) ?? undefined;
  }

  async delete(key: string): Promise<void> {
    await this.#redis.del(this.#prefix + key);
  }
}
