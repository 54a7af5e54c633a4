/**
 * Small atomic key-value operations a broker's own store offers (Redis strings, a SQLite
 * table, a map in memory). A broker that has one can also set a key of it together with
 * messages, in one step (`Broker.enqueueOnce`): that is how cron ticks and chord callbacks are
 * enqueued once. A store of another system (given to the Scheduler for RabbitMQ) only offers
 * these operations, so claims in it cannot be one step with the enqueue.
 */
export interface KeyValueStore {
  /** Sets `key` to `value` for `ttl` ms unless it exists; true when this call set it. */
  setIfAbsent(key: string, value: string, ttl: number): Promise<boolean>;
  /** Sets `key` to `value` for `ttl` ms. */
  set(key: string, value: string, ttl: number): Promise<void>;
  /** The value at `key`, or undefined when it is missing or expired. */
  get(key: string): Promise<string | undefined>;
  /** Removes `key`, if present (a missing or expired key is no error). */
  delete(key: string): Promise<void>;
}

/** An in-memory KeyValueStore (the stub broker's). */
export class MemoryKeyValueStore implements KeyValueStore {
  readonly #entries = new Map<string, { value: string; expiresAt: number }>();

  async setIfAbsent(key: string, value: string, ttl: number): Promise<boolean> {
    return this.claim(key, value, ttl);
  }

  /** `setIfAbsent` without a promise, for the stub broker's one-step claim and enqueue. */
  claim(key: string, value: string, ttl: number): boolean {
    if (this.#read(key) !== undefined) return false;
    this.#entries.set(key, { value, expiresAt: Date.now() + ttl });
    return true;
  }

  async set(key: string, value: string, ttl: number): Promise<void> {
    this.#entries.set(key, { value, expiresAt: Date.now() + ttl });
  }

  async get(key: string): Promise<string | undefined> {
    return this.#read(key);
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  #read(key: string): string | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > Date.now()) return entry.value;
    this.#entries.delete(key);
    return undefined;
  }
}

/**
 * A store that can tell when a key may have changed (the PostgreSQL broker's, by LISTEN/NOTIFY),
 * so that a reader waits for changes instead of polling for them.
 */
export interface WatchableStore {
  /**
   * Calls `onChange` after `key` may have changed (set or deleted by any process), and after
   * any moment at which such news could have been lost (a reconnection). Returns the unsubscribe.
   */
  watch(key: string, onChange: () => void): () => void;
}

/** True when `store` offers {@link WatchableStore.watch}. */
export function isWatchable(store: KeyValueStore): store is KeyValueStore & WatchableStore {
  return typeof (store as Partial<WatchableStore>).watch === "function";
}
