import type { Delivery } from "./broker.ts";
import type { Message } from "./message.ts";
import { retryCount } from "./message-limits.ts";

/** A retry the Retries middleware asked for: the next attempt and its delay (ms). */
export interface RetryRequest {
  /** The next attempt to enqueue. */
  message: Message;
  /** Milliseconds before it may run. */
  delay: number;
}

/**
 * A consumed message as the worker and middleware see it: the message, the broker's
 * delivery handle, and the run's state (failed, its error, an abort signal, a pending retry).
 */
export class MessageProxy<A extends unknown[] = unknown[]> {
  /** The message being processed. */
  readonly message: Message<A>;
  /** The broker's handle for ack/nack; opaque outside the broker. */
  readonly delivery: Delivery;
  /** Set by `fail()`: the message ends in the dead-letter queue. */
  failed = false;
  /** The error the actor threw, or why the message failed. */
  error: unknown = undefined;
  /** Why the message was dead-lettered, stored with it in `<queue>.XQ`. */
  deadLetterReason: string | undefined = undefined;
  /** A retry to enqueue atomically with the ack of this delivery. */
  retry: RetryRequest | undefined = undefined;
  /** Epoch ms when the actor started, set by the worker. */
  startedAt = 0;
  /** Which attempt this delivery is (1 for the first), fixed at receipt: Retries bumps the message's count before logging. */
  readonly attempt: number;
  // Created on first use: most runs are never interrupted nor look at their signal.
  #abort: AbortController | undefined;
  #abortReason: Error | undefined;
  /** Called once if the run is aborted (the worker uses it to fail the run at once). */
  onAbort: ((reason: Error) => void) | undefined = undefined;

  constructor(message: Message<A>, delivery: Delivery) {
    this.message = message;
    this.delivery = delivery;
    this.attempt = retryCount(message.options) + 1;
  }

  /** The message's id. */
  get messageId(): string {
    return this.message.messageId;
  }
  /** Name of the message's actor. */
  get actorName(): string {
    return this.message.actorName;
  }
  /** Queue the message came from. */
  get queueName(): string {
    return this.message.queueName;
  }
  /** The message's options (wire names). */
  get options(): Message["options"] {
    return this.message.options;
  }
  /** True when the broker says this message was delivered before (a redelivery). */
  get redelivered(): boolean {
    return this.delivery.redelivered === true;
  }

  /** Marks the message failed, so it is nacked into the dead-letter queue. */
  fail(reason?: unknown): void {
    this.failed = true;
    if (reason !== undefined) this.error = reason;
  }

  /** Aborted when a middleware interrupts the run (time limit, shutdown). */
  get signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.#abortReason !== undefined) this.#abort.abort(this.#abortReason);
    }
    return this.#abort.signal;
  }

  /** The error the run was aborted with, if it was. */
  get abortReason(): Error | undefined {
    return this.#abortReason;
  }

  /** Interrupts the running actor: its signal aborts and the run fails with `reason`. */
  abort(reason: Error): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#abort?.abort(reason);
    this.onAbort?.(reason);
  }

  /** The message as `actor(args...)`, for logs. */
  toString(): string {
    return this.message.toString();
  }
}
