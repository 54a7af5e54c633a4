import { Scheduler } from "../../middleware/scheduler.ts";
import type { Broker } from "../broker.ts";
import { CliError, ExitCode } from "./exit-codes.ts";

/**
 * `--store URL`: the broker's Scheduler claims cron ticks in the store at URL (a Redis or SQLite
 * broker's store) instead of the broker's own, keeping its other settings. This is how cron runs
 * on RabbitMQ from the command line.
 * @throws CliError (2) when the broker's chain has no Scheduler
 */
export function useSchedulerStore(broker: Broker, url: string): Scheduler {
  const current = broker.getMiddleware(Scheduler);
  if (current === undefined) {
    throw new CliError("--store: the broker has no Scheduler middleware to give the store to: keep the default middleware chain, or add new Scheduler() to it", ExitCode.IMPORT_ERROR);
  }
  const scheduler = new Scheduler({ enabled: current.enabled, prefix: current.prefix, claimTimeout: current.claimTimeout, store: url });
  broker.replaceMiddleware(Scheduler, scheduler);
  return scheduler;
}
