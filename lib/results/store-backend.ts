import type { KeyValueStore } from "../key-value-store.ts";
import { InvalidOptions } from "../errors.ts";
import { ResultBackend } from "./backend.ts";

/** Options of {@link StoreResultBackend}. */
export interface StoreResultBackendOptions {
  /** Where results live: a broker's own store (`broker.store`) is shared by every process using that broker. */
  store: KeyValueStore | undefined;
  /** Key prefix. @defaultValue "dramatiq-results" */
  namespace?: string;
  /** First pause between two looks while waiting for a result (ms); it doubles up to `maxPollInterval`. @defaultValue 5 */
  minPollInterval?: number;
  /** @defaultValue 100 */
  maxPollInterval?: number;
}

/**
 * Results in a broker's key-value store, so the embedded SQLite broker (and Redis, and the
 * stub) can store them with nothing else to run: `new StoreResultBackend({ store: broker.store })`.
 * A store cannot announce a new key, so a waiting reader looks again with a doubling pause
 * (5 ms to 100 ms by default): cheap on a local SQLite file. On Redis, the RedisResultBackend
 * wakes readers at once instead.
 */
export class StoreResultBackend extends ResultBackend {
  /** The store results live in. */
  readonly store: KeyValueStore;
  readonly #minPoll: number;
  readonly #maxPoll: number;
  #closed = false;

  /** @throws InvalidOptions without a store (RabbitMQ has none: use a Redis result backend there). */
  constructor(options: StoreResultBackendOptions) {
    super(options);
    if (options.store === undefined) {
      throw new InvalidOptions("StoreResultBackend needs a store: pass broker.store (this broker has none; RabbitMQ needs a RedisResultBackend)");
    }
    this.store = options.store;
    this.#minPoll = options.minPollInterval ?? 5;
    this.#maxPoll = options.maxPollInterval ?? 100;
  }

  protected async storeRaw(key: string, value: string, ttl: number): Promise<void> {
    await this.store.set(this.#key(key), value, ttl);
  }

  protected async readRaw(key: string, timeout: number): Promise<string | undefined> {
    const deadline = Date.now() + timeout;
    for (let pause = this.#minPoll; ; pause = Math.min(pause * 2, this.#maxPoll)) {
      const value = await this.store.get(this.#key(key));
      const left = deadline - Date.now();
      if (value !== undefined || left <= 0 || this.#closed) return value;
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
    }
  }

  #key(key: string): string {
    return `${this.namespace}:${key}`;
  }

  /** Stops waiting readers; the store belongs to its broker and stays open. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}
