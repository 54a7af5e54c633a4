import type { Actor } from "../lib/actor.ts";
import type { Broker } from "../lib/broker.ts";
import { DramatsError } from "../lib/errors.ts";
import type { KeyValueStore } from "../lib/key-value-store.ts";
import { getLogger } from "../lib/logging.ts";
import { Schedule, type ScheduleSpec } from "../lib/schedule.ts";
import { Middleware } from "./middleware.ts";

declare module "../lib/actor.ts" {
  interface ActorOptions {
    /**
     * Run periodically: `"*\/5 * * * *"` (cron; a sixth leading field is seconds),
     * `{ cron, timezone, args, catchUp }` or `{ every: ms, args, catchUp }`. Each tick is
     * enqueued exactly once across every worker process sharing the broker.
     */
    schedule?: ScheduleSpec;
  }
}

export interface SchedulerOptions {
  /** Run schedules in this process's workers. @defaultValue true (the CLI's `--no-scheduler` turns it off) */
  enabled?: boolean;
  /** Where ticks are claimed. @defaultValue the broker's own store */
  store?: KeyValueStore;
  /** Key prefix in the store. @defaultValue "dramats:schedule" */
  prefix?: string;
}

/** A schedule's state as `dramats schedules` shows it. */
export interface ScheduleInfo {
  actorName: string;
  queueName: string;
  schedule: string;
  catchUp: boolean;
  next: number[];
  lastTick: number | undefined;
}

const DAY = 86_400_000;

/**
 * Enqueues periodic actors from inside ordinary worker processes, with no separate beat
 * process. At each tick every running scheduler tries to claim the tick's key in the shared
 * store (set-if-absent with an expiry); only the claimant enqueues, so a tick runs once
 * however many processes run and whichever of them die.
 */
export class Scheduler extends Middleware {
  override readonly actorOptions = new Set(["schedule"]);
  enabled: boolean;
  readonly prefix: string;
  readonly #explicitStore: KeyValueStore | undefined;
  readonly #schedules = new Map<string, { actor: Actor; schedule: Schedule; next: number | undefined }>();
  #timer: NodeJS.Timeout | undefined;
  #broker: Broker | undefined;
  #running = false;

  constructor(options: SchedulerOptions = {}) {
    super();
    this.enabled = options.enabled ?? true;
    this.prefix = options.prefix ?? "dramats:schedule";
    this.#explicitStore = options.store;
  }

  beforeDeclareActor(_broker: Broker, actor: Actor): void {
    const spec = actor.options.schedule;
    if (spec === undefined) return;
    this.#schedules.set(actor.actorName, { actor, schedule: new Schedule(spec, actor.actorName), next: undefined });
  }

  #store(broker: Broker): KeyValueStore {
    const store = this.#explicitStore ?? broker.store;
    if (store === undefined) {
      throw new DramatsError(`${broker.constructor.name} has no store to claim cron ticks in: pass new Scheduler({ store })`);
    }
    return store;
  }

  tickKey(actorName: string, tick: number): string {
    return `${this.prefix}:${actorName}:${tick}`;
  }

  lastTickKey(actorName: string): string {
    return `${this.prefix}-last:${actorName}`;
  }

  async afterWorkerBoot(broker: Broker): Promise<void> {
    if (!this.enabled || this.#schedules.size === 0) return;
    const store = this.#store(broker);
    this.#broker = broker;
    this.#running = true;
    const now = Date.now();
    const log = getLogger("scheduler");
    for (const [name, entry] of this.#schedules) {
      entry.next = entry.schedule.nextAfter(now);
      const previous = entry.schedule.previousAt(now);
      if (previous === undefined) continue;
      const last = Number(await store.get(this.lastTickKey(name)));
      if (Number.isFinite(last) && last >= previous) continue;
      if (entry.schedule.catchUp) {
        log.info({ actor: name, tick: new Date(previous).toISOString() }, "Catching up a missed tick");
        await this.#fire(name, previous);
      } else if (Number.isFinite(last) && last > 0) {
        log.info({ actor: name, lastTick: new Date(last).toISOString() }, "Skipping ticks missed while no worker ran");
      }
    }
    log.info({ schedules: [...this.#schedules.keys()] }, "Scheduler started");
    this.#arm();
  }

  beforeWorkerShutdown(): void {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (!this.#running) return;
    let soonest = Infinity;
    for (const entry of this.#schedules.values()) if (entry.next !== undefined) soonest = Math.min(soonest, entry.next);
    if (soonest === Infinity) return;
    // Long waits are chunked so a sleeping machine or clock change is noticed within a minute.
    const wait = Math.min(Math.max(0, soonest - Date.now()), 60_000);
    this.#timer = setTimeout(() => void this.#onTimer(), wait);
    this.#timer.unref();
  }

  async #onTimer(): Promise<void> {
    const now = Date.now();
    const due: Promise<void>[] = [];
    for (const [name, entry] of this.#schedules) {
      if (entry.next === undefined || entry.next > now) continue;
      const tick = entry.next;
      // Ticks that passed while this process was stalled are not replayed one by one.
      entry.next = entry.schedule.nextAfter(Math.max(tick, now - 1));
      due.push(this.#fire(name, tick));
    }
    await Promise.all(due);
    this.#arm();
  }

  async #fire(actorName: string, tick: number): Promise<void> {
    const broker = this.#broker!;
    const entry = this.#schedules.get(actorName)!;
    const log = getLogger("scheduler");
    try {
      const store = this.#store(broker);
      const ttl = Math.max(DAY, 2 * ((entry.schedule.nextAfter(tick) ?? tick) - tick));
      if (!(await store.setIfAbsent(this.tickKey(actorName, tick), String(process.pid), ttl))) return;
      await entry.actor.sendWithOptions({ args: entry.schedule.args, options: { schedule_tick: tick } });
      await store.set(this.lastTickKey(actorName), String(tick), 30 * DAY);
      log.debug({ actor: actorName, tick: new Date(tick).toISOString() }, "Tick enqueued");
    } catch (error) {
      log.error({ err: error, actor: actorName, tick: new Date(tick).toISOString() }, "Could not enqueue a scheduled tick");
    }
  }

  /** Every schedule with its next runs and the last tick enqueued (for `dramats schedules`). */
  async describe(broker: Broker, count = 3): Promise<ScheduleInfo[]> {
    const store = this.#explicitStore ?? broker.store;
    const out: ScheduleInfo[] = [];
    for (const [name, { actor, schedule }] of this.#schedules) {
      const last = store ? Number(await store.get(this.lastTickKey(name))) : NaN;
      out.push({
        actorName: name,
        queueName: actor.queueName,
        schedule: schedule.description,
        catchUp: schedule.catchUp,
        next: schedule.upcoming(count),
        lastTick: Number.isFinite(last) ? last : undefined,
      });
    }
    return out;
  }
}
