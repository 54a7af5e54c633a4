import { AgeLimit } from "./age-limit.ts";
import { Callbacks } from "./callbacks.ts";
import type { Middleware } from "./middleware.ts";
import { Pipelines } from "./pipelines.ts";
import { Retries } from "./retries.ts";
import { ShutdownNotifications } from "./shutdown.ts";
import { TimeLimit } from "./time-limit.ts";

/**
 * A fresh default chain, in Dramatiq's order: AgeLimit, TimeLimit, ShutdownNotifications,
 * Callbacks, Pipelines, Retries. Retries comes last, so its after-hook sees an outcome first.
 */
export function defaultMiddleware(): Middleware[] {
  return [new AgeLimit(), new TimeLimit(), new ShutdownNotifications(), new Callbacks(), new Pipelines(), new Retries()];
}
