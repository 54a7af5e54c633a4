/**
 * Small atomic key-value operations a broker's own store offers (Redis strings, a SQLite
 * table, a map in memory). The scheduler claims cron ticks through `setIfAbsent`, so every
 * tick is enqueued once however many processes run it.
 */
export interface KeyValueStore {
  /** Sets `key` to `value` for `ttl` ms unless it exists; true when this call set it. */
  setIfAbsent(key: string, value: string, ttl: number): Promise<boolean>;
  /** Sets `key` to `value` for `ttl` ms. */
  set(key: string, value: string, ttl: number): Promise<void>;
  get(key: string): Promise<string | undefined>;
}

/** An in-memory KeyValueStore (the stub broker's). */
export class MemoryKeyValueStore implements KeyValueStore {
  readonly #entries = new Map<string, { value: string; expiresAt: number }>();

  async setIfAbsent(key: string, value: string, ttl: number): Promise<boolean> {
    if ((await this.get(key)) !== undefined) return false;
    await this.set(key, value, ttl);
    return true;
  }

  async set(key: string, value: string, ttl: number): Promise<void> {
    this.#entries.set(key, { value, expiresAt: Date.now() + ttl });
  }

  async get(key: string): Promise<string | undefined> {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > Date.now()) return entry.value;
    this.#entries.delete(key);
    return undefined;
  }
}
