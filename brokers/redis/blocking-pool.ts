import type { Redis } from "ioredis";

/** Idle blocking connections kept for reuse; more are opened while more readers wait at once. */
const MAX_IDLE = 8;

/**
 * Connections for blocking reads (BLMOVE): a blocked connection serves no other command, so
 * each waiting reader borrows its own, as each blocked thread of Python Dramatiq's
 * `get_result(block=True)` holds one from its pool. Idle ones are kept for the next reader.
 */
export class BlockingPool {
  readonly #source: Redis;
  readonly #idle: Redis[] = [];
  readonly #busy = new Set<Redis>();
  #closed = false;

  constructor(source: Redis) {
    this.#source = source;
  }

  /** Runs `use` on a connection of its own; a connection whose call failed or overran is dropped, not reused. */
  async with<T>(use: (connection: Redis) => Promise<T>): Promise<T> {
    if (this.#closed) throw new Error("the result backend is closed");
    const connection = this.#idle.pop() ?? this.#open();
    this.#busy.add(connection);
    let reusable = false;
    try {
      const value = await use(connection);
      reusable = connection.status === "ready";
      return value;
    } finally {
      this.#busy.delete(connection);
      if (reusable && !this.#closed && this.#idle.length < MAX_IDLE) this.#idle.push(connection);
      else connection.disconnect();
    }
  }

  /** Ends a connection whose blocking call outlived its deadline (e.g. re-sent after a reconnect). */
  drop(connection: Redis): void {
    connection.disconnect();
  }

  #open(): Redis {
    // No client-side command timeout (a shared broker client has one): the wait is bounded by
    // BLMOVE's own timeout, and by the reader's overrun guard.
    const connection = this.#source.duplicate({ enableAutoPipelining: false, lazyConnect: false, commandTimeout: undefined });
    connection.on("error", () => {}); // its command fails on its own; the reader reads once more
    return connection;
  }

  close(): void {
    this.#closed = true;
    for (const connection of [...this.#idle, ...this.#busy]) connection.disconnect();
    this.#idle.length = 0;
    this.#busy.clear();
  }
}
