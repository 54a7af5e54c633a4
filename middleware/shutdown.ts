import type { Broker } from "../lib/broker.ts";
import { Shutdown } from "../lib/errors.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import { Middleware, resolveOption } from "./middleware.ts";

export { Shutdown } from "../lib/errors.ts";

declare module "../lib/actor.ts" {
  interface ActorOptions {
    /** Abort this actor's runs (with Shutdown) as soon as the worker starts shutting down. */
    notifyShutdown?: boolean;
  }
  interface MessageOverrides {
    /** {@inheritDoc ActorOptions.notifyShutdown} */
    notifyShutdown?: boolean;
  }
}

/** Options of {@link ShutdownNotifications}. */
export interface ShutdownNotificationsOptions {
  /** @defaultValue false */
  notifyShutdown?: boolean;
}

/**
 * On worker shutdown, aborts the runs of actors that opted in with `notifyShutdown`: their
 * signal aborts with Shutdown, so long jobs can stop early and be retried later.
 */
export class ShutdownNotifications extends Middleware {
  override readonly actorOptions = new Set(["notifyShutdown"]);
  override readonly messageOptions = new Set(["notifyShutdown"]);
  /** Default for actors and messages that do not set `notifyShutdown`. @defaultValue false */
  readonly notifyShutdown: boolean;
  readonly #running = new Set<MessageProxy>();

  constructor(options: ShutdownNotificationsOptions = {}) {
    super();
    this.notifyShutdown = options.notifyShutdown ?? false;
  }

  /** {@inheritDoc MiddlewareHooks.beforeProcessMessage} */
  beforeProcessMessage(broker: Broker, proxy: MessageProxy): void {
    if (resolveOption(proxy.message, broker.findActor(proxy.actorName), "notifyShutdown", this.notifyShutdown)) {
      this.#running.add(proxy);
    }
  }

  /** {@inheritDoc MiddlewareHooks.afterProcessMessage} */
  afterProcessMessage(_broker: Broker, proxy: MessageProxy): void {
    this.#running.delete(proxy);
  }

  /** {@inheritDoc MiddlewareHooks.afterSkipMessage} */
  afterSkipMessage(_broker: Broker, proxy: MessageProxy): void {
    this.#running.delete(proxy);
  }

  /** {@inheritDoc MiddlewareHooks.beforeWorkerShutdown} */
  beforeWorkerShutdown(): void {
    for (const proxy of this.#running) proxy.abort(new Shutdown("Worker is shutting down"));
  }
}
