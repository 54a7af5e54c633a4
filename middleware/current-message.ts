import { AsyncLocalStorage } from "node:async_hooks";
import type { Broker } from "../lib/broker.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import { Middleware, type ProcessWrapper } from "./middleware.ts";

const storage = new AsyncLocalStorage<MessageProxy>();

/**
 * Makes the message being processed reachable from anywhere inside the actor's call tree
 * (deep helpers, loggers) through `CurrentMessage.get()`. Opt-in: AsyncLocalStorage has a
 * small cost on every promise.
 */
export class CurrentMessage extends Middleware implements ProcessWrapper {
  /** The message proxy of the actor run this code belongs to, or undefined outside one. */
  static get(): MessageProxy | undefined {
    return storage.getStore();
  }

  /** {@inheritDoc ProcessWrapper.wrapProcessMessage} */
  wrapProcessMessage(_broker: Broker, proxy: MessageProxy, call: () => unknown): unknown {
    return storage.run(proxy, call);
  }
}
