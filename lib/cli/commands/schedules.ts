// `dramats schedules MODULE...`: each periodic actor, when it runs next, and its last tick.
import { Scheduler } from "../../../middleware/scheduler.ts";
import { CliError, ExitCode } from "../exit-codes.ts";
import { useSchedulerStore } from "../scheduler-store.ts";
import { formatTime, relative, table, type Output } from "./output.ts";
import type { Session } from "./session.ts";

export interface SchedulesOptions {
  /** Upcoming runs to show per schedule. */
  next: number;
  json: boolean;
  /** The store the workers claim ticks in (`--store`), if not the broker's own. */
  store?: string | undefined;
}

/**
 * Lists the schedules the modules declared (through the broker's Scheduler middleware), with
 * their next `next` run times and the last tick some worker enqueued (read from the broker's
 * store, where the ticks are claimed).
 * @throws CliError (2) when the broker has no Scheduler middleware.
 */
export async function schedulesCommand(session: Session, options: SchedulesOptions, out: Output): Promise<number> {
  const { broker } = session;
  let scheduler = broker.getMiddleware(Scheduler);
  if (scheduler !== undefined && options.store !== undefined) scheduler = useSchedulerStore(broker, options.store);
  if (scheduler === undefined) {
    throw new CliError(
      "The broker has no Scheduler middleware, so it runs no schedules: keep the default middleware chain, or add new Scheduler() to it",
      ExitCode.IMPORT_ERROR,
    );
  }
  const schedules = await session.call("the last ticks", () => scheduler.describe(broker, options.next));
  const storeless = broker.store === undefined && options.store === undefined;

  if (options.json) {
    out.json({
      schedules: schedules.map((s) => ({
        actor: s.actorName,
        queue: s.queueName,
        schedule: s.schedule,
        catchUp: s.catchUp,
        next: s.next.map((t) => new Date(t).toISOString()),
        lastTick: s.lastTick === undefined ? null : new Date(s.lastTick).toISOString(),
      })),
    });
    return ExitCode.OK;
  }
  out.line(`Broker: ${session.label}`);
  if (schedules.length === 0) {
    out.line("No schedules: no actor of these modules has a `schedule` option.");
    return ExitCode.OK;
  }
  out.line();
  const now = Date.now();
  const rows = schedules.map((s) => [
    s.actorName,
    s.queueName,
    s.schedule + (s.catchUp ? " (catch up)" : ""),
    s.next.length === 0 ? "never" : `${formatTime(s.next[0]!)} (${relative(s.next[0]!, now)})`,
    s.lastTick === undefined ? (storeless ? "unknown" : "never") : `${formatTime(s.lastTick)} (${relative(s.lastTick, now)})`,
  ]);
  out.line(table([{ header: "ACTOR" }, { header: "QUEUE" }, { header: "SCHEDULE" }, { header: "NEXT RUN" }, { header: "LAST TICK" }], rows, out.columns));
  const later = schedules.filter((s) => s.next.length > 1);
  if (later.length > 0) {
    out.line();
    for (const s of later) out.line(`${s.actorName}: then ${s.next.slice(1).map(formatTime).join(", ")}`);
  }
  if (storeless) out.note(`dramats: ${broker.constructor.name} has no store: last ticks are kept in the Scheduler's own store, if it has one`);
  return ExitCode.OK;
}
