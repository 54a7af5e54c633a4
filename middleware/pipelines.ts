import type { Broker } from "../lib/broker.ts";
import { describeError } from "../lib/errors.ts";
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
 * the next message or its actor sets `pipeIgnore`. A failure stops the pipeline. The next step
 * may be bound for a queue or actor this process did not declare (its queue is declared on the
 * fly, not consumed here); if it cannot be enqueued, this step's message is dead-lettered with
 * the reason (requeueing it runs this step again).
 */
export class Pipelines extends Middleware {
  override readonly actorOptions = new Set(["pipeIgnore"]);
  override readonly messageOptions = new Set(["pipeIgnore"]);

  // Synchronous (no promise) for messages outside a pipeline: the common case per message.
  /** {@inheritDoc MiddlewareHooks.afterProcessMessage} */
  afterProcessMessage(broker: Broker, proxy: MessageProxy, outcome: ProcessOutcome): void | Promise<void> {
    const target = proxy.message.options.pipe_target;
    if (target === undefined || outcome.error !== undefined || proxy.failed) return;
    return this.#next(broker, proxy, target, outcome);
  }

  async #next(broker: Broker, proxy: MessageProxy, target: MessageData, outcome: ProcessOutcome): Promise<void> {
    try {
      let next = Message.fromData(target);
      const ignore = next.options.pipe_ignore ?? broker.findActor(next.actorName)?.options.pipeIgnore ?? false;
      if (!ignore) next = next.copy({ args: [...next.args, outcome.result ?? null] });
      const delay = typeof next.options.delay === "number" ? next.options.delay : 0;
      // A queue or actor this process did not declare is fine: the broker declares the queue on the fly.
      await broker.enqueue(next, { delay });
    } catch (error) {
      // Never a silent stop: the step's message keeps the rest of the pipeline in the dead letters.
      proxy.fail(error);
      proxy.deadLetterReason = `Pipelines: the actor succeeded but the next step could not be enqueued: ${describeError(error)}`;
    }
  }
}
