import type { Broker } from "../broker.ts";
import { isWatchable, type KeyValueStore, type WatchableStore } from "../key-value-store.ts";
import type { Logger } from "../logging.ts";
import { checkPausePoll, parsePause, pauseKey } from "../queue-pauses.ts";

/** Default period of the pause-flag poll (ms). */
export const DEFAULT_PAUSE_POLL = 500;
/** With a store that announces changes, flags are still read this often (ms), in case news was lost. */
export const WATCHED_PAUSE_POLL = 5_000;
/** How long the first poll may hold up a worker's start (ms); it starts unpaused after that. */
const FIRST_POLL_TIMEOUT = 2_000;

/** Where a worker reads the pause flags: a store, or a function opening one (a `--store` URL's). */
export type PauseStore = KeyValueStore | (() => Promise<KeyValueStore>);

/** What a PausePoller needs from its worker. */
export interface PausePollerHost {
  /** The queues the worker consumes now. */
  queues(): Iterable<string>;
  /** `queue` became paused: give back its messages waiting unstarted; resolves once they are back. */
  paused(queue: string): Promise<void>;
  /** `queue` resumed: fetch it again. */
  resumed(queue: string): void;
  readonly log: Logger;
}

/**
 * A worker's view of the fleet-wide queue pauses (lib/queue-pauses.ts): reads the flag of each
 * consumed queue every `period` ms (one `get` per queue, one round of reads at a time) and tells
 * the worker when one is set or removed. With a store that announces changes (WatchableStore:
 * the PostgreSQL broker's), it reads when a flag changes and otherwise only every
 * WATCHED_PAUSE_POLL ms (or `period`, if longer): an idle worker then sends almost nothing. A store that fails or does not answer within a few
 * periods is logged once and counts as "nothing paused" until it answers again.
 */
export class PausePoller {
  readonly #store: PauseStore;
  readonly #period: number;
  readonly #host: PausePollerHost;
  readonly #paused = new Set<string>();
  /** Queues whose flag was read at least once. */
  readonly #known = new Set<string>();
  readonly #givingBack = new Set<Promise<void>>();
  /** The store, when it announces changes; with the unsubscribe of each watched flag. */
  readonly #watchable: (KeyValueStore & WatchableStore) | undefined;
  readonly #watching = new Map<string, () => void>();
  #timer: NodeJS.Timeout | undefined;
  #reading: Promise<void> | undefined;
  #readStart = 0;
  #stopped = false;
  #failing = false;

  constructor(store: PauseStore, period: number, host: PausePollerHost) {
    this.#store = store;
    this.#watchable = typeof store !== "function" && isWatchable(store) ? store : undefined;
    this.#period = this.#watchable === undefined ? period : Math.max(period, WATCHED_PAUSE_POLL);
    this.#host = host;
  }

  /**
   * The poller of a worker with these options, or undefined when polling is off (`pausePoll: 0`)
   * or there is no store (the option's, else the broker's own).
   * @throws InvalidOptions for a negative or non-numeric `pausePoll`
   */
  static for(broker: Broker, options: { pausePoll?: number | undefined; pauseStore?: PauseStore | undefined }, host: PausePollerHost): PausePoller | undefined {
    const period = checkPausePoll(options.pausePoll ?? DEFAULT_PAUSE_POLL);
    const store = options.pauseStore ?? broker.store;
    return period === 0 || store === undefined ? undefined : new PausePoller(store, period, host);
  }

  /**
   * True while the worker must not fetch `queue`: paused as this worker last read it, or not read
   * yet (a queue declared after the start waits for the next poll) unless the store is failing.
   */
  has(queue: string): boolean {
    return this.#paused.has(queue) || (!this.#known.has(queue) && !this.#failing);
  }

  /** The queues paused as this worker last read them. */
  get queues(): string[] {
    return [...this.#paused];
  }

  /** Reads the flags of `queues` (the ones the worker is about to consume) once, for up to 2 s, then polls on a timer. */
  async start(queues: Iterable<string>): Promise<void> {
    const first = [...queues];
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, FIRST_POLL_TIMEOUT)));
    await Promise.race([this.#poll(first), late]);
    clearTimeout(timer);
    this.#schedule();
  }

  /** A queue declared after the start: its flag is read at once, not at the next poll, so its consumer starts without waiting a period. */
  declared(queue: string): void {
    if (this.#stopped || this.#known.has(queue)) return;
    const reading = this.#reading;
    if (reading === undefined) void this.#poll([queue]);
    else void reading.then(() => this.declared(queue));
  }

  /** No more polls (at once); resolves once the messages being given back are back. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    for (const unwatch of this.#watching.values()) unwatch();
    this.#watching.clear();
    while (this.#givingBack.size > 0) await Promise.all(this.#givingBack);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(this.#tick, this.#period);
    this.#timer.unref();
  }

  readonly #tick = (): void => {
    if (this.#stopped) return;
    if (this.#reading === undefined) void this.#poll([]);
    else if (performance.now() - this.#readStart > Math.max(FIRST_POLL_TIMEOUT, 4 * this.#period)) {
      this.#failed(new Error(`the store did not answer within ${Math.round(performance.now() - this.#readStart)} ms`));
    }
    this.#schedule();
  };

  /** One round of reads (the consumed queues and `extra`); the one in flight if there is one. */
  #poll(extra: string[]): Promise<void> {
    if (this.#reading !== undefined) return this.#reading;
    this.#readStart = performance.now();
    this.#reading = this.#read(extra).finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #read(extra: string[]): Promise<void> {
    const queues = [...new Set([...this.#host.queues(), ...extra])];
    let values: (string | undefined)[];
    try {
      const store = typeof this.#store === "function" ? await this.#store() : this.#store;
      values = await Promise.all(queues.map((queue) => store.get(pauseKey(queue))));
    } catch (error) {
      return this.#failed(error);
    }
    if (this.#stopped) return;
    this.#watch(queues);
    if (this.#failing) this.#host.log.info("Reading queue pause flags succeeds again");
    const now = new Map<string, string>();
    queues.forEach((queue, i) => {
      const value = values[i];
      if (value !== undefined) now.set(queue, value);
    });
    this.#apply(now, () => {
      this.#failing = false;
      for (const queue of queues) this.#known.add(queue);
    });
  }

  /** Reads again whenever one of `queues`' flags changes, where the store announces changes. */
  #watch(queues: readonly string[]): void {
    const store = this.#watchable;
    if (store === undefined) return;
    for (const queue of queues) {
      if (this.#watching.has(queue)) continue;
      this.#watching.set(queue, store.watch(pauseKey(queue), this.#changed));
    }
  }

  /** A flag changed: read, after the read in flight if there is one (it may have missed the change). */
  readonly #changed = (): void => {
    if (this.#stopped) return;
    const reading = this.#reading;
    if (reading === undefined) void this.#poll([]);
    else void reading.then(this.#changed);
  };

  #failed(error: unknown): void {
    if (this.#stopped) return;
    if (!this.#failing) this.#host.log.warn({ err: error, paused: this.queues }, "Cannot read queue pause flags: treating every queue as not paused until the store answers");
    this.#apply(new Map(), () => (this.#failing = true));
  }

  /** Tells the worker of each change since the last read (`update` changes what is known and failing). */
  #apply(now: Map<string, string>, update: () => void): void {
    const consumed = [...this.#host.queues()];
    const held = new Set(consumed.filter((queue) => this.has(queue)));
    update();
    for (const [queue, value] of now) {
      if (this.#paused.has(queue)) continue;
      this.#paused.add(queue);
      const { by, pausedAt } = parsePause(value);
      const givingBack = this.#host.paused(queue).finally(() => this.#givingBack.delete(givingBack));
      this.#givingBack.add(givingBack);
      this.#host.log.info({ queue, by, pausedAt }, "Queue paused fleet-wide: starting none of its messages until it is resumed");
    }
    for (const queue of this.#paused) {
      if (now.has(queue)) continue;
      this.#paused.delete(queue);
      this.#host.log.info({ queue }, "Queue resumed: consuming it again");
    }
    // Resumed, or read for the first time and not paused (or the store fails): fetch it.
    for (const queue of consumed) if (held.has(queue) && !this.has(queue)) this.#host.resumed(queue);
  }
}
