import { randomUUID } from "node:crypto";
import type { Broker } from "./broker.ts";
import { getBroker } from "./global-broker.ts";
import { DramatsError, InvalidOptions } from "./errors.ts";
import type { GetResultOptions } from "./results/backend.ts";
import { showValue } from "./send-options.ts";

/** A JSON value: what may travel inside a message. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Per-message options. Keys are Dramatiq's snake_case wire names so that Python
 * workers read them; unknown keys are carried along untouched.
 */
export interface MessageOptions {
  /** Epoch ms at which a delayed message becomes due (Dramatiq's `.DQ` field). */
  eta?: number;
  /** dramats priority: lower runs first. */
  priority?: number;
  /** How many times the message was retried so far (set by Retries). */
  retries?: number;
  /** Wire form of `maxRetries`: retries before dead-lettering; `null` retries forever. */
  max_retries?: number | null;
  /** Wire form of `minBackoff`: backoff before the first retry, in ms. */
  min_backoff?: number;
  /** Wire form of `maxBackoff`: ceiling of the retry backoff, in ms. */
  max_backoff?: number;
  /** Wire form of `maxAge`: ms after the first enqueue past which the message is skipped. */
  max_age?: number;
  /** Wire form of `timeLimit`: ms the actor may run. */
  time_limit?: number;
  /** The last failure's stack (shortened), recorded by Retries before a retry. */
  traceback?: string;
  /** Epoch ms at which Retries re-enqueued the message. */
  requeue_timestamp?: number;
  /** Wire form of `onSuccess`: name of the actor sent the result after a success. */
  on_success?: string;
  /** Wire form of `onFailure`: name of the actor sent the error after a final failure. */
  on_failure?: string;
  /** Wire form of `onRetryExhausted`: name of the actor sent the message once retries run out. */
  on_retry_exhausted?: string;
  /** Wire form of `notifyShutdown`: interrupt the run when the worker shuts down. */
  notify_shutdown?: boolean;
  /** The next pipeline step, sent with this step's result once it succeeds. */
  pipe_target?: MessageData;
  /** Wire form of `pipeIgnore`: this step does not receive the previous step's result. */
  pipe_ignore?: boolean;
  [key: string]: unknown;
}

/** @internal Remembers which broker a message went through, for `result()` and `cancel()`. */
export function bindBroker(message: Message<any, any>, broker: Broker): void {
  Message.bind(message, broker);
}

/** @internal The broker a message was sent through or built for, if known. */
export function boundBroker(message: Message<any, any>): Broker | undefined {
  return Message.boundTo(message);
}

/** The wire shape, field for field and in Dramatiq's order. */
export interface MessageData {
  /** Queue the message goes to. */
  queue_name: string;
  /** Name of the actor that runs it. */
  actor_name: string;
  /** Positional arguments of the call. */
  args: unknown[];
  /** Keyword arguments of the call (for Python actors). */
  kwargs: Record<string, unknown>;
  /** Per-message options. */
  options: MessageOptions;
  /** Unique id (a UUID unless given). */
  message_id: string;
  /** Epoch ms of the first enqueue. */
  message_timestamp: number;
}

/**
 * One call of an actor, as it travels through the broker.
 * Immutable apart from `options`, which middleware may annotate (as in Dramatiq).
 */
export class Message<A extends unknown[] = unknown[], R = unknown> {
  /** Queue the message goes to. */
  readonly queueName: string;
  /** Name of the actor that runs it. */
  readonly actorName: string;
  /** Positional arguments of the call. */
  readonly args: A;
  /** Keyword arguments of the call (for Python actors). @defaultValue `{}` */
  readonly kwargs: Record<string, unknown>;
  /** Per-message options (wire names), which middleware may annotate. */
  readonly options: MessageOptions;
  /** Unique id. @defaultValue a random UUID */
  readonly messageId: string;
  /** Epoch ms of the first enqueue; kept by retries and copies. */
  readonly messageTimestamp: number;
  #broker: Broker | undefined = undefined;

  /** @internal */
  static bind(message: Message<any, any>, broker: Broker): void {
    message.#broker = broker;
  }

  /** @internal */
  static boundTo(message: Message<any, any>): Broker | undefined {
    return message.#broker;
  }

  constructor(fields: {
    queueName: string;
    actorName: string;
    args: A;
    kwargs?: Record<string, unknown>;
    options?: MessageOptions;
    messageId?: string;
    messageTimestamp?: number;
  }) {
    // Cheap type checks only (this runs for every message, decoded ones included): the
    // encoder checks the values themselves at send.
    if (!Array.isArray(fields.args)) throw invalidField(fields.actorName, "`args` must be an array", fields.args);
    if (fields.kwargs != null && !isObject(fields.kwargs)) throw invalidField(fields.actorName, "`kwargs` must be an object", fields.kwargs);
    if (fields.options != null && !isObject(fields.options)) throw invalidField(fields.actorName, "`options` must be an object", fields.options);
    this.queueName = fields.queueName;
    this.actorName = fields.actorName;
    this.args = fields.args;
    this.kwargs = fields.kwargs ?? {};
    this.options = fields.options ?? {};
    this.messageId = fields.messageId ?? randomUUID();
    this.messageTimestamp = fields.messageTimestamp ?? Date.now();
  }

  /** Builds a message from its wire shape (already validated by the encoder). */
  static fromData<A extends unknown[] = unknown[]>(data: MessageData): Message<A> {
    return new Message<A>({
      queueName: data.queue_name,
      actorName: data.actor_name,
      args: data.args as A,
      kwargs: data.kwargs,
      options: data.options,
      messageId: data.message_id,
      messageTimestamp: data.message_timestamp,
    });
  }

  /** The wire shape, in Dramatiq's field order. */
  asData(): MessageData {
    return {
      queue_name: this.queueName,
      actor_name: this.actorName,
      args: this.args,
      kwargs: this.kwargs,
      options: this.options,
      message_id: this.messageId,
      message_timestamp: this.messageTimestamp,
    };
  }

  /** A copy with some fields changed; `options` are merged into the old ones, as in Dramatiq. */
  copy(changes: { queueName?: string; args?: A; kwargs?: Record<string, unknown>; options?: MessageOptions } = {}): Message<A, R> {
    const copy = new Message<A, R>({
      queueName: changes.queueName ?? this.queueName,
      actorName: this.actorName,
      args: changes.args ?? this.args,
      kwargs: changes.kwargs ?? this.kwargs,
      options: { ...this.options, ...changes.options },
      messageId: this.messageId,
      messageTimestamp: this.messageTimestamp,
    });
    copy.#broker = this.#broker;
    return copy;
  }

  /**
   * The actor's return value, once stored by the Results middleware. Waits up to `timeout`
   * ms unless `block` is false (how it waits is the result backend's: Redis is woken by a
   * publish, store backends poll).
   * @throws ResultFailure when the actor failed for good, ResultTimeout, ResultMissing, or
   *   DramatsError when results are not stored for this actor.
   */
  async result(options: GetResultOptions & { broker?: Broker } = {}): Promise<R> {
    const broker = options.broker ?? this.#broker ?? getBroker();
    const results = broker.service("results");
    if (results === undefined) {
      throw new DramatsError("message.result() needs the Results middleware: broker.addMiddleware(new Results({ backend }))");
    }
    if (!results.storesResults(broker, this)) {
      throw new DramatsError(`Actor ${JSON.stringify(this.actorName)} does not store results: declare it with { storeResults: true }`);
    }
    return results.getResult<R>(this, options);
  }

  /**
   * Cancels this message on every worker: if still queued or delayed it never runs; if
   * running, its actor's signal aborts with MessageCancelled.
   * @throws DramatsError without the Cancellation middleware.
   */
  async cancel(options: { broker?: Broker } = {}): Promise<void> {
    const broker = options.broker ?? this.#broker ?? getBroker();
    const cancellation = broker.service("cancellation");
    if (cancellation === undefined) {
      throw new DramatsError("message.cancel() needs the Cancellation middleware: broker.addMiddleware(new Cancellation({ backend }))");
    }
    await cancellation.cancel(this.messageId);
  }

  /** `actor(arg1, arg2)`, with the arguments as JSON, for logs. */
  toString(): string {
    return `${this.actorName}(${this.args.map((a) => JSON.stringify(a)).join(", ")})`;
  }
}

function isObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalidField(actorName: string, what: string, value: unknown): InvalidOptions {
  return new InvalidOptions(`Message ${actorName}: ${what}, got ${showValue(value)}`);
}

/**
 * @internal A dead letter's message as it runs again (`Broker.reviveDeadLetter`): without the
 * `retries` count, the last `traceback` and any `eta`; undefined when `decode` throws.
 */
export function revive(decode: () => Message): Message | undefined {
  let message: Message;
  try {
    message = decode();
  } catch {
    return undefined;
  }
  const { retries: _retries, traceback: _traceback, eta: _eta, ...options } = message.options;
  return new Message({ ...message, args: message.args, options });
}
