import { AgeLimit } from "./age-limit.ts";
import { Callbacks } from "./callbacks.ts";
import type { BrokerOptions } from "../lib/broker.ts";
import type { Middleware } from "./middleware.ts";
import { Pipelines } from "./pipelines.ts";
import { Prometheus } from "./prometheus.ts";
import { Retries } from "./retries.ts";
import { Scheduler } from "./scheduler.ts";
import { ShutdownNotifications } from "./shutdown.ts";
import { Threads } from "./threads.ts";
import { TimeLimit } from "./time-limit.ts";

/**
 * A fresh default chain: Prometheus (first, so its after-hooks see every outcome last), then
 * Dramatiq's order: AgeLimit, TimeLimit, ShutdownNotifications, Callbacks, Pipelines, Retries. Retries comes last, so its after-hook sees an outcome first.
 * Threads (which makes `threaded` a known actor option on every broker) sits before TimeLimit:
 * a threaded message waits for a free pool thread in its before-hook, and that wait must not
 * count against the actor's time limit.
 */
export function defaultMiddleware(): Middleware[] {
  return [new Prometheus(), new AgeLimit(), new Threads(), new TimeLimit(), new ShutdownNotifications(), new Callbacks(), new Pipelines(), new Retries(), new Scheduler()];
}

/** `options` with the default chain filled in when they name none: what every adapter's constructor passes up. */
export function withDefaultChain<T extends BrokerOptions>(options: T): T {
  return options.middleware === undefined ? { ...options, middleware: defaultMiddleware() } : options;
}
