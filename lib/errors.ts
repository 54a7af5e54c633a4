/**
 * The dramats error tree. Every error has a stable `code` (for logs, metrics and
 * programmatic checks) and keeps the driver error it wraps as `cause`.
 *
 * Mirrors Dramatiq's hierarchy: DramatsError → BrokerError → ActorNotFound, ...
 */

/** Base class of every error dramats throws on purpose. */
export class DramatsError extends Error {
  /** A stable, documented identifier such as `DRAMATS_ERR_QUEUE_NOT_FOUND`. */
  readonly code: string = "DRAMATS_ERR";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Raised by brokers: missing actors or queues, lost connections. */
export class BrokerError extends DramatsError {
  override readonly code: string = "DRAMATS_ERR_BROKER";
}

/** A message names an actor this broker does not know. */
export class ActorNotFound extends BrokerError {
  override readonly code = "DRAMATS_ERR_ACTOR_NOT_FOUND";
  /** @param actorName The name that was not found. */
  constructor(readonly actorName: string) {
    super(`Actor ${JSON.stringify(actorName)} is not declared on this broker`);
  }
}

/** An operation named a queue that was never declared. */
export class QueueNotFound extends BrokerError {
  override readonly code = "DRAMATS_ERR_QUEUE_NOT_FOUND";
  /** @param queueName The queue that was not declared. */
  constructor(readonly queueName: string) {
    super(`Queue ${JSON.stringify(queueName)} has not been declared`);
  }
}

/**
 * The broker holds the queue already, declared with arguments other than the ones this broker
 * asks for (RabbitMQ's 406 PRECONDITION_FAILED "inequivalent arg"): a configuration mismatch
 * between the processes that share the queue, not a connection problem. The message names the
 * queue, the argument, both values and the fix.
 */
export class QueueArgumentsMismatch extends BrokerError {
  override readonly code = "DRAMATS_ERR_QUEUE_ARGUMENTS_MISMATCH";
  /** The broker-side queue (`q`, `q.DQ` or `q.XQ`). */
  readonly queueName: string;
  /** The argument that differs, such as `x-max-priority`. */
  readonly argument: string;
  /** Its value on the existing queue; undefined when the queue has none. */
  readonly existing: string | undefined;
  /** The value this broker declared; undefined when it declared none. */
  readonly requested: string | undefined;

  constructor(
    message: string,
    details: { queueName: string; argument: string; existing: string | undefined; requested: string | undefined },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.queueName = details?.queueName;
    this.argument = details?.argument;
    this.existing = details?.existing;
    this.requested = details?.requested;
  }
}

/** True for a {@link QueueArgumentsMismatch}, also one from another copy of this module (an adapter loaded by URL), by its code. */
export function isArgumentsMismatch(error: unknown): error is QueueArgumentsMismatch {
  return error instanceof Error && (error as { code?: unknown }).code === "DRAMATS_ERR_QUEUE_ARGUMENTS_MISMATCH";
}

/** The broker could not be reached or the connection dropped. */
export class ConnectionError extends BrokerError {
  override readonly code: string = "DRAMATS_ERR_CONNECTION";
}

/** Connecting to the broker failed. */
export class ConnectionFailed extends ConnectionError {
  override readonly code = "DRAMATS_ERR_CONNECTION_FAILED";
}

/** An established connection was closed underneath an operation. */
export class ConnectionClosed extends ConnectionError {
  override readonly code = "DRAMATS_ERR_CONNECTION_CLOSED";
}

/** Bytes that are not a valid dramats/Dramatiq message. Keeps the raw data. */
export class DecodeError extends DramatsError {
  override readonly code = "DRAMATS_ERR_DECODE";
  constructor(
    message: string,
    /** The raw data that failed to decode. */
    readonly data: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A value that cannot travel as JSON (a function, a BigInt, a Date, a cycle...). */
export class EncodeError extends DramatsError {
  override readonly code = "DRAMATS_ERR_ENCODE";
}

/** An encoded message is larger than the encoder's `maxSize`. */
export class MessageTooLarge extends DramatsError {
  override readonly code = "DRAMATS_ERR_MESSAGE_TOO_LARGE";
  constructor(
    /** Size of the encoded message, in bytes. */
    readonly size: number,
    /** The encoder's limit, in bytes. */
    readonly maxSize: number,
  ) {
    super(`Message of ${size} bytes exceeds the limit of ${maxSize} bytes`);
  }
}

/**
 * `join({ failFast })` saw a message of the queue dead-lettered by another process (in the
 * same process, join re-throws the actor's own error instead). Carries the stored reason.
 */
export class MessageDeadLettered extends BrokerError {
  override readonly code = "DRAMATS_ERR_DEAD_LETTERED";
  constructor(
    /** The joined queue. */
    readonly queueName: string,
    /** Id of the dead-lettered message. */
    readonly messageId: string,
    /** The reason stored with the dead letter. */
    readonly reason: string,
  ) {
    super(`Message ${messageId} of queue ${JSON.stringify(queueName)} was dead-lettered: ${reason}`);
  }
}

/** `join` did not see the queue drain in time. */
export class QueueJoinTimeout extends DramatsError {
  override readonly code = "DRAMATS_ERR_QUEUE_JOIN_TIMEOUT";
  /**
   * @param queueName The joined queue.
   * @param timeout The join's timeout, in ms.
   */
  constructor(readonly queueName: string, readonly timeout: number) {
    super(`Queue ${JSON.stringify(queueName)} did not drain within ${timeout} ms`);
  }
}

/** A rate limiter refused to admit more work. */
export class RateLimitExceeded extends DramatsError {
  override readonly code = "DRAMATS_ERR_RATE_LIMIT_EXCEEDED";
}

/** An actor declaration or a constructor got options it does not accept. */
export class InvalidOptions extends DramatsError {
  override readonly code = "DRAMATS_ERR_INVALID_OPTIONS";
}

/**
 * A send was given a database client (`sendWithOptions({ db })`, `withTransaction`) by a broker
 * that cannot write through it: only a broker in that database (PostgreSQL) can enqueue inside
 * the application's transaction.
 */
export class TransactionsUnsupported extends BrokerError {
  override readonly code = "DRAMATS_ERR_TRANSACTIONS_UNSUPPORTED";
  /** @param brokerName The broker's class name. */
  constructor(readonly brokerName: string) {
    super(`${brokerName} cannot enqueue inside a database transaction (\`db\`): only PostgresBroker can`);
  }
}

/**
 * Throw from an actor to ask for a retry, optionally after `delay` ms.
 * Retries treats it like any failure, but does not log it as an error.
 */
export class Retry extends DramatsError {
  override readonly code = "DRAMATS_ERR_RETRY";
  constructor(
    message = "Retry requested",
    /** Milliseconds before the retry runs; unset uses the Retries backoff. */
    readonly delay?: number,
  ) {
    super(message);
  }
}

/**
 * Base of errors that interrupt a running actor (Dramatiq's `Interrupt`).
 * Delivered through the actor's AbortSignal.
 */
export class Interrupt extends DramatsError {
  override readonly code: string = "DRAMATS_ERR_INTERRUPT";
}

/** The actor ran past its time limit. */
export class TimeLimitExceeded extends Interrupt {
  override readonly code = "DRAMATS_ERR_TIME_LIMIT_EXCEEDED";
}

/** The worker is shutting down and the actor asked to be told. */
export class Shutdown extends Interrupt {
  override readonly code = "DRAMATS_ERR_SHUTDOWN";
}

/** Errors a middleware raises on purpose; these propagate out of before-hooks. */
export class MiddlewareError extends DramatsError {
  override readonly code: string = "DRAMATS_ERR_MIDDLEWARE";
}

/** Raised in `beforeProcessMessage` to skip running the actor. */
export class SkipMessage extends MiddlewareError {
  override readonly code = "DRAMATS_ERR_SKIP_MESSAGE";
}

/** Base of the errors `message.result()` raises. */
export class ResultError extends DramatsError {
  override readonly code: string = "DRAMATS_ERR_RESULT";
}

/** A non-blocking result lookup found nothing (yet). */
export class ResultMissing extends ResultError {
  override readonly code = "DRAMATS_ERR_RESULT_MISSING";
}

/** No result arrived within the timeout. */
export class ResultTimeout extends ResultError {
  override readonly code = "DRAMATS_ERR_RESULT_TIMEOUT";
}

/**
 * The actor failed for good; carries the original error's type and message
 * (stored in Dramatiq's format, so results written by Python workers read the same).
 */
export class ResultFailure extends ResultError {
  override readonly code = "DRAMATS_ERR_RESULT_FAILURE";
  constructor(
    message: string,
    /** The original error's class name (Dramatiq's `type`). */
    readonly origExcType: string,
    /** The original error's message (Dramatiq's `msg`). */
    readonly origExcMsg: string,
  ) {
    super(message);
  }
}

/** The message was cancelled before or while it ran. */
export class MessageCancelled extends DramatsError {
  override readonly code = "DRAMATS_ERR_MESSAGE_CANCELLED";
}

/** Every error class with its code, in one place (the README table is checked against it). */
export const ERROR_CLASSES = [
  DramatsError,
  BrokerError,
  ActorNotFound,
  QueueNotFound,
  QueueArgumentsMismatch,
  ConnectionError,
  ConnectionFailed,
  ConnectionClosed,
  MessageDeadLettered,
  DecodeError,
  EncodeError,
  MessageTooLarge,
  QueueJoinTimeout,
  RateLimitExceeded,
  InvalidOptions,
  TransactionsUnsupported,
  Retry,
  Interrupt,
  TimeLimitExceeded,
  Shutdown,
  MiddlewareError,
  SkipMessage,
  ResultError,
  ResultMissing,
  ResultTimeout,
  ResultFailure,
  MessageCancelled,
] as const;

/** A short `Name: message` description of any thrown value, for logs and dead-letter reasons. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `Error: ${String(error)}`;
}
