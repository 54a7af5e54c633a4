import type { Broker } from "../lib/broker.ts";
import type { KeyValueStore } from "../lib/key-value-store.ts";
import type { Message } from "../lib/message.ts";

/** What one attempt to enqueue a tick found. */
export type TickAttempt =
  /** This process enqueued the tick. */
  | "enqueued"
  /** Another process enqueued it. */
  | "elsewhere"
  /** Another process claimed it and has not said it sent it: look again after `claimTimeout`. */
  | "pending";

const PENDING = "pending:";
const SENT = "sent:";

/**
 * Enqueues each tick once across the processes sharing a store, in one of two ways.
 *
 * With the broker's own store, on a broker that can do it (Redis, SQLite, stub): the claim and
 * the message are written in one broker step (`Broker.enqueueOnce`), so a tick is enqueued
 * exactly once whatever fails or dies; a failed attempt wrote nothing and is simply repeated.
 *
 * With a store of another system (RabbitMQ with a Redis store), no step spans both, so the
 * claim is taken as pending for `claimTimeout` ms, the message is enqueued, then the claim is
 * marked sent. A pending claim that expires unmarked (its process died, or could not reach the
 * store) is claimed again by a process that saw it pending, and the tick is sent again: never
 * lost, at least once, and enqueued twice only when the process that sent it could not mark it
 * sent within `claimTimeout` (it died or stalled in between, or its store write failed).
 */
export class TickClaims {
  readonly #broker: Broker;
  readonly #explicitStore: KeyValueStore | undefined;
  readonly #claimTimeout: number;

  constructor(broker: Broker, explicitStore: KeyValueStore | undefined, claimTimeout: number) {
    this.#broker = broker;
    this.#explicitStore = explicitStore;
    this.#claimTimeout = claimTimeout;
  }

  /** True when claim and enqueue are one broker step (the broker's own store, and it can). */
  get atomic(): boolean {
    const own = this.#broker.store;
    return own !== undefined && (this.#explicitStore === undefined || this.#explicitStore === own) && this.#broker.canEnqueueOnce;
  }

  /**
   * One attempt; a rejection means nothing is claimed and the tick may be tried again.
   * @param ttl how long the claim is kept once sent, in ms
   * @param message builds the tick's message (called only when this process may send it)
   * @param again whether a claim that expired between the look and the claim is tried once more
   */
  async attempt(store: KeyValueStore, key: string, ttl: number, message: () => Message, again = true): Promise<TickAttempt> {
    if (this.atomic) return (await this.#broker.enqueueOnce({ key, ttl, value: String(process.pid) }, [message()])) ? "enqueued" : "elsewhere";
    if (await store.setIfAbsent(key, PENDING + process.pid, this.#claimTimeout)) {
      try {
        await this.#broker.enqueue(message());
      } catch (error) {
        // Give the claim up at once (a 1 ms expiry: the interface has no delete), so the retry,
        // here or in any other process, need not wait for it to time out.
        await store.set(key, "released", 1).catch(() => undefined);
        throw error;
      }
      // Enqueued: a failure from here on must not make this process send it again. If the mark
      // is lost the pending claim expires and another process re-sends (the stated duplicate).
      await store.set(key, SENT + process.pid, ttl).catch(() => undefined);
      return "enqueued";
    }
    const value = await store.get(key);
    // Expired between the two calls: claim it now (once; after that, look again later).
    if (value === undefined) return again ? this.attempt(store, key, ttl, message, false) : "pending";
    return value.startsWith(PENDING) ? "pending" : "elsewhere";
  }
}
