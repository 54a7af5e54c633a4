import { isCredentialsRefused } from "../../lib/credentials-refused.ts";
import { BrokerError, ConnectionClosed, ConnectionFailed, DramatsError } from "../../lib/errors.ts";

export { MessageDeadLettered } from "../../lib/errors.ts";

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH"]);
const CONNECTION_MESSAGES = [
  "Connection is closed",
  "Stream isn't writeable",
  "Command timed out",
  "Reached the max retries per request limit",
  "Socket closed unexpectedly",
];

/** True for errors that mean "Redis could not be reached", as opposed to a server reply. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "MaxRetriesPerRequestError") return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && CONNECTION_CODES.has(code)) return true;
  return CONNECTION_MESSAGES.some((text) => error.message.includes(text));
}

/**
 * Translates an ioredis error at the boundary: connection problems become ConnectionFailed
 * (never connected) or ConnectionClosed, server errors BrokerError; ours pass through.
 */
export function toBrokerError(error: unknown, everConnected: boolean, what: string): Error {
  if (error instanceof DramatsError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  // Redis answers a wrong password with an error reply, but to the caller it is a broker it
  // cannot use, as if unreachable: retried like a lost connection, exit code 3 in the CLI.
  if (isCredentialsRefused(error)) return new ConnectionFailed(`Redis refused the credentials for ${what}: ${detail}`, { cause: error });
  if (isConnectionError(error)) {
    return everConnected
      ? new ConnectionClosed(`Redis connection lost during ${what}: ${detail}`, { cause: error })
      : new ConnectionFailed(`Could not connect to Redis for ${what}: ${detail}`, { cause: error });
  }
  return new BrokerError(`Redis ${what} failed: ${detail}`, { cause: error });
}
