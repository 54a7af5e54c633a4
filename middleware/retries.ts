import type { Actor } from "../lib/actor.ts";
import { computeBackoff } from "../lib/backoff.ts";
import type { Broker } from "../lib/broker.ts";
import { describeError, InvalidOptions, MessageCancelled, Retry } from "../lib/errors.ts";
import { messageLimit, retryCount } from "../lib/message-limits.ts";
import { getLogger, messageFields } from "../lib/logging.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import { sendCallback } from "./callback-target.ts";
import { Middleware, resolveOption, type ProcessOutcome } from "./middleware.ts";

/** Decides whether to retry: called with the number of retries so far and the error. */
export type RetryWhen = (retries: number, error: unknown) => boolean;

/** Error classes that must not be retried. */
export type ErrorClass = abstract new (...args: never[]) => unknown;

declare module "../lib/actor.ts" {
  interface ActorOptions {
    /** Retries before dead-lettering; `null` retries forever. @defaultValue 20 */
    maxRetries?: number | null;
    /** Backoff before the first retry, in ms (doubles each time). @defaultValue 15000 */
    minBackoff?: number;
    /** Ceiling of the backoff, in ms. @defaultValue 604800000 (7 days) */
    maxBackoff?: number;
    /** Replaces `maxRetries`: retry while it returns true. */
    retryWhen?: RetryWhen;
    /** Errors of these classes fail the message at once, without retries. */
    throws?: ErrorClass | ErrorClass[];
    /** Actor (or its name) sent `(message, { retries, maxRetries })` when retries run out. */
    onRetryExhausted?: string | Actor;
  }
  interface MessageOverrides {
    /** {@inheritDoc ActorOptions.maxRetries} */
    maxRetries?: number | null;
    /** {@inheritDoc ActorOptions.minBackoff} */
    minBackoff?: number;
    /** {@inheritDoc ActorOptions.maxBackoff} */
    maxBackoff?: number;
    /** {@inheritDoc ActorOptions.onRetryExhausted} */
    onRetryExhausted?: string | Actor;
  }
}

/** Options of {@link Retries}; actors and messages override them. */
export interface RetriesOptions {
  /** @defaultValue 20 */
  maxRetries?: number | null;
  /** @defaultValue 15000 ms */
  minBackoff?: number;
  /** @defaultValue 604800000 ms (7 days) */
  maxBackoff?: number;
  /** Replaces `maxRetries` for every actor that sets no `retryWhen`: retry while it returns true. */
  retryWhen?: RetryWhen;
}

const TRACEBACK_LINES = 30;

/**
 * Retries failed messages with exponential backoff and jitter, then dead-letters them.
 * The retry is re-enqueued with its delay and the original acknowledged as one broker step.
 */
export class Retries extends Middleware {
  override readonly actorOptions = new Set(["maxRetries", "minBackoff", "maxBackoff", "retryWhen", "throws", "onRetryExhausted"]);
  override readonly messageOptions = new Set(["maxRetries", "minBackoff", "maxBackoff", "onRetryExhausted"]);
  /** Default retries before dead-lettering; `null` retries forever. @defaultValue 20 */
  readonly maxRetries: number | null;
  /** Default backoff before the first retry, in ms. @defaultValue 15000 */
  readonly minBackoff: number;
  /** Default ceiling of the backoff, in ms. @defaultValue 604800000 (7 days) */
  readonly maxBackoff: number;
  /** Default retry predicate, used in place of `maxRetries` when set. */
  readonly retryWhen: RetryWhen | undefined;

  constructor(options: RetriesOptions = {}) {
    super();
    this.maxRetries = options.maxRetries === undefined ? 20 : options.maxRetries;
    this.minBackoff = options.minBackoff ?? 15_000;
    this.maxBackoff = options.maxBackoff ?? 604_800_000;
    this.retryWhen = options.retryWhen;
  }

  // Synchronous (no promise) after a success: the common case per message.
  /** {@inheritDoc MiddlewareHooks.afterProcessMessage} */
  afterProcessMessage(broker: Broker, proxy: MessageProxy, outcome: ProcessOutcome): void | Promise<void> {
    if (outcome.error === undefined) return;
    return this.#failed(broker, proxy, outcome.error);
  }

  async #failed(broker: Broker, proxy: MessageProxy, error: unknown): Promise<void> {
    const log = getLogger("middleware.retries");
    const actor = broker.findActor(proxy.actorName);
    const message = proxy.message;

    // A cancelled message is done, not failed: it is acknowledged, never retried or dead-lettered.
    if (error instanceof MessageCancelled) return;

    const throws = actor?.options.throws;
    if (throws !== undefined && (Array.isArray(throws) ? throws : [throws]).some((cls) => error instanceof cls)) {
      log.info({ ...messageFields(proxy), error: describeError(error) }, "Aborting message: error is in `throws`, no retry");
      proxy.fail(error);
      return;
    }

    const retries = retryCount(message.options);
    message.options.retries = retries + 1;
    message.options.traceback = traceback(error);
    message.options.requeue_timestamp = Date.now();

    let maxRetries: number | null;
    let minBackoff: number;
    let maxBackoff: number;
    try {
      maxRetries = messageLimit(message, actor, "maxRetries", this.maxRetries, { integer: true, nullable: true });
      minBackoff = messageLimit(message, actor, "minBackoff", this.minBackoff, { uncapped: true }) as number;
      maxBackoff = messageLimit(message, actor, "maxBackoff", this.maxBackoff, { uncapped: true }) as number;
    } catch (invalid) {
      if (!(invalid instanceof InvalidOptions)) throw invalid;
      // Not retried: its options would be just as wrong next time.
      proxy.fail(error);
      proxy.deadLetterReason = `${describeError(invalid)} (the run failed with ${describeError(error)})`;
      return;
    }
    const retryWhen = actor?.options.retryWhen ?? this.retryWhen;
    const giveUp = retryWhen ? !retryWhen(retries, error) : maxRetries !== null && retries >= maxRetries;
    if (giveUp) {
      // The worker's "Message dead-lettered" line (error level) is the one an operator acts on.
      log.debug({ ...messageFields(proxy), retries, maxRetries }, "Retries exceeded");
      proxy.fail(error);
      const exhausted = resolveOption<string | Actor | undefined>(message, actor, "onRetryExhausted", undefined);
      if (exhausted !== undefined) {
        const unsent = await sendCallback(broker, message, "onRetryExhausted", exhausted, [message.asData(), { retries, maxRetries }]).catch(
          (failed: unknown) => `its onRetryExhausted callback could not be enqueued: ${describeError(failed)}`,
        );
        if (unsent !== undefined) proxy.deadLetterReason = `${describeError(error)}; ${unsent}`;
      }
      return;
    }

    let delay: number;
    if (error instanceof Retry && error.delay !== undefined) {
      delay = error.delay;
    } else {
      delay = computeBackoff(retries + 1, minBackoff, maxBackoff);
    }
    log.info({ ...messageFields(proxy), delayMs: delay, error: describeError(error) }, "Retrying message");
    proxy.retry = { message: message.copy(), delay };
  }
}

function traceback(error: unknown): string {
  const text = error instanceof Error ? (error.stack ?? describeError(error)) : describeError(error);
  const lines = text.split("\n");
  return lines.length > TRACEBACK_LINES ? lines.slice(0, TRACEBACK_LINES).join("\n") : text;
}
