import { pino, type Logger, type LoggerOptions, type DestinationStream } from "pino";
import { retryCount } from "./message-limits.ts";
import { redactJson, scrubSecrets } from "./redact.ts";

export type { Logger } from "pino";

/**
 * Structured JSON logs (pino). Every component logs through a child of one root logger,
 * named by `component`, so operators can filter by it. Message events carry the fields
 * `messageId`, `actor`, `queue`, `attempt` and `durationMs`.
 *
 * Level: `DRAMATS_LOG_LEVEL`, else `info` (`silent` turns logging off).
 */
let root: Logger = createRoot();

function createRoot(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const level = options.level ?? process.env.DRAMATS_LOG_LEVEL ?? "info";
  // Every line passes `redactJson`, so no broker password reaches the output (see lib/redact.ts),
  // and a logged error loses the credentials a driver attached to it (ioredis puts its failed
  // command, `HELLO 3 AUTH user password` included, on the error).
  const streamWrite = options.hooks?.streamWrite;
  const hooks = { ...options.hooks, streamWrite: streamWrite ? (s: string) => redactJson(streamWrite(s)) : redactJson };
  const serializers = { err: (error: unknown) => scrubSecrets(pino.stdSerializers.err(error as Error)), ...options.serializers };
  const merged: LoggerOptions = { name: "dramats", ...options, level, hooks, serializers };
  return destination ? pino(merged, destination) : pino(merged);
}

const children = new Map<string, Logger>();

/** The logger for one component (`worker`, `broker.redis`, `middleware.retries`...). */
export function getLogger(component: string): Logger {
  let child = children.get(component);
  if (child === undefined) {
    child = root.child({ component });
    children.set(component, child);
  }
  return child;
}

/**
 * Replaces the root logger, e.g. to change the level or write to a file.
 * Loggers handed out before keep working but write to the old root; components fetch theirs lazily.
 */
export function configureLogging(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  root = createRoot(options, destination);
  children.clear();
  return root;
}

/** The fields every log line about a message carries. */
export function messageFields(message: {
  messageId: string;
  actorName: string;
  queueName: string;
  options: { retries?: unknown };
  /** A MessageProxy's attempt, fixed when it was received. */
  attempt?: number;
}): Record<string, unknown> {
  return {
    messageId: message.messageId,
    actor: message.actorName,
    queue: message.queueName,
    attempt: message.attempt ?? retryCount(message.options) + 1,
  };
}
