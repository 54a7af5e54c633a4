import { hostname } from "node:os";
import type { Broker } from "../lib/broker.ts";
import { bucketOf, HISTOGRAM_BUCKETS, toSparse } from "../lib/duration-histogram.ts";
import { MessageCancelled } from "../lib/errors.ts";
import { HISTORY_STEP, OTHER, type HistoryBucket, type HistoryStore, type PairCounts } from "../lib/history-store.ts";
import { getLogger } from "../lib/logging.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import { Middleware, type ProcessOutcome } from "./middleware.ts";

/** (queue, actor) pairs counted in memory at most; later ones are counted under (OTHER, OTHER). */
const MAX_TRACKED = 1_000;
/** Finished minutes kept for a store that is slow or down, at most (the oldest are dropped). */
const MAX_PENDING = 60;
/** How long the final write may hold up the shutdown (ms). */
const FINAL_WRITE_TIMEOUT = 2_000;

/** Options of {@link FleetHistory}. */
export interface FleetHistoryOptions {
  /** The store, opened on first use; resolving to undefined: nothing is written. */
  store: HistoryStore | (() => Promise<HistoryStore | undefined>);
  /** This process's id in the store. @defaultValue `host/pid/start` (what the worker registry uses) */
  workerId?: string;
  /** The clock (epoch ms) that places counts in minutes (durations use Date.now()); specs pass their own to roll minutes over without waiting. @defaultValue Date.now */
  clock?: () => number;
  /** Releases the store's connection, if it has one of its own (a `--store` URL); called by `close()`. */
  close?: () => Promise<void>;
}

/** One pair's counts over the current minute. Allocated once per pair, zeroed at each rollover. */
class PairCounter {
  processed = 0;
  failed = 0;
  readonly wait = new Uint32Array(HISTOGRAM_BUCKETS);
  readonly run = new Uint32Array(HISTOGRAM_BUCKETS);
  constructor(
    readonly queue: string,
    readonly actor: string,
  ) {}

  snapshot(): PairCounts {
    return { queue: this.queue, actor: this.actor, processed: this.processed, failed: this.failed, wait: toSparse(this.wait), run: toSparse(this.run) };
  }

  reset(): void {
    this.processed = 0;
    this.failed = 0;
    this.wait.fill(0);
    this.run.fill(0);
  }
}

/**
 * Rolls this worker's message counts up into the fleet history (lib/history-store.ts), for the
 * dashboard's charts: per (queue, actor) and minute, messages processed and failed, and wait
 * (enqueue, or eta, to the start of the run) and run time histograms. Per message it bumps
 * counters in memory (two map lookups, two clock reads, no allocation); once a minute (the first
 * message or timer tick past its end) and at worker shutdown it writes the finished minute, one
 * small bucket per process. Writes are fire-and-forget: one at a time, later minutes wait (up to
 * 60), a slow or down store never holds up message processing, and a failure is logged once
 * until writes succeed again. Cancelled runs are not counted.
 */
export class FleetHistory extends Middleware {
  /** This process's id in the store. */
  readonly workerId: string;
  readonly #clock: () => number;
  /** A clock was given: it places messages in minutes; durations are still measured with Date.now(). */
  readonly #ownClock: boolean;
  readonly #options: FleetHistoryOptions;
  readonly #log = getLogger("history");
  readonly #pairs = new Map<string, Map<string, PairCounter>>();
  #tracked = 0;
  /** Start of the minute being counted, and its end. */
  #minute = 0;
  #minuteEnd = 0;
  #timer: NodeJS.Timeout | undefined;
  #store: Promise<HistoryStore | undefined> | undefined;
  readonly #pending = new Map<number, HistoryBucket>();
  #writing: Promise<void> | undefined;
  #failing = false;

  /** Counts from the worker's boot; nothing is written before the first minute ends. */
  constructor(options: FleetHistoryOptions) {
    super();
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    this.#ownClock = options.clock !== undefined;
    this.workerId = options.workerId ?? `${hostname()}/${process.pid}/${Date.now().toString(36)}`;
    this.#startMinute(this.#clock());
  }

  #startMinute(now: number): void {
    this.#minute = now - (now % HISTORY_STEP);
    this.#minuteEnd = this.#minute + HISTORY_STEP;
  }

  #counter(queue: string, actor: string): PairCounter {
    let byActor = this.#pairs.get(queue);
    let counter = byActor?.get(actor);
    if (counter !== undefined) return counter;
    if (this.#tracked >= MAX_TRACKED) {
      queue = actor = OTHER;
      byActor = this.#pairs.get(OTHER);
      counter = byActor?.get(OTHER);
      if (counter !== undefined) return counter;
    }
    if (byActor === undefined) this.#pairs.set(queue, (byActor = new Map()));
    byActor.set(actor, (counter = new PairCounter(queue, actor)));
    this.#tracked++;
    return counter;
  }

  /** {@inheritDoc MiddlewareHooks.afterProcessMessage} */
  afterProcessMessage(_broker: Broker, proxy: MessageProxy, outcome: ProcessOutcome): void {
    const error = outcome.error;
    if (error instanceof MessageCancelled) return;
    const at = Date.now();
    const now = this.#ownClock ? this.#clock() : at;
    if (now >= this.#minuteEnd) this.#roll(now);
    const counter = this.#counter(proxy.queueName, proxy.actorName);
    counter.processed++;
    if (error !== undefined) counter.failed++;
    const startedAt = proxy.startedAt;
    if (startedAt <= 0) return; // failed before the actor ran: no wait nor run time
    // From the eta where the broker carried one (a delay or a retry), else from the enqueue.
    counter.wait[bucketOf(startedAt - (proxy.delivery.eta ?? proxy.message.messageTimestamp))]!++;
    counter.run[bucketOf(at - startedAt)]!++;
  }

  // As the Prometheus middleware counts: a message a middleware ended unrun (AgeLimit) is
  // processed; one put back for later (RateLimit) or cancelled is not.
  /** {@inheritDoc MiddlewareHooks.afterSkipMessage} */
  afterSkipMessage(_broker: Broker, proxy: MessageProxy): void {
    if (!proxy.failed && (proxy.retry !== undefined || proxy.error instanceof MessageCancelled)) return;
    const now = this.#clock();
    if (now >= this.#minuteEnd) this.#roll(now);
    this.#counter(proxy.queueName, proxy.actorName).processed++;
  }

  /** {@inheritDoc MiddlewareHooks.afterWorkerBoot} */
  afterWorkerBoot(): void {
    this.#arm();
  }

  /** Writes the minute so far (a partial last minute) and waits for the writes, up to 2 s. */
  async afterWorkerShutdown(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise((resolve) => (timer = setTimeout(resolve, FINAL_WRITE_TIMEOUT)))]);
    clearTimeout(timer);
  }

  /** Stops the timer and releases the store's own connection, if it has one. */
  override async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#options.close?.();
  }

  /** Rolls over when the clock passed the minute's end (the timer calls it; specs may too). */
  tick(): void {
    const now = this.#clock();
    if (now >= this.#minuteEnd) this.#roll(now);
  }

  /**
   * Queues the minute counted so far (a later write of the same minute replaces it) and resolves
   * once nothing is left to write (or what is left failed: it is retried at the next minute).
   */
  async flush(): Promise<void> {
    this.tick();
    const bucket = this.#bucket();
    if (bucket !== undefined) this.#queue(this.#minute, bucket);
    while (this.#writing !== undefined) await this.#writing;
  }

  /** Real-time timer to the next minute's start, so a quiet worker still writes its last busy minute. */
  #arm(): void {
    const now = Date.now();
    this.#timer = setTimeout(() => {
      this.tick();
      this.#arm();
    }, HISTORY_STEP - (now % HISTORY_STEP) + 50);
    this.#timer.unref();
  }

  #roll(now: number): void {
    const bucket = this.#bucket();
    if (bucket !== undefined) {
      this.#queue(this.#minute, bucket);
      for (const byActor of this.#pairs.values()) for (const counter of byActor.values()) counter.reset();
    }
    this.#startMinute(now);
  }

  /** The current minute's counts; undefined when nothing was counted. */
  #bucket(): HistoryBucket | undefined {
    const pairs: PairCounts[] = [];
    for (const byActor of this.#pairs.values()) for (const counter of byActor.values()) if (counter.processed > 0) pairs.push(counter.snapshot());
    return pairs.length === 0 ? undefined : { pairs };
  }

  #queue(minute: number, bucket: HistoryBucket): void {
    this.#pending.set(minute, bucket);
    if (this.#pending.size > MAX_PENDING) this.#pending.delete(Math.min(...this.#pending.keys()));
    if (this.#writing === undefined) this.#write();
  }

  #write(): void {
    const batch = [...this.#pending].sort((a, b) => a[0] - b[0]);
    this.#pending.clear();
    const source = this.#options.store;
    this.#store ??= (typeof source === "function" ? source() : Promise.resolve(source)).catch((error: unknown) => {
      this.#log.warn({ err: error }, "The history store could not be opened: this process's counts are not charted");
      return undefined;
    });
    let requeue = false;
    this.#writing = this.#store
      .then(async (store) => {
        if (store === undefined) return;
        for (const [minute, bucket] of batch) {
          try {
            await store.write(minute, this.workerId, bucket);
            if (this.#failing) this.#log.info("History writes succeed again");
            this.#failing = false;
          } catch (error) {
            if (!this.#failing) this.#log.warn({ err: error, minute }, "Writing this process's history failed (retried next minute)");
            this.#failing = true;
            // Kept for the next try unless a newer write of that minute is waiting.
            if (!this.#pending.has(minute)) this.#pending.set(minute, bucket);
          }
        }
        requeue = !this.#failing;
      })
      .finally(() => {
        this.#writing = undefined;
        // After a failure, what is left waits for the next minute's write rather than spinning.
        if (requeue && this.#pending.size > 0) this.#write();
      });
  }
}
