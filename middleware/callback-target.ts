import { isActor, type Actor } from "../lib/actor.ts";
import type { Broker } from "../lib/broker.ts";
import { Message } from "../lib/message.ts";
import { toWireName } from "../lib/middleware.ts";

/**
 * Sends a callback message (`onSuccess`, `onFailure`, `onRetryExhausted`) with `args`. Dramatiq
 * stores a callback by actor name only and sends it to the queue of the actor the worker
 * declared (`broker.get_actor(name)` in dramatiq/middleware/callbacks.py:41-53, which raises
 * ActorNotFound for any other name). Here the queue is, in order: that of the actor this broker
 * declared under the name; that of the `Actor` the option was given as; the queue the message
 * carries under the option's wire name plus `_queue` (`on_success_queue`: a sender that gave an
 * `Actor` writes it). An actor this process did not declare is sent by name, to be run by the
 * process that declares it; its queue is declared on the fly (not consumed here).
 * @returns undefined once sent; the reason the callback cannot be sent when its queue is unknown
 * (the caller dead-letters the triggering message with it, rather than dropping the callback).
 */
export async function sendCallback(broker: Broker, message: Message, option: string, target: string | Actor, args: unknown[]): Promise<string | undefined> {
  const name = isActor(target) ? target.actorName : target;
  const declared = broker.findActor(name);
  if (declared !== undefined) {
    await declared.sendWithOptions({ args });
    return undefined;
  }
  const wire = toWireName(option);
  const carried = message.options[`${wire}_queue`];
  const queueName = isActor(target) ? target.queueName : typeof carried === "string" ? carried : undefined;
  if (queueName === undefined) {
    return (
      `${option} names actor ${JSON.stringify(name)}, which this process did not declare, and the message carries no ` +
      `${wire}_queue: the callback's queue is unknown, so it was not sent (declare the actor in this process, give ${option} ` +
      `as the actor itself rather than its name, or set options.${wire}_queue)`
    );
  }
  await broker.enqueue(new Message({ queueName, actorName: name, args, kwargs: {}, options: {} }));
  return undefined;
}
