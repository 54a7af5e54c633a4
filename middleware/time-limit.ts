import { AsyncResource } from "node:async_hooks";
import type { Broker } from "../lib/broker.ts";
import { InvalidOptions, TimeLimitExceeded } from "../lib/errors.ts";
import { messageLimit, refuseMessage } from "../lib/message-limits.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import { Middleware } from "./middleware.ts";

export { TimeLimitExceeded } from "../lib/errors.ts";

declare module "../lib/actor.ts" {
  interface ActorOptions {
    /** Milliseconds an actor may run; `Infinity` or 0 disables the limit. @defaultValue 600000 */
    timeLimit?: number;
  }
  interface MessageOverrides {
    /** {@inheritDoc ActorOptions.timeLimit} */
    timeLimit?: number;
  }
}

/** The longest delay a Node timer takes (ms). */
const MAX_TIMER = 2 ** 31 - 1;

/** Options of {@link TimeLimit}. */
export interface TimeLimitOptions {
  /** Default limit in ms. @defaultValue 600000 (10 minutes) */
  timeLimit?: number;
}

/**
 * The runs sharing one limit, in start order (so also in deadline order), and one timer for
 * the earliest deadline among them.
 */
interface Lane {
  readonly limit: number;
  readonly deadlines: Map<MessageProxy, number>;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Stops actors that run too long. When the limit passes, the actor's `this.signal` aborts and
 * the run fails with TimeLimitExceeded at once, even if the actor ignores the signal (its
 * promise is then abandoned). Threaded actors have their thread terminated.
 *
 * Runs are kept in one lane per limit value with a single timer each, rather than a timer per
 * message: creating and clearing a Node timer per message was a measurable share of a no-op
 * message's cost. A lane's timer fires at its earliest deadline; runs that ended meanwhile are
 * simply gone from the lane, and the timer is re-armed for the next deadline, if any. The
 * timer is never cleared (one message at a time would otherwise set and clear one per
 * message): it is unref'd, so a stale one keeps no process alive.
 */
export class TimeLimit extends Middleware {
  override readonly actorOptions = new Set(["timeLimit"]);
  override readonly messageOptions = new Set(["timeLimit"]);
  /** Default limit in ms, for actors and messages that set none. @defaultValue 600000 (10 minutes) */
  readonly timeLimit: number;
  readonly #lanes = new Map<number, Lane>();
  /**
   * Where lane timers are created: a lane's timer serves many messages, so it must not carry
   * the context of the message that happened to arm it (the CLI's block watch reads it).
   */
  readonly #home = new AsyncResource("dramats.TimeLimit");

  constructor(options: TimeLimitOptions = {}) {
    super();
    this.timeLimit = options.timeLimit ?? 600_000;
  }

  /** {@inheritDoc MiddlewareHooks.beforeProcessMessage} */
  beforeProcessMessage(broker: Broker, proxy: MessageProxy): void {
    let limit: number;
    try {
      limit = messageLimit(proxy.message, broker.findActor(proxy.actorName), "timeLimit", this.timeLimit, { zeroIsNone: true }) as number;
    } catch (error) {
      if (error instanceof InvalidOptions) refuseMessage(proxy, error);
      throw error;
    }
    if (!(limit > 0) || !Number.isFinite(limit)) return;
    let lane = this.#lanes.get(limit);
    if (lane === undefined) this.#lanes.set(limit, (lane = { limit, deadlines: new Map(), timer: undefined }));
    lane.deadlines.set(proxy, Date.now() + limit);
    if (lane.timer === undefined) this.#arm(lane);
  }

  #arm(lane: Lane): void {
    const first = lane.deadlines.values().next();
    if (first.done) return;
    // Node fires a timer set past 2^31 - 1 ms at once: a longer limit is waited for in steps.
    const delay = Math.min(MAX_TIMER, Math.max(0, first.value - Date.now()));
    lane.timer = this.#home.runInAsyncScope(() => setTimeout(() => this.#expire(lane), delay));
    lane.timer.unref();
  }

  #expire(lane: Lane): void {
    lane.timer = undefined;
    const now = Date.now();
    for (const [proxy, deadline] of lane.deadlines) {
      if (deadline > now) break;
      lane.deadlines.delete(proxy);
      proxy.abort(new TimeLimitExceeded(`Time limit of ${lane.limit} ms exceeded by ${proxy.actorName}`));
    }
    this.#arm(lane);
  }

  /** {@inheritDoc MiddlewareHooks.afterProcessMessage} */
  afterProcessMessage(_broker: Broker, proxy: MessageProxy): void {
    this.#clear(proxy);
  }

  /** {@inheritDoc MiddlewareHooks.afterSkipMessage} */
  afterSkipMessage(_broker: Broker, proxy: MessageProxy): void {
    this.#clear(proxy);
  }

  #clear(proxy: MessageProxy): void {
    for (const lane of this.#lanes.values()) if (lane.deadlines.delete(proxy)) return;
  }
}
