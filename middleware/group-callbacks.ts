import type { Broker } from "../lib/broker.ts";
import { computeBackoff } from "../lib/backoff.ts";
import { getLogger, messageFields } from "../lib/logging.ts";
import { Message, type MessageData } from "../lib/message.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import type { RateLimiterBackend } from "../lib/rate-limits/backend.ts";
import { Middleware, type ProcessOutcome, type MiddlewareServices } from "./middleware.ts";

/** Options of {@link GroupCallbacks}. */
export interface GroupCallbacksOptions {
  /** Where barriers live; use the same store for every process (e.g. Redis). */
  backend: RateLimiterBackend;
  /** How long a group's barrier is kept, in ms. @defaultValue 86400000 (a day) */
  barrierTtl?: number;
}

/** The key, in the broker's own store, enqueued in one step with a group's callbacks. */
const CLAIM_PREFIX = "dramats:group:";
/** Message option: how often a member was retried because its group's callbacks could not be enqueued. */
const ARRIVAL_RETRIES = "group_completion_retries";
/** Backoff of those retries, in ms. */
const MIN_BACKOFF = 500;
const MAX_BACKOFF = 60_000;

/**
 * Runs group completion callbacks (chords): after each successful member, it arrives at the
 * group's barrier; an arrival that finds every member arrived enqueues the callbacks. Arrivals
 * are counted per member message, so a redelivered member cannot fire the callbacks early.
 *
 * On a broker with a store (Redis, SQLite, stub) the callbacks are enqueued with a claim on the
 * group in one broker step (`Broker.enqueueOnce`): they are enqueued exactly once, also when
 * several arrivals find the barrier complete or a process dies between the arrival and the
 * enqueue (the member, unacknowledged, is redelivered and arrives again). If the enqueue fails,
 * nothing is consumed: the member is retried as though it had failed (its actor runs again,
 * after a backoff, whatever its `maxRetries`), and its next arrival fires the callbacks.
 *
 * On a broker without a store (RabbitMQ) the enqueue and the barrier's release are two steps:
 * callbacks are never lost, and enqueued twice only when a member arrives again (a redelivery)
 * between another arrival's enqueue and its release of the barrier, or when one of several
 * callbacks failed to enqueue after the others were (all are enqueued again on the retry).
 */
export class GroupCallbacks extends Middleware {
  /** Where group barriers live. */
  readonly backend: RateLimiterBackend;
  /** How long a group's barrier is kept, in ms. @defaultValue 86400000 (a day) */
  readonly barrierTtl: number;

  constructor(options: GroupCallbacksOptions) {
    super();
    this.backend = options.backend;
    this.barrierTtl = options.barrierTtl ?? 86_400_000;
  }

  override readonly provides: Partial<MiddlewareServices> = { groupCallbacks: this };

  /** Prepares a group's barrier: its callbacks are sent once `count` members passed it. */
  async createBarrier(id: string, count: number): Promise<void> {
    await this.backend.createBarrier(id, count, this.barrierTtl);
  }

  /** Closes the backend (a Redis one's connection) with the broker. */
  override async close(): Promise<void> {
    await this.backend.close();
  }

  /** {@inheritDoc MiddlewareHooks.afterProcessMessage} */
  async afterProcessMessage(broker: Broker, proxy: MessageProxy, outcome: ProcessOutcome): Promise<void> {
    const id = proxy.message.options.group_completion_uuid;
    if (typeof id !== "string" || outcome.error !== undefined || proxy.failed || proxy.retry) return;
    try {
      if (!(await this.backend.arriveAtBarrier(id, proxy.messageId))) return;
      const callbacks = ((proxy.message.options.group_completion_callbacks ?? []) as MessageData[]).map((data) => Message.fromData(data));
      if (broker.canEnqueueOnce) await broker.enqueueOnce({ key: CLAIM_PREFIX + id, ttl: this.barrierTtl }, callbacks);
      else for (const callback of callbacks) await broker.enqueue(callback);
    } catch (error) {
      this.#retryMember(proxy, error);
      return;
    }
    // Released: later arrivals need not try. Losing this write costs them one claimed no-op.
    await this.backend.closeBarrier(id).catch((error: unknown) => {
      getLogger("middleware.group-callbacks").warn({ ...messageFields(proxy), err: error }, "Could not close a group's barrier");
    });
  }

  /** The callbacks are not enqueued and the barrier not consumed: run the member again, later. */
  #retryMember(proxy: MessageProxy, error: unknown): void {
    const retries = Number(proxy.message.options[ARRIVAL_RETRIES] ?? 0);
    const delay = computeBackoff(retries + 1, MIN_BACKOFF, MAX_BACKOFF);
    getLogger("middleware.group-callbacks").error(
      { ...messageFields(proxy), err: error, delayMs: delay },
      "Could not enqueue the group's completion callbacks; retrying the member",
    );
    proxy.retry = { message: proxy.message.copy({ options: { [ARRIVAL_RETRIES]: retries + 1 } }), delay };
  }
}
