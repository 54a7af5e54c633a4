import type { Broker } from "../lib/broker.ts";
import { Message, type MessageData } from "../lib/message.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import { Middleware, type ProcessOutcome } from "./middleware.ts";

declare module "../lib/actor.ts" {
  interface ActorOptions {
    /** In a pipeline, do not append the previous step's result to this actor's arguments. */
    pipeIgnore?: boolean;
  }
  interface MessageOverrides {
    /** {@inheritDoc ActorOptions.pipeIgnore} */
    pipeIgnore?: boolean;
  }
}

/**
 * Runs pipeline steps: after a successful message whose options carry `pipe_target` (the
 * next message), enqueues that message with the result appended to its arguments, unless
 * the next message or its actor sets `pipeIgnore`. A failure stops the pipeline.
 */
export class Pipelines extends Middleware {
  override readonly actorOptions = new Set(["pipeIgnore"]);
  override readonly messageOptions = new Set(["pipeIgnore"]);

  // Synchronous (no promise) for messages outside a pipeline: the common case per message.
  /** {@inheritDoc MiddlewareHooks.afterProcessMessage} */
  afterProcessMessage(broker: Broker, proxy: MessageProxy, outcome: ProcessOutcome): void | Promise<void> {
    const target = proxy.message.options.pipe_target;
    if (target === undefined || outcome.error !== undefined || proxy.failed) return;
    return this.#next(broker, target, outcome);
  }

  async #next(broker: Broker, target: MessageData, outcome: ProcessOutcome): Promise<void> {
    let next = Message.fromData(target);
    const ignore = next.options.pipe_ignore ?? broker.findActor(next.actorName)?.options.pipeIgnore ?? false;
    if (!ignore) next = next.copy({ args: [...next.args, outcome.result ?? null] });
    const delay = typeof next.options.delay === "number" ? next.options.delay : 0;
    await broker.enqueue(next, { delay });
  }
}
