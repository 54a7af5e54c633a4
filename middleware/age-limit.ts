import type { Broker } from "../lib/broker.ts";
import { getLogger, messageFields } from "../lib/logging.ts";
import { InvalidOptions } from "../lib/errors.ts";
import { messageLimit, refuseMessage } from "../lib/message-limits.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import { Middleware, SkipMessage } from "./middleware.ts";

declare module "../lib/actor.ts" {
  interface ActorOptions {
    /** Skip (and dead-letter) messages older than this many ms since their first enqueue. */
    maxAge?: number;
  }
  interface MessageOverrides {
    /** {@inheritDoc ActorOptions.maxAge} */
    maxAge?: number;
  }
}

/** Options of {@link AgeLimit}. */
export interface AgeLimitOptions {
  /** Default maximum age in ms; unset means no limit. */
  maxAge?: number;
}

/** Drops messages that waited too long (their first enqueue is older than `maxAge`). */
export class AgeLimit extends Middleware {
  override readonly actorOptions = new Set(["maxAge"]);
  override readonly messageOptions = new Set(["maxAge"]);
  /** Default maximum age in ms, for actors and messages that set none; undefined means no limit. */
  readonly maxAge: number | undefined;

  constructor(options: AgeLimitOptions = {}) {
    super();
    this.maxAge = options.maxAge;
  }

  /** {@inheritDoc MiddlewareHooks.beforeProcessMessage} */
  beforeProcessMessage(broker: Broker, proxy: MessageProxy): void {
    let maxAge: number | null | undefined;
    try {
      maxAge = messageLimit(proxy.message, broker.findActor(proxy.actorName), "maxAge", this.maxAge, { zeroIsNone: true });
    } catch (error) {
      if (error instanceof InvalidOptions) refuseMessage(proxy, error);
      throw error;
    }
    if (!maxAge) return;
    const age = Date.now() - proxy.message.messageTimestamp;
    if (age < maxAge) return;
    getLogger("middleware.age-limit").warn({ ...messageFields(proxy), ageMs: age, maxAge }, "Message age limit exceeded");
    const error = new SkipMessage(`Message age limit exceeded: ${age} ms >= ${maxAge} ms`);
    proxy.fail(error);
    throw error;
  }
}
