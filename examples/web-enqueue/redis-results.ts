// A Redis result backend for this example, in Dramatiq's layout (one list per result, read
// without consuming it), so the web process reads what worker processes store. dramats has
// only the in-memory StubResultBackend so far; replace this with its Redis backend when it ships.
import { Redis } from "ioredis";
import { getLogger, ResultBackend } from "../../lib/index.ts";

export class RedisResultBackend extends ResultBackend {
  readonly #redis: Redis;

  constructor(options: { url: string; namespace?: string }) {
    super(options.namespace === undefined ? {} : { namespace: options.namespace });
    this.#redis = new Redis(options.url);
    // ioredis reconnects by itself; without a listener it would print every failed attempt.
    this.#redis.on("error", (error) => getLogger("example.results").debug({ err: error }, "Redis connection error"));
  }

  protected async storeRaw(key: string, value: string, ttl: number): Promise<void> {
    await this.#redis.multi().del(key).lpush(key, value).pexpire(key, ttl).exec();
  }

  protected async readRaw(key: string, timeout: number): Promise<string | undefined> {
    if (timeout <= 0) return (await this.#redis.lindex(key, 0)) ?? undefined;
    // A blocking read holds its connection until it returns: each waiter gets its own, so one
    // HTTP request waiting for a result never delays another. Moving the element onto the
    // same list leaves the result in place for later reads (Dramatiq's BRPOPLPUSH trick).
    const connection = this.#redis.duplicate();
    try {
      return (await connection.blmove(key, key, "RIGHT", "LEFT", timeout / 1000)) ?? undefined;
    } finally {
      connection.disconnect();
    }
  }

  async close(): Promise<void> {
    await this.#redis.quit();
  }
}
