import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../../lib/logging.ts";
import { sleep } from "../../lib/sleep.ts";

/** Extra time the client waits for a blocking reply past its server-side timeout. */
const BLOCKING_GRACE = 500;
/** Server-side timeouts fire on Redis's cron tick (100 ms at hz 10); below this, cut the wait client-side. */
const SERVER_TICK = 100;
/** How long a consumer's own marker outlives the wait it ended (ms). */
const OWN_MARKER_TTL = 10_000;

/**
 * An idle consumer's sleep. It blocks, on a connection of its own, in BZPOPMIN on the
 * queue's wake-up marker, which every enqueue (and every fetch that leaves messages behind)
 * sets; one waiter wakes per marker, so a burst does not stampede the fleet. Sleeps bounded
 * by a delayed message's eta are cut client-side for millisecond precision: the wait also
 * watches a marker of this consumer's own, which ends it at once when set. (CLIENT UNBLOCK
 * would do the same, but it is an admin command, often refused on managed servers.)
 */
export class WakeUp {
  readonly #options: RedisOptions;
  readonly #key: string;
  readonly #ownKey: string;
  readonly #command: Redis;
  readonly #log: Logger;
  #conn: Redis | undefined;
  #cancel: (() => void) | undefined;
  #failures = 0;
  #closed = false;

  /**
   * @param options connection options (the broker's, renamed)
   * @param keys the queue's wake-up marker `ns:q:wake`, and this consumer's own `ns:q:wake:<cid>`
   * @param command the broker's command connection, for ending a wait and passing a wake-up on
   */
  constructor(options: RedisOptions, keys: { shared: string; own: string }, command: Redis, log: Logger) {
    this.#options = options;
    this.#key = keys.shared;
    this.#ownKey = keys.own;
    this.#command = command;
    this.#log = log;
  }

  #connection(): Redis {
    if (this.#conn) return this.#conn;
    const conn = new Redis({
      ...this.#options,
      lazyConnect: true,
      enableAutoPipelining: false,
      // Waits ride out reconnections; the client-side guard below bounds each of them.
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
      blockingTimeout: 2_000,
      blockingTimeoutGrace: BLOCKING_GRACE,
    });
    conn.on("error", (error) => this.#log.debug({ err: error }, "Wake-up connection error"));
    this.#conn = conn;
    return conn;
  }

  /**
   * Resolves when woken, after `ms`, or on `interrupt()`.
   * @param precise the wait ends at a delayed message's eta: end it on time client-side
   */
  wait(ms: number, precise: boolean): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const conn = this.#connection();
    const serverMs = precise ? ms + SERVER_TICK * 2 : ms;
    let abandoned = false;
    const popped = conn.bzpopmin(this.#key, this.#ownKey, Math.max(0.01, serverMs / 1000)).then(
      (reply) => {
        this.#failures = 0;
        // Our own marker only ends the wait; the queue's is a wake-up to pass on if abandoned.
        // (Compared by its end: a `keyPrefix` in the user's connection options comes back in the reply.)
        return reply !== null && reply !== undefined && reply.length > 0 && !String(reply[0]).endsWith(this.#ownKey);
      },
      async (error: unknown) => {
        if (this.#closed) return false;
        // A broken wake-up connection must not turn idle waiting into a busy loop.
        this.#failures++;
        this.#log.debug({ err: error }, "Waiting for messages failed");
        await sleep(Math.min(ms, 50 * 2 ** Math.min(this.#failures, 6)));
        return false;
      },
    );
    // A wait given up early may still pop the marker later: hand that wake-up on.
    void popped.then((took) => {
      if (took && abandoned && !this.#closed) void this.#command.zadd(this.#key, 0, "w").catch(() => undefined);
    });
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        this.#cancel = undefined;
        resolve();
      };
      const giveUp = () => {
        abandoned = true;
        this.#unblock();
        done();
      };
      void popped.then(() => {
        if (!abandoned) done();
      });
      this.#cancel = giveUp;
      if (precise || ms < SERVER_TICK) timer = setTimeout(giveUp, ms);
    });
  }

  /** Ends the current wait now. */
  interrupt(): void {
    this.#cancel?.();
  }

  /**
   * Frees the wait connection for the next wait: sets our own marker, which the pending
   * BZPOPMIN pops at once. Set after the wait ended anyway, it ends the next wait early, a
   * harmless extra fetch; it expires so that a consumer that is gone leaves nothing behind.
   */
  #unblock(): void {
    if (this.#closed || this.#conn?.status !== "ready") return;
    void this.#command.multi().zadd(this.#ownKey, 0, "w").pexpire(this.#ownKey, OWN_MARKER_TTL).exec().catch(() => undefined);
  }

  /** Ends any wait and drops the connection (which ends its BZPOPMIN: no marker needed). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancel?.();
    this.#conn?.disconnect();
  }
}
