import { ConnectionFailed } from "../../lib/errors.ts";

/**
 * amqplib reports a refused `connection.open` (RabbitMQ's 530 NOT_ALLOWED: the vhost does not
 * exist, or the user has no permission on it) as "Expected ConnectionOpenOk; got
 * <ConnectionClose channel:0>", without the server's reason. Since the URL says which vhost and
 * user were asked for, the error can say what to check. Other errors pass through unchanged.
 */
export function explainOpenError(error: unknown, url: string): unknown {
  if (!(error instanceof Error) || !error.message.startsWith("Expected ConnectionOpenOk; got <ConnectionClose")) return error;
  let vhost = "/";
  let user = "guest";
  try {
    const parsed = new URL(url);
    // amqp://host/ and amqp://host are both the default vhost "/"; amqp://host/%2F is "/" too.
    if (parsed.pathname.length > 1) vhost = decodeURIComponent(parsed.pathname.slice(1));
    if (parsed.username) user = decodeURIComponent(parsed.username);
  } catch {
    // Unparsable URLs never get this far (connecting needs one); keep the defaults.
  }
  return new ConnectionFailed(`RabbitMQ refused to open vhost ${JSON.stringify(vhost)} for user ${JSON.stringify(user)}: the vhost does not exist or the user has no permission on it (NOT_ALLOWED)`, { cause: error });
}
