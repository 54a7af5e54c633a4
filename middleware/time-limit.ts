import type { Broker } from "../lib/broker.ts";
import { TimeLimitExceeded } from "../lib/errors.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import { Middleware, resolveOption } from "./middleware.ts";

export { TimeLimitExceeded } from "../lib/errors.ts";

declare module "../lib/actor.ts" {
  interface ActorOptions {
    /** Milliseconds an actor may run; `Infinity` or 0 disables the limit. @defaultValue 600000 */
    timeLimit?: number;
  }
  interface MessageOverrides {
    timeLimit?: number;
  }
}

export interface TimeLimitOptions {
  /** Default limit in ms. @defaultValue 600000 (10 minutes) */
  timeLimit?: number;
}

/**
 * Stops actors that run too long. When the limit passes, the actor's `this.signal` aborts and
 * the run fails with TimeLimitExceeded at once, even if the actor ignores the signal (its
 * promise is then abandoned). Threaded actors have their thread terminated.
 */
export class TimeLimit extends Middleware {
  override readonly actorOptions = new Set(["timeLimit"]);
  readonly timeLimit: number;
  readonly #timers = new WeakMap<MessageProxy, NodeJS.Timeout>();

  constructor(options: TimeLimitOptions = {}) {
    super();
    this.timeLimit = options.timeLimit ?? 600_000;
  }

  beforeProcessMessage(broker: Broker, proxy: MessageProxy): void {
    const limit = resolveOption(proxy.message, broker.findActor(proxy.actorName), "timeLimit", this.timeLimit);
    if (!(limit > 0) || !Number.isFinite(limit)) return;
    const timer = setTimeout(() => {
      proxy.abort(new TimeLimitExceeded(`Time limit of ${limit} ms exceeded by ${proxy.actorName}`));
    }, limit);
    this.#timers.set(proxy, timer);
  }

  afterProcessMessage(_broker: Broker, proxy: MessageProxy): void {
    this.#clear(proxy);
  }

  afterSkipMessage(_broker: Broker, proxy: MessageProxy): void {
    this.#clear(proxy);
  }

  #clear(proxy: MessageProxy): void {
    const timer = this.#timers.get(proxy);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#timers.delete(proxy);
    }
  }
}
