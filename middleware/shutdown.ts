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
    notifyShutdown?: boolean;
  }
}

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
  readonly notifyShutdown: boolean;
  readonly #running = new Set<MessageProxy>();

  constructor(options: ShutdownNotificationsOptions = {}) {
    super();
    this.notifyShutdown = options.notifyShutdown ?? false;
  }

  beforeProcessMessage(broker: Broker, proxy: MessageProxy): void {
    if (resolveOption(proxy.message, broker.findActor(proxy.actorName), "notifyShutdown", this.notifyShutdown)) {
      this.#running.add(proxy);
    }
  }

  afterProcessMessage(_broker: Broker, proxy: MessageProxy): void {
    this.#running.delete(proxy);
  }

  afterSkipMessage(_broker: Broker, proxy: MessageProxy): void {
    this.#running.delete(proxy);
  }

  beforeWorkerShutdown(): void {
    for (const proxy of this.#running) proxy.abort(new Shutdown("Worker is shutting down"));
  }
}
