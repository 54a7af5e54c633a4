import type { Actor } from "../lib/actor.ts";
import type { Broker } from "../lib/broker.ts";
import { ActorNotFound, describeError } from "../lib/errors.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import { sendCallback } from "./callback-target.ts";
import { Middleware, resolveOption, type ProcessOutcome } from "./middleware.ts";

declare module "../lib/actor.ts" {
  interface ActorOptions {
    /** Actor (or its name) sent `(message, result)` after each success. */
    onSuccess?: string | Actor;
    /** Actor (or its name) sent `(message, { type, message })` after every failure, retried or not. */
    onFailure?: string | Actor;
  }
  interface MessageOverrides {
    /** {@inheritDoc ActorOptions.onSuccess} */
    onSuccess?: string | Actor;
    /** {@inheritDoc ActorOptions.onFailure} */
    onFailure?: string | Actor;
  }
}

/**
 * Sends `onSuccess`/`onFailure` callback actors, as Dramatiq's Callbacks middleware does; also to
 * actors this process did not declare (see `sendCallback`). When a callback's queue cannot be
 * known, the triggering message is dead-lettered with the reason instead of the callback being
 * dropped (after a failure that would have been retried, the retry is not made).
 */
export class Callbacks extends Middleware {
  override readonly actorOptions = new Set(["onSuccess", "onFailure"]);
  override readonly messageOptions = new Set(["onSuccess", "onFailure"]);

  // Synchronous (no promise) when there is no callback to send: the common case per message.
  /** {@inheritDoc MiddlewareHooks.afterProcessMessage} */
  afterProcessMessage(broker: Broker, proxy: MessageProxy, outcome: ProcessOutcome): void | Promise<void> {
    const actor = broker.findActor(proxy.actorName);
    if (outcome.error === undefined && !proxy.failed) {
      const target = resolveOption<string | Actor | undefined>(proxy.message, actor, "onSuccess", undefined);
      if (target !== undefined) return send(broker, proxy, "onSuccess", target, [proxy.message.asData(), outcome.result ?? null], undefined);
    } else {
      const target = resolveOption<string | Actor | undefined>(proxy.message, actor, "onFailure", undefined);
      if (target === undefined) return;
      const error = outcome.error ?? proxy.error;
      const info = {
        type: error instanceof Error ? error.name : "Error",
        message: error instanceof Error ? error.message : describeError(error),
      };
      return send(broker, proxy, "onFailure", target, [proxy.message.asData(), info], error);
    }
  }
}

/** Sends the callback; when its queue is unknown, dead-letters the message with the reason (`failure`: the run's error, if it failed). */
async function send(broker: Broker, proxy: MessageProxy, option: string, target: string | Actor, args: unknown[], failure: unknown): Promise<void> {
  let unsent: string | undefined;
  try {
    unsent = await sendCallback(broker, proxy.message, option, target, args);
  } catch (error) {
    unsent = `its ${option} callback could not be enqueued: ${describeError(error)}`;
  }
  if (unsent === undefined) return;
  const failed = failure !== undefined || proxy.failed;
  proxy.fail(failed ? (failure ?? proxy.error) : new ActorNotFound(typeof target === "string" ? target : target.actorName));
  proxy.deadLetterReason = `Callbacks: ${failed ? `the run failed with ${describeError(proxy.error)}` : "the actor succeeded"}; ${unsent}`;
}
