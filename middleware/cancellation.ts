import type { Broker } from "../lib/broker.ts";
import { MessageCancelled, SkipMessage } from "../lib/errors.ts";
import type { CancellationBackend } from "../lib/cancellation/backend.ts";
import { getLogger, messageFields } from "../lib/logging.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import { Middleware, type MiddlewareServices } from "./middleware.ts";

/** Options of {@link Cancellation}. */
export interface CancellationOptions {
  /** Where cancellations are recorded and announced; use one every process shares (e.g. Redis). */
  backend: CancellationBackend;
  /** How long a cancellation is remembered, in ms: longer than any message may wait. @defaultValue 7 days */
  ttl?: number;
}

/**
 * Makes `message.cancel()` work: a cancelled message that is still queued or delayed is
 * acknowledged without running when it comes up; a running one has its signal aborted with
 * MessageCancelled. Either way it is recorded as cancelled, not dead-lettered.
 */
export class Cancellation extends Middleware {
  /** Where cancellations are recorded and announced. */
  readonly backend: CancellationBackend;
  /** How long a cancellation is remembered, in ms. @defaultValue 604800000 (7 days) */
  readonly ttl: number;
  /** Live cancellations: message id → expiry (epoch ms). */
  readonly #cancelled = new Map<string, number>();
  readonly #running = new Map<string, MessageProxy>();
  #unsubscribe: (() => Promise<void>) | undefined;

  constructor(options: CancellationOptions) {
    super();
    this.backend = options.backend;
    this.ttl = options.ttl ?? 604_800_000;
  }

  /** Cancels a message by id, on every worker sharing the backend. */
  override readonly provides: Partial<MiddlewareServices> = { cancellation: this };

  /** Cancels the message with this id (what `message.cancel()` calls); resolves once the backend recorded it. */
  cancel(messageId: string): Promise<void> {
    return this.backend.cancel(messageId, this.ttl);
  }

  /** {@inheritDoc MiddlewareHooks.beforeWorkerBoot} */
  async beforeWorkerBoot(): Promise<void> {
    this.#unsubscribe = await this.backend.subscribe((id, expiresAt) => this.#remember(id, expiresAt));
    for (const [id, expiresAt] of await this.backend.list()) this.#remember(id, expiresAt);
  }

  /** {@inheritDoc MiddlewareHooks.afterWorkerShutdown} */
  async afterWorkerShutdown(): Promise<void> {
    await this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** Stops listening (if a worker never shut down) and closes the backend with the broker. */
  override async close(): Promise<void> {
    await this.afterWorkerShutdown();
    await this.backend.close();
  }

  #remember(id: string, expiresAt: number): void {
    this.#cancelled.set(id, expiresAt);
    this.#running.get(id)?.abort(new MessageCancelled(`Message ${id} was cancelled`));
  }

  #isCancelled(id: string): boolean {
    const expiresAt = this.#cancelled.get(id);
    if (expiresAt === undefined) return false;
    if (expiresAt > Date.now()) return true;
    this.#cancelled.delete(id);
    return false;
  }

  /** {@inheritDoc MiddlewareHooks.beforeProcessMessage} */
  beforeProcessMessage(_broker: Broker, proxy: MessageProxy): void {
    if (this.#isCancelled(proxy.messageId)) {
      getLogger("middleware.cancellation").info(messageFields(proxy), "Message cancelled; not running it");
      proxy.error = new MessageCancelled(`Message ${proxy.messageId} was cancelled`);
      throw new SkipMessage("Message was cancelled");
    }
    this.#running.set(proxy.messageId, proxy);
  }

  /** {@inheritDoc MiddlewareHooks.afterProcessMessage} */
  afterProcessMessage(_broker: Broker, proxy: MessageProxy): void {
    this.#running.delete(proxy.messageId);
    if (proxy.error instanceof MessageCancelled) {
      getLogger("middleware.cancellation").info(messageFields(proxy), "Message cancelled while running");
    }
  }

  /** {@inheritDoc MiddlewareHooks.afterSkipMessage} */
  afterSkipMessage(_broker: Broker, proxy: MessageProxy): void {
    this.#running.delete(proxy.messageId);
  }
}
