import type { Broker } from "../lib/broker.ts";
import { SkipMessage } from "../lib/errors.ts";
import { getLogger, messageFields } from "../lib/logging.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import type { RateLimiterBackend } from "../lib/rate-limits/backend.ts";
import { Middleware } from "./middleware.ts";

/** Hold an actor to `limit` runs per `window` ms across every worker sharing the backend. */
export interface ActorRateLimit {
  /** Runs admitted per window. */
  limit: number;
  /** Length of the sliding window, in ms. */
  window: number;
}

declare module "../lib/actor.ts" {
  interface ActorOptions {
    /** At most `limit` runs per `window` ms across the fleet; extra messages wait, without using retries. */
    rateLimit?: ActorRateLimit;
  }
}

/** Options of {@link RateLimit}. */
export interface RateLimitOptions {
  /** Where the limits' state lives; use one every worker shares (e.g. Redis). */
  backend: RateLimiterBackend;
  /** Key prefix, so several apps can share one store. @defaultValue "dramats-rate-limit" */
  prefix?: string;
}

/**
 * Applies the `rateLimit` actor option: a message over the limit is not run now but put back
 * in the broker with a short delay (its retry count untouched), so limits never burn retries.
 */
export class RateLimit extends Middleware {
  override readonly actorOptions = new Set(["rateLimit"]);
  /** Where the limits' state lives. */
  readonly backend: RateLimiterBackend;
  /** Key prefix of the limits in the backend. @defaultValue "dramats-rate-limit" */
  readonly prefix: string;

  constructor(options: RateLimitOptions) {
    super();
    this.backend = options.backend;
    this.prefix = options.prefix ?? "dramats-rate-limit";
  }

  /** Closes the backend (a Redis one's connection) with the broker. */
  override async close(): Promise<void> {
    await this.backend.close();
  }

  /** {@inheritDoc MiddlewareHooks.beforeProcessMessage} */
  async beforeProcessMessage(broker: Broker, proxy: MessageProxy): Promise<void> {
    const limit = broker.findActor(proxy.actorName)?.options.rateLimit;
    if (limit === undefined) return;
    const key = `${this.prefix}:${proxy.actorName}`;
    if (await this.backend.hitWindow(key, limit.limit, limit.window)) return;
    // Spread the waiting messages over the next window instead of all waking at once.
    const delay = Math.ceil((limit.window / limit.limit) * (1 + Math.random()));
    getLogger("middleware.rate-limit").debug({ ...messageFields(proxy), delayMs: delay }, "Rate limited; requeued");
    proxy.retry = { message: proxy.message.copy(), delay };
    throw new SkipMessage(`Rate limit of ${limit.limit} per ${limit.window} ms reached`);
  }
}
