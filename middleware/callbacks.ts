import type { Actor } from "../lib/actor.ts";
import type { Broker } from "../lib/broker.ts";
import { describeError } from "../lib/errors.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
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

/** Sends `onSuccess`/`onFailure` callback actors, as Dramatiq's Callbacks middleware does. */
export class Callbacks extends Middleware {
  override readonly actorOptions = new Set(["onSuccess", "onFailure"]);
  override readonly messageOptions = new Set(["onSuccess", "onFailure"]);

  // Synchronous (no promise) when there is no callback to send: the common case per message.
  /** {@inheritDoc MiddlewareHooks.afterProcessMessage} */
  afterProcessMessage(broker: Broker, proxy: MessageProxy, outcome: ProcessOutcome): void | Promise<void> {
    const actor = broker.findActor(proxy.actorName);
    if (outcome.error === undefined && !proxy.failed) {
      const target = resolveOption<string | Actor | undefined>(proxy.message, actor, "onSuccess", undefined);
      if (target !== undefined) return send(broker, target, [proxy.message.asData(), outcome.result ?? null]);
    } else {
      const target = resolveOption<string | Actor | undefined>(proxy.message, actor, "onFailure", undefined);
      if (target === undefined) return;
      const error = outcome.error ?? proxy.error;
      const info = {
        type: error instanceof Error ? error.name : "Error",
        message: error instanceof Error ? error.message : describeError(error),
      };
      return send(broker, target, [proxy.message.asData(), info]);
    }
  }
}

async function send(broker: Broker, target: string | Actor, args: unknown[]): Promise<void> {
  const name = typeof target === "string" ? target : target.actorName;
  await broker.getActor(name).sendWithOptions({ args });
}
