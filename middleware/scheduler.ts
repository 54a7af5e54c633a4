import type { Actor } from "../lib/actor.ts";
import type { Broker } from "../lib/broker.ts";
import { DramatsError, InvalidOptions } from "../lib/errors.ts";
import type { Message } from "../lib/message.ts";
import type { KeyValueStore } from "../lib/key-value-store.ts";
import { getLogger } from "../lib/logging.ts";
import { Schedule, type ScheduleSpec } from "../lib/schedule.ts";
import { Middleware } from "./middleware.ts";
import { StoreUrl } from "./store-url.ts";
import { TickClaims } from "./tick-claims.ts";

declare module "../lib/actor.ts" {
  interface ActorOptions {
    /**
     * Run periodically: `"*\/5 * * * *"` (cron; a sixth leading field is seconds),
     * `{ cron, timezone, args, catchUp }` or `{ every: ms, args, catchUp }`. Each tick is
     * enqueued exactly once across every worker process sharing the broker (at least once,
     * with the duplicate bound `Scheduler` states, when ticks are claimed in another system).
     */
    schedule?: ScheduleSpec;
  }
}

/** Options of {@link Scheduler}. */
export interface SchedulerOptions {
  /** Run schedules in this process's workers. @defaultValue true (the CLI's `--no-scheduler` turns it off) */
  enabled?: boolean;
  /**
   * Where ticks are claimed. Leave it unset on brokers with a store (Redis, SQLite): only the
   * broker's own store lets claim and enqueue be one step. On RabbitMQ give one: a
   * {@link KeyValueStore}, or the URL of a broker with a shared store (`redis://...`,
   * `rediss://...`, `sqlite://PATH`), which the Scheduler connects to when it first needs it and
   * closes with the broker. @defaultValue the broker's own store
   */
  store?: KeyValueStore | string;
  /** Key prefix in the store. @defaultValue "dramats:schedule" */
  prefix?: string;
  /**
   * With a store of another system only: how long a claimed tick may stay unsent before
   * another process sends it (ms). Longer than any enqueue takes; shorter is quicker recovery.
   * @defaultValue 60000
   */
  claimTimeout?: number;
}

/** A schedule's state as `dramats schedules` shows it. */
export interface ScheduleInfo {
  /** The scheduled actor. */
  actorName: string;
  /** The queue its runs go to. */
  queueName: string;
  /** The schedule as written (cron string or `every N ms`). */
  schedule: string;
  /** Whether a missed tick runs once after downtime. */
  catchUp: boolean;
  /** The schedule in words (`Every 5 minutes`). */
  inWords: string;
  /** Paused: ticks pass without a run until it is resumed (`Scheduler.pause`). */
  paused: boolean;
  /** The next ticks, as epoch ms. */
  next: number[];
  /** The last tick enqueued (epoch ms), or undefined when none is recorded. */
  lastTick: number | undefined;
}

const DAY = 86_400_000;
/** First wait before a tick whose enqueue failed is tried again (ms); it doubles per attempt. */
const FIRST_RETRY = 100;
/** Longest wait between two attempts of a failed tick (ms). */
const MAX_RETRY = 30_000;

/**
 * Enqueues periodic actors from inside ordinary worker processes, with no separate beat
 * process. At each tick every running scheduler tries to claim the tick's key in the shared
 * store; the claimant enqueues.
 *
 * With the broker's own store (Redis, SQLite, stub) the claim and the message are one broker
 * step, so each tick is enqueued exactly once however many processes run and whichever of
 * them die; an attempt that failed (the broker unreachable, a hook threw) wrote nothing and
 * is tried again, with backoff (100 ms doubling to 30 s), by every process still running.
 * When a later tick of the same schedule fails as well, the earlier one is dropped and the
 * later one retried: as after a stall, an outage ends in one tick, not a burst of old ones.
 *
 * With a store of another system (RabbitMQ with `store`), the two cannot be one step: a tick
 * is claimed as pending, enqueued, then marked sent, and a pending claim left unsent for
 * `claimTimeout` ms is sent again by another process that saw it pending. A tick is then not
 * lost to a crash (while another scheduler runs), failures are retried as above, and a tick is
 * enqueued twice only when the process that sent it died, stalled or lost the store before
 * marking it sent within `claimTimeout`.
 */
export class Scheduler extends Middleware {
  override readonly actorOptions = new Set(["schedule"]);
  /** Whether schedules run in this process's workers. @defaultValue true */
  enabled: boolean;
  /** Key prefix in the store. @defaultValue "dramats:schedule" */
  readonly prefix: string;
  /**
   * With a store of another system: ms a claimed tick may stay unsent before another process sends it. @defaultValue 60000
   */
  readonly claimTimeout: number;
  #explicitStore: KeyValueStore | undefined;
  readonly #storeUrl: StoreUrl | undefined;
  readonly #schedules = new Map<string, { actor: Actor; schedule: Schedule; next: number | undefined }>();
  #timer: NodeJS.Timeout | undefined;
  #broker: Broker | undefined;
  #claims: TickClaims | undefined;
  /** Timers of ticks to try again (failed, or pending in another process). */
  readonly #retries = new Set<NodeJS.Timeout>();
  /** Per schedule, the latest tick that failed: only it is tried again, earlier ones are dropped. */
  readonly #failing = new Map<string, number>();
  #running = false;

  constructor(options: SchedulerOptions = {}) {
    super();
    this.enabled = options.enabled ?? true;
    this.prefix = options.prefix ?? "dramats:schedule";
    this.claimTimeout = options.claimTimeout ?? 60_000;
    if (typeof options.store === "string") this.#storeUrl = new StoreUrl(options.store);
    else this.#explicitStore = options.store;
  }

  /** The store URL given as `store`, if one was (the CLI's `--store`). */
  get storeUrl(): string | undefined {
    return this.#storeUrl?.url;
  }

  /** Closes the connection to a store given by URL. */
  override async close(): Promise<void> {
    if (this.#storeUrl === undefined) return;
    this.#explicitStore = undefined;
    await this.#storeUrl.close();
  }

  /** {@inheritDoc MiddlewareHooks.beforeDeclareActor} */
  beforeDeclareActor(_broker: Broker, actor: Actor): void {
    const spec = actor.options.schedule;
    if (spec === undefined) return;
    this.#schedules.set(actor.actorName, { actor, schedule: new Schedule(spec, actor.actorName), next: undefined });
  }

  /** The given store, connecting to a store URL on first use. */
  async #given(): Promise<KeyValueStore | undefined> {
    if (this.#storeUrl !== undefined) this.#explicitStore ??= await this.#storeUrl.open();
    return this.#explicitStore;
  }

  async #store(broker: Broker): Promise<KeyValueStore> {
    const store = (await this.#given()) ?? broker.store;
    if (store === undefined) {
      throw new DramatsError(`${broker.constructor.name} has no store to claim cron ticks in: pass new Scheduler({ store })`);
    }
    return store;
  }

  /** The store key claimed for one tick of an actor. */
  tickKey(actorName: string, tick: number): string {
    return `${this.prefix}:${actorName}:${tick}`;
  }

  /** The store key holding the last tick enqueued for an actor. */
  lastTickKey(actorName: string): string {
    return `${this.prefix}-last:${actorName}`;
  }

  /** The store key that pauses an actor's schedule while it exists. */
  pausedKey(actorName: string): string {
    return `${this.prefix}-paused:${actorName}`;
  }

  /**
   * Pauses a schedule fleet-wide: every process's ticks of it pass without a run (and are not
   * caught up later) until `resume`. Kept in the store the ticks are claimed in.
   * @throws InvalidOptions when the actor has no schedule here
   */
  async pause(broker: Broker, actorName: string): Promise<void> {
    this.#entry(actorName);
    await (await this.#store(broker)).set(this.pausedKey(actorName), String(Date.now()), 10 * 365 * DAY);
  }

  /** Resumes a paused schedule: its next tick runs. @throws InvalidOptions when the actor has no schedule here */
  async resume(broker: Broker, actorName: string): Promise<void> {
    this.#entry(actorName);
    await (await this.#store(broker)).delete(this.pausedKey(actorName));
  }

  /** Enqueues one run of a scheduled actor now, with the schedule's arguments, outside its ticks. @throws InvalidOptions when the actor has no schedule here */
  async runNow(broker: Broker, actorName: string): Promise<Message> {
    const entry = this.#entry(actorName);
    return broker.enqueue(entry.actor.messageWithOptions({ args: entry.schedule.args, options: {} }));
  }

  #entry(actorName: string): { actor: Actor; schedule: Schedule } {
    const entry = this.#schedules.get(actorName);
    if (entry === undefined) throw new InvalidOptions(`No schedule for actor ${actorName}: it has no schedule option, or its module was not imported`);
    return entry;
  }

  /** {@inheritDoc MiddlewareHooks.afterWorkerBoot} */
  async afterWorkerBoot(broker: Broker): Promise<void> {
    if (!this.enabled || this.#schedules.size === 0) return;
    const store = await this.#store(broker);
    this.#broker = broker;
    this.#claims = new TickClaims(broker, this.#explicitStore, this.claimTimeout);
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

  /** {@inheritDoc MiddlewareHooks.beforeWorkerShutdown} */
  beforeWorkerShutdown(): void {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const timer of this.#retries) clearTimeout(timer);
    this.#retries.clear();
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

  /** One attempt at a tick; a failed or pending one is tried again later, never awaited. */
  async #fire(actorName: string, tick: number, attempt = 0): Promise<void> {
    const broker = this.#broker!;
    const entry = this.#schedules.get(actorName)!;
    const log = getLogger("scheduler");
    const fields = { actor: actorName, tick: new Date(tick).toISOString() };
    if (this.#superseded(actorName, tick)) return;
    try {
      const store = await this.#store(broker);
      if ((await store.get(this.pausedKey(actorName))) !== undefined) {
        log.info(fields, "Schedule paused: tick passes without a run");
        return;
      }
      const ttl = Math.max(DAY, 2 * ((entry.schedule.nextAfter(tick) ?? tick) - tick));
      const message = () => entry.actor.messageWithOptions({ args: entry.schedule.args, options: { schedule_tick: tick } });
      const outcome = await this.#claims!.attempt(store, this.tickKey(actorName, tick), ttl, message);
      if (outcome === "pending") return this.#later(this.claimTimeout, () => this.#fire(actorName, tick));
      if (outcome === "elsewhere") return;
      log.debug(fields, "Tick enqueued");
      await store.set(this.lastTickKey(actorName), String(tick), 30 * DAY).catch((error: unknown) => {
        log.warn({ ...fields, err: error }, "Could not record the last tick enqueued");
      });
    } catch (error) {
      if (this.#superseded(actorName, tick)) return;
      this.#failing.set(actorName, tick);
      const retryInMs = Math.min(FIRST_RETRY * 2 ** attempt, MAX_RETRY);
      log.error({ ...fields, err: error, attempt: attempt + 1, retryInMs }, "Could not enqueue a scheduled tick; trying again");
      this.#later(retryInMs, () => this.#fire(actorName, tick, attempt + 1));
    }
  }

  /**
   * True when a later tick of the schedule failed as well: as after a stall, only the latest
   * missed tick is run, so an outage does not end in a burst of old ticks.
   */
  #superseded(actorName: string, tick: number): boolean {
    const latest = this.#failing.get(actorName);
    if (latest === undefined || latest <= tick) return false;
    getLogger("scheduler").warn({ actor: actorName, tick: new Date(tick).toISOString(), latest: new Date(latest).toISOString() }, "Dropping a failed tick: a later one failed too and is retried instead");
    return true;
  }

  #later(ms: number, run: () => Promise<void>): void {
    if (!this.#running) return;
    const timer = setTimeout(() => {
      this.#retries.delete(timer);
      if (this.#running) void run();
    }, ms);
    timer.unref();
    this.#retries.add(timer);
  }

  /** Every schedule with its next runs and the last tick enqueued (for `dramats schedules`). */
  async describe(broker: Broker, count = 3): Promise<ScheduleInfo[]> {
    const store = (await this.#given()) ?? broker.store;
    const out: ScheduleInfo[] = [];
    for (const [name, { actor, schedule }] of this.#schedules) {
      const last = store ? Number(await store.get(this.lastTickKey(name))) : NaN;
      const paused = store ? (await store.get(this.pausedKey(name))) !== undefined : false;
      out.push({
        actorName: name,
        queueName: actor.queueName,
        schedule: schedule.description,
        inWords: schedule.inWords,
        paused,
        catchUp: schedule.catchUp,
        next: schedule.upcoming(count),
        lastTick: Number.isFinite(last) ? last : undefined,
      });
    }
    return out;
  }
}
