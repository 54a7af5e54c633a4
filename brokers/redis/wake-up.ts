import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../../lib/logging.ts";
import { sleep } from "../../lib/sleep.ts";

/** Extra time the client waits for a blocking reply past its server-side timeout. */
const BLOCKING_GRACE = 500;
/** Server-side timeouts fire on Redis's cron tick (100 ms at hz 10); below this, cut the wait client-side. */
const SERVER_TICK = 100;

/**
 * An idle consumer's sleep. It blocks, on a connection of its own, in BZPOPMIN on the
 * queue's wake-up marker, which every enqueue (and every fetch that leaves messages behind)
 * sets; one waiter wakes per marker, so a burst does not stampede the fleet. Sleeps bounded
 * by a delayed message's eta are cut client-side (CLIENT UNBLOCK) for millisecond precision.
 */
export class WakeUp {
  readonly #options: RedisOptions;
  readonly #key: string;
  readonly #command: Redis;
  readonly #log: Logger;
  #conn: Redis | undefined;
  #clientId: number | undefined;
  #cancel: (() => void) | undefined;
  #failures = 0;
  #closed = false;

  /**
   * @param options connection options (the broker's, renamed)
   * @param key the wake-up marker `ns:q:wake`
   * @param command the broker's command connection, for CLIENT UNBLOCK and passing a wake-up on
   */
  constructor(options: RedisOptions, key: string, command: Redis, log: Logger) {
    this.#options = options;
    this.#key = key;
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
    conn.on("ready", () => {
      this.#clientId = undefined;
      conn.client("ID").then(
        (id) => (this.#clientId = Number(id)),
        () => undefined,
      );
    });
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
    const popped = conn.bzpopmin(this.#key, Math.max(0.01, serverMs / 1000)).then(
      (reply) => {
        this.#failures = 0;
        return reply !== null && reply !== undefined && reply.length > 0;
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

  #unblock(): void {
    const id = this.#clientId;
    if (id !== undefined && this.#conn?.status === "ready") {
      void this.#command.client("UNBLOCK", id).catch(() => undefined);
    }
  }

  /** Ends any wait and drops the connection. */
  close(): void {
    if (this.#closed) return;
    this.interrupt();
    this.#closed = true;
    this.#conn?.disconnect();
  }
}
