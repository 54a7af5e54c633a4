import type { Broker } from "../lib/broker.ts";
import { Message, type MessageData } from "../lib/message.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import type { RateLimiterBackend } from "../lib/rate-limits/backend.ts";
import { Middleware, type ProcessOutcome } from "./middleware.ts";

export interface GroupCallbacksOptions {
  /** Where barriers live; use the same store for every process (e.g. Redis). */
  backend: RateLimiterBackend;
  /** How long a group's barrier is kept, in ms. @defaultValue 86400000 (a day) */
  barrierTtl?: number;
}

/**
 * Runs group completion callbacks (chords): after each successful member, it arrives at the
 * group's barrier; the arrival that completes it enqueues the callbacks. Arrivals are counted
 * per member message, so a redelivered member cannot fire the callbacks early or twice.
 */
export class GroupCallbacks extends Middleware {
  readonly backend: RateLimiterBackend;
  readonly barrierTtl: number;

  constructor(options: GroupCallbacksOptions) {
    super();
    this.backend = options.backend;
    this.barrierTtl = options.barrierTtl ?? 86_400_000;
  }

  /** Closes the backend (a Redis one's connection) with the broker. */
  override async close(): Promise<void> {
    await this.backend.close();
  }

  async afterProcessMessage(broker: Broker, proxy: MessageProxy, outcome: ProcessOutcome): Promise<void> {
    const id = proxy.message.options.group_completion_uuid;
    if (typeof id !== "string" || outcome.error !== undefined || proxy.failed || proxy.retry) return;
    if (!(await this.backend.arriveAtBarrier(id, proxy.messageId))) return;
    const callbacks = (proxy.message.options.group_completion_callbacks ?? []) as MessageData[];
    for (const data of callbacks) await broker.enqueue(Message.fromData(data));
  }
}
