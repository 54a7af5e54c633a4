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
 * Threads (no after-hooks) follows it so that its run wrapper is the innermost, and so that
 * `threaded` is a known actor option on every broker.
 */
export function defaultMiddleware(): Middleware[] {
  return [new Prometheus(), new AgeLimit(), new TimeLimit(), new ShutdownNotifications(), new Callbacks(), new Pipelines(), new Retries(), new Threads(), new Scheduler()];
}
