import type { Logger } from "./logging.ts";
import type { Middleware } from "./middleware.ts";

/**
 * Which open brokers hold each middleware. One instance may sit on several brokers (the CLI
 * builds the `--broker` broker from the modules' middleware and then closes the modules' own
 * broker), so a middleware is closed with the last broker holding it, not the first.
 */
const holders = new WeakMap<Middleware, Set<object>>();

/** Records that `broker` holds `middleware` until it releases it. */
export function holdMiddleware(middleware: Middleware, broker: object): void {
  let brokers = holders.get(middleware);
  if (brokers === undefined) {
    brokers = new Set();
    holders.set(middleware, brokers);
  }
  brokers.add(broker);
}

/** `broker` no longer holds `middleware` (taken out of its chain); nothing is closed. */
export function unholdMiddleware(middleware: Middleware, broker: object): void {
  holders.get(middleware)?.delete(broker);
}

/**
 * `broker` lets go of its chain: every middleware no other broker holds is closed, last in the
 * chain first (as after-hooks run). A failing close is logged and the others still close.
 */
export async function releaseMiddleware(broker: object, chain: readonly Middleware[], logger: Logger): Promise<void> {
  for (const middleware of [...chain].reverse()) {
    const brokers = holders.get(middleware);
    if (brokers === undefined || !brokers.delete(broker) || brokers.size > 0) continue;
    try {
      await middleware.close();
    } catch (error) {
      logger.error({ err: error, middleware: middleware.name }, "Closing middleware failed; continuing");
    }
  }
}
