import { AgeLimit } from "./age-limit.ts";
import { Callbacks } from "./callbacks.ts";
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
