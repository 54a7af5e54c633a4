import { Cron } from "croner";
import { InvalidOptions } from "./errors.ts";
import { scheduleInWords } from "./schedule-words.ts";

/** When a periodic actor runs: a cron string (5 fields, or 6 with seconds first), or a fixed interval. */
export type ScheduleSpec =
  | string
  | {
      /** A cron expression: 5 fields, or 6 with seconds first. */
      cron: string;
      /** IANA time zone the cron fields are read in. @defaultValue the process's local time zone */
      timezone?: string;
      /** Fixed arguments each run gets. @defaultValue `[]` */
      args?: unknown[];
      /** After downtime, run the most recent missed tick once. @defaultValue false */
      catchUp?: boolean;
    }
  | {
      /** Interval in ms (a whole number, at least 1000); ticks are multiples of it since the epoch. */
      every: number;
      /** Fixed arguments each run gets. @defaultValue `[]` */
      args?: unknown[];
      /** After downtime, run the most recent missed tick once. @defaultValue false */
      catchUp?: boolean;
    };

/**
 * A parsed schedule. Ticks are absolute instants every process computes alike (cron times, or
 * multiples of `every` since the epoch), so the fleet can agree on each tick's identity.
 */
export class Schedule {
  /** The schedule as written (the cron string and its time zone, or `every N ms`), as `dramats schedules` shows it. */
  readonly description: string;
  /** The schedule in words: `Every 5 minutes`, `At 03:00 (Europe/Paris)`. */
  readonly inWords: string;
  /** Fixed arguments each run gets. */
  readonly args: unknown[];
  /** After downtime, run the most recent missed tick once (true) or skip it (false, the default). */
  readonly catchUp: boolean;
  readonly #cron: Cron | undefined;
  readonly #every: number | undefined;

  constructor(spec: ScheduleSpec, actorName: string) {
    const fields = typeof spec === "string" ? { cron: spec } : spec;
    this.args = fields.args ?? [];
    this.catchUp = fields.catchUp ?? false;
    if (!Array.isArray(this.args)) throw new InvalidOptions(`Actor ${actorName}: schedule args must be an array`);
    if ("every" in fields) {
      if (!Number.isInteger(fields.every) || fields.every < 1000) {
        throw new InvalidOptions(`Actor ${actorName}: schedule every must be a whole number of ms, at least 1000; got ${fields.every}`);
      }
      this.#every = fields.every;
      this.description = `every ${fields.every} ms`;
      this.inWords = scheduleInWords({ every: fields.every });
    } else if ("cron" in fields && typeof fields.cron === "string") {
      try {
        this.#cron = new Cron(fields.cron, { paused: true, ...(fields.timezone ? { timezone: fields.timezone } : {}) });
      } catch (error) {
        throw new InvalidOptions(`Actor ${actorName}: invalid cron schedule ${JSON.stringify(fields.cron)}: ${(error as Error).message}`);
      }
      this.description = fields.timezone ? `${fields.cron} (${fields.timezone})` : fields.cron;
      this.inWords = scheduleInWords({ cron: fields.cron, timezone: fields.timezone });
    } else {
      throw new InvalidOptions(`Actor ${actorName}: schedule must be a cron string, { cron }, or { every }`);
    }
  }

  /** The first tick strictly after `after` (epoch ms), or undefined when there is none. */
  nextAfter(after: number): number | undefined {
    if (this.#every !== undefined) return (Math.floor(after / this.#every) + 1) * this.#every;
    return this.#cron!.nextRun(new Date(after))?.getTime();
  }

  /** The last tick at or before `at`, or undefined. */
  previousAt(at: number): number | undefined {
    if (this.#every !== undefined) return Math.floor(at / this.#every) * this.#every;
    const next = this.#cron!.nextRun(new Date(at - 1));
    if (next !== null && next.getTime() === at) return at;
    return this.#cron!.previousRuns(1, new Date(at))[0]?.getTime();
  }

  /** The next `count` ticks after `after`. */
  upcoming(count: number, after = Date.now()): number[] {
    const out: number[] = [];
    let cursor = after;
    while (out.length < count) {
      const next = this.nextAfter(cursor);
      if (next === undefined) break;
      out.push(next);
      cursor = next;
    }
    return out;
  }
}
