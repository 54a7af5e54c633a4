import { QueueArgumentsMismatch } from "../../lib/errors.ts";

/**
 * RabbitMQ answers a `queue.declare` whose arguments differ from the existing queue's with 406
 * PRECONDITION_FAILED, and the text names both values, e.g. "inequivalent arg 'x-max-priority'
 * for queue 'q' in vhost '/': received none but current is the value '10' of type 'byte'" (or
 * "received '2000' but current is '1000'" for some types). AMQP has no other way to read a
 * queue's arguments (a passive declare tells only that it exists) and the management API is not
 * required, so the text is what we have. This turns such an error into a typed
 * {@link QueueArgumentsMismatch} that says what to change; other errors pass through unchanged.
 * Parsed with `indexOf`, never a regular expression: it is the server's text.
 */
export function explainDeclareError(error: unknown): unknown {
  if ((error as { code?: unknown } | null)?.code !== 406 || !(error instanceof Error)) return error;
  const text = error.message;
  const argument = between(text, "inequivalent arg '", "'");
  const queueName = between(text, " for queue '", "' in vhost");
  const received = between(text, ": received ", " but current is ");
  const currentAt = text.indexOf(" but current is ");
  if (argument === undefined || queueName === undefined || received === undefined || currentAt < 0) return error;
  let current = text.slice(currentAt + " but current is ".length);
  if (current.endsWith('"')) current = current.slice(0, -1);
  const requested = value(received);
  const existing = value(current);
  const message =
    `RabbitMQ queue ${JSON.stringify(queueName)} exists with ${argument} ${existing ?? "unset"}, but this broker declares it ` +
    `with ${argument} ${requested ?? "unset"} (406 PRECONDITION_FAILED): ${fix(argument, existing)}`;
  return new QueueArgumentsMismatch(message, { queueName, argument, existing, requested }, { cause: error });
}

function fix(argument: string, existing: string | undefined): string {
  const deleteIt = "or delete the queue (its messages are lost) so that it is declared anew";
  if (argument === "x-max-priority") {
    if (existing === undefined) {
      return `remove max_priority from the broker URL (the maxPriority option) to declare it as Python Dramatiq does by default, ${deleteIt} with priorities`;
    }
    return `add ?max_priority=${existing} to the broker URL (or pass maxPriority: ${existing}), as the queue's other producers and workers declare it, ${deleteIt}`;
  }
  if (argument === "x-message-ttl" && existing !== undefined) {
    return `set the deadMessageTtl option (or env dramatiq_dead_message_ttl) to ${existing}, as the queue's other users do, ${deleteIt}`;
  }
  return `declare it as the queue's other users do (${argument} ${existing ?? "unset"}), ${deleteIt}`;
}

/** `none` → undefined; `the value '10' of type 'byte'` → "10"; `'2000'` → "2000". */
function value(phrase: string): string | undefined {
  const text = phrase.trim();
  if (text === "none") return undefined;
  const typed = text.startsWith("the value '") ? text.slice("the value '".length) : text.startsWith("'") ? text.slice(1) : text;
  const end = typed.lastIndexOf("' of type '");
  if (end >= 0) return typed.slice(0, end);
  return typed.endsWith("'") ? typed.slice(0, -1) : typed;
}

function between(text: string, start: string, end: string): string | undefined {
  const from = text.indexOf(start);
  if (from < 0) return undefined;
  const to = text.indexOf(end, from + start.length);
  return to < 0 ? undefined : text.slice(from + start.length, to);
}
