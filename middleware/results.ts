import type { Broker } from "../lib/broker.ts";
import { MessageCancelled } from "../lib/errors.ts";
import type { Message } from "../lib/message.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import type { GetResultOptions, ResultBackend } from "../lib/results/backend.ts";
import { Middleware, resolveOption, type ProcessOutcome, type MiddlewareServices } from "./middleware.ts";

declare module "../lib/actor.ts" {
  interface ActorOptions {
    /** Store this actor's return value (or final failure) for `message.result()`. @defaultValue false */
    storeResults?: boolean;
    /** How long a stored result is kept, in ms. @defaultValue 600000 */
    resultTtl?: number;
  }
  interface MessageOverrides {
    /** {@inheritDoc ActorOptions.storeResults} */
    storeResults?: boolean;
    /** {@inheritDoc ActorOptions.resultTtl} */
    resultTtl?: number;
  }
}

/** Options of {@link Results}. */
export interface ResultsOptions {
  /** Where results are stored; readers must use the same one. */
  backend: ResultBackend;
  /** Store results for every actor unless it says otherwise. @defaultValue false */
  storeResults?: boolean;
  /** @defaultValue 600000 ms */
  resultTtl?: number;
}

/**
 * Stores what actors return, for `message.result()`: the value after a success, the error
 * after a final failure (never after a failure that will be retried), null after a skip.
 */
export class Results extends Middleware {
  override readonly actorOptions = new Set(["storeResults", "resultTtl"]);
  override readonly messageOptions = new Set(["storeResults", "resultTtl"]);
  /** Where results are stored. */
  readonly resultBackend: ResultBackend;
  /** Default for actors and messages that do not set `storeResults`. @defaultValue false */
  readonly storeResults: boolean;
  /** Default time a result is kept, in ms. @defaultValue 600000 */
  readonly resultTtl: number;

  constructor(options: ResultsOptions) {
    super();
    this.resultBackend = options.backend;
    this.storeResults = options.storeResults ?? false;
    this.resultTtl = options.resultTtl ?? 600_000;
  }

  /** True when results of `message` are stored (message option, then actor option, then default). */
  override readonly provides: Partial<MiddlewareServices> = { results: this };

  /** The stored result of `message` (what `message.result()` returns). */
  getResult<R>(message: Message, options: GetResultOptions): Promise<R> {
    return this.resultBackend.getResult<R>(message, options);
  }

  /**
   * Whether `message`'s result is stored: its own `storeResults` option, else its actor's, else this middleware's default.
   */
  storesResults(broker: Broker, message: Message): boolean {
    return resolveOption(message, broker.findActor(message.actorName), "storeResults", this.storeResults);
  }

  #ttl(broker: Broker, message: Message): number {
    return resolveOption(message, broker.findActor(message.actorName), "resultTtl", this.resultTtl);
  }

  /** {@inheritDoc MiddlewareHooks.afterProcessMessage} */
  async afterProcessMessage(broker: Broker, proxy: MessageProxy, outcome: ProcessOutcome): Promise<void> {
    if (proxy.failed || proxy.retry || !this.storesResults(broker, proxy.message)) return;
    const ttl = this.#ttl(broker, proxy.message);
    if (outcome.error === undefined) await this.resultBackend.storeResult(proxy.message, outcome.result, ttl);
    else if (outcome.error instanceof MessageCancelled) await this.resultBackend.storeFailure(proxy.message, outcome.error, ttl);
  }

  /** {@inheritDoc MiddlewareHooks.afterSkipMessage} */
  async afterSkipMessage(broker: Broker, proxy: MessageProxy): Promise<void> {
    if (proxy.failed || proxy.retry || !this.storesResults(broker, proxy.message)) return;
    const ttl = this.#ttl(broker, proxy.message);
    // A cancelled message is recorded as cancelled; any other skip stores null, as in Dramatiq.
    if (proxy.error instanceof MessageCancelled) await this.resultBackend.storeFailure(proxy.message, proxy.error, ttl);
    else await this.resultBackend.storeResult(proxy.message, null, ttl);
  }

  /** Closes the result backend (a Redis one's connections) with the broker. */
  override async close(): Promise<void> {
    await this.resultBackend.close();
  }

  /** {@inheritDoc MiddlewareHooks.afterNack} */
  async afterNack(broker: Broker, proxy: MessageProxy): Promise<void> {
    if (broker.findActor(proxy.actorName) === undefined || !this.storesResults(broker, proxy.message)) return;
    await this.resultBackend.storeFailure(proxy.message, proxy.error, this.#ttl(broker, proxy.message));
  }
}
