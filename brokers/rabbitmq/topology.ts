import { deadLetterQueueName, delayQueueName } from "../../lib/queue-names.ts";

/**
 * Queue names and arguments. `q`, `q.DQ` and `q.XQ` are declared exactly as Python Dramatiq
 * declares them (durable; `q` and `q.DQ` dead-letter into `q.XQ` through the default exchange;
 * `x-max-priority` only when a maximum priority is configured; `q.XQ` keeps messages for the
 * dead-message TTL), so a mixed fleet redeclares them without PRECONDITION_FAILED.
 */

/** Dramatiq's default dead-message TTL: 7 days, in ms. */
export const DEFAULT_DEAD_MESSAGE_TTL = 7 * 24 * 3600 * 1000;

export type QueueArguments = Record<string, string | number>;

/** Arguments of `q` and `q.DQ`, key for key what Dramatiq's `_build_queue_arguments` sends. */
export function queueArguments(queueName: string, maxPriority: number | undefined): QueueArguments {
  const args: QueueArguments = {
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": deadLetterQueueName(queueName),
  };
  if (maxPriority !== undefined) args["x-max-priority"] = maxPriority;
  return args;
}

/** Arguments of `q.XQ`: only the dead-message TTL, as Dramatiq declares it. */
export function deadQueueArguments(deadMessageTtl: number): QueueArguments {
  return { "x-message-ttl": deadMessageTtl };
}

/** The three Dramatiq queues of a canonical queue name, with their declare arguments. */
export function dramatiqQueues(
  queueName: string,
  options: { maxPriority: number | undefined; deadMessageTtl: number },
): { name: string; arguments: QueueArguments }[] {
  return [
    { name: queueName, arguments: queueArguments(queueName, options.maxPriority) },
    { name: delayQueueName(queueName), arguments: queueArguments(queueName, options.maxPriority) },
    { name: deadLetterQueueName(queueName), arguments: deadQueueArguments(options.deadMessageTtl) },
  ];
}

/**
 * Maps a dramats priority (lower runs first) to an AMQP one (higher is served first):
 * `maxPriority - clamp(priority, 0, maxPriority)`. Without a maximum, priorities are not sent.
 */
export function amqpPriority(priority: number, maxPriority: number | undefined): number | undefined {
  if (maxPriority === undefined) return undefined;
  const clamped = Math.min(Math.max(Math.trunc(priority) || 0, 0), maxPriority);
  return maxPriority - clamped;
}
