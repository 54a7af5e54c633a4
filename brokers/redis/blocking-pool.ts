import type { Redis } from "ioredis";

/** Idle blocking connections kept for reuse. */
const MAX_IDLE = 8;

/**
 * Connections for blocking reads (BLMOVE): a blocked connection serves no other command, so
 * each waiting reader borrows its own, as each blocked thread of Python Dramatiq's
 * `get_result(block=True)` holds one from its pool. At most `max` are open at once: past that,
 * readers queue for a connection, and while any reader queues, readers block in short slices
 * (see {@link BlockingPool.slice}) so that the connections go round.
 */
export class BlockingPool {
  readonly #source: Redis;
  readonly #max: number;
  readonly #name: string;
  readonly #idle: Redis[] = [];
  readonly #busy = new Set<Redis>();
  readonly #queue: ((connection: Redis) => void)[] = [];
  #closed = false;

  /**
   * @param max - blocking connections open at once at most
   * @param name - their CLIENT SETNAME, so an operator can tell them apart in CLIENT LIST
   */
  constructor(source: Redis, max: number, name: string) {
    this.#source = source;
    this.#max = max;
    this.#name = name;
  }

  /** Connections open now (idle or blocked). */
  get size(): number {
    return this.#idle.length + this.#busy.size;
  }

  /** How long one blocking call may last (ms): all of `remaining`, or a slice while readers queue. */
  slice(remaining: number, sliceMs: number): number {
    return this.#queue.length > 0 || this.#busy.size >= this.#max ? Math.min(remaining, sliceMs) : remaining;
  }

  /** Runs `use` on a connection of its own; a connection whose call failed or overran is dropped, not reused. */
  async with<T>(use: (connection: Redis) => Promise<T>): Promise<T> {
    if (this.#closed) throw new Error("the result backend is closed");
    const connection = await this.#acquire();
    let reusable = false;
    try {
      const value = await use(connection);
      reusable = connection.status === "ready";
      return value;
    } finally {
      this.#release(connection, reusable);
    }
  }

  /** Ends a connection whose blocking call outlived its deadline (e.g. re-sent after a reconnect). */
  drop(connection: Redis): void {
    connection.disconnect();
  }

  #acquire(): Promise<Redis> {
    const idle = this.#idle.pop();
    const connection = idle ?? (this.#busy.size < this.#max ? this.#open() : undefined);
    if (connection !== undefined) {
      this.#busy.add(connection);
      return Promise.resolve(connection);
    }
    return new Promise((resolve) => this.#queue.push(resolve));
  }

  #release(connection: Redis, reusable: boolean): void {
    this.#busy.delete(connection);
    if (!reusable || this.#closed) connection.disconnect();
    const next = this.#queue.shift();
    if (next !== undefined && !this.#closed) {
      const handed = reusable ? connection : this.#open();
      this.#busy.add(handed);
      next(handed);
      return;
    }
    if (reusable && !this.#closed) {
      if (this.#idle.length < MAX_IDLE) this.#idle.push(connection);
      else connection.disconnect();
    }
  }

  #open(): Redis {
    // No client-side command timeout (a shared broker client has one): the wait is bounded by
    // BLMOVE's own timeout, and by the reader's overrun guard.
    const connection = this.#source.duplicate({ enableAutoPipelining: false, lazyConnect: false, commandTimeout: undefined, connectionName: this.#name });
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
