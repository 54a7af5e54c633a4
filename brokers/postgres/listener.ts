import pg from "pg";
import type { Logger } from "../../lib/logging.ts";
import { redact } from "../../lib/redact.ts";
import { quoteIdent } from "./migrations.ts";

/** Payload of a notification that concerns every queue (a recovery). */
export const ALL_QUEUES = "*";

/** The NOTIFY channel of a schema's brokers. */
export function wakeChannel(schema: string): string {
  return `dramats:${schema}`;
}

/** A wait for a queue to change, cancellable. */
export interface ChangeWait {
  readonly promise: Promise<void>;
  cancel(): void;
}

/** What a broker tells of its LISTEN connection (for specs and diagnostics). */
export interface ListenerState {
  /** True while the LISTEN connection is up. */
  readonly connected: boolean;
  /** How many connections it made: above 1 after a reconnection. */
  readonly connections: number;
  /** The server process of the LISTEN connection, when connected. */
  readonly backendPid: number | undefined;
}

const FIRST_RETRY = 100;
const LONGEST_RETRY = 5_000;

/**
 * The one LISTEN connection of a broker (a process): hears every enqueue of the schema and
 * wakes the consumers waiting on that queue. Dropped connections are made again (backing off
 * up to 5 s); since notifications sent meanwhile are lost, every waiter is woken once after a
 * reconnection to look again. Holds no timer and sends nothing while connected and idle.
 */
export class Listener implements ListenerState {
  readonly #config: pg.ClientConfig;
  readonly #channel: string;
  readonly #logger: Logger;
  #client: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelay = FIRST_RETRY;
  #tick = 0;
  #resetAt = 0;
  readonly #changedAt = new Map<string, number>();
  readonly #waiters = new Map<string, Set<() => void>>();
  #closed = false;
  /** How many connections it made (for specs: a reconnection counts). */
  connections = 0;

  constructor(config: pg.ClientConfig, schema: string, logger: Logger) {
    this.#config = config;
    this.#channel = wakeChannel(schema);
    this.#logger = logger;
  }

  /** The NOTIFY channel it listens on (the schema's). */
  get channel(): string {
    return this.#channel;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True while the LISTEN connection is up: a change is heard at once. */
  get connected(): boolean {
    return this.#client !== undefined;
  }

  /** Connects and listens when not yet done. Rejects (with pg's error) when it cannot connect now. */
  ready(): Promise<void> {
    if (this.#client !== undefined || this.#closed) return Promise.resolve();
    this.#connecting ??= this.#connect().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    const client = new pg.Client(this.#config);
    client.on("error", (error) => this.#lost(client, error));
    client.on("end", () => this.#lost(client, undefined));
    client.on("notification", (message) => {
      if (message.channel === this.#channel) this.#changed(message.payload ?? ALL_QUEUES);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.#channel)}`);
    } catch (error) {
      client.removeAllListeners("end");
      await client.end().catch(() => {});
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    const again = this.connections > 0;
    this.connections++;
    this.#client = client;
    this.#retryDelay = FIRST_RETRY;
    if (again) {
      this.#logger.info("LISTEN connection made again; consumers look once for what they may have missed");
      this.#changed(ALL_QUEUES);
    }
  }

  #lost(client: pg.Client, error: Error | undefined): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.removeAllListeners("notification");
    void client.end().catch(() => {});
    if (this.#closed) return;
    this.#logger.warn({ err: error && redact(error.message) }, "Lost the LISTEN connection; connecting again");
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.ready().catch((error: unknown) => {
        this.#logger.warn({ err: redact((error as Error).message), retryIn: this.#retryDelay }, "Could not make the LISTEN connection again");
        this.#retryDelay = Math.min(this.#retryDelay * 2, LONGEST_RETRY);
        this.#scheduleRetry();
      });
    }, this.#retryDelay);
  }

  /** Marks a change of `queue` (or of every queue) and wakes its waiters. Also for this process's own writes. */
  #changed(queue: string): void {
    this.#tick++;
    if (queue === ALL_QUEUES) {
      this.#resetAt = this.#tick;
      const all = [...this.#waiters.values()];
      this.#waiters.clear();
      for (const set of all) for (const wake of set) wake();
      return;
    }
    this.#changedAt.set(queue, this.#tick);
    const set = this.#waiters.get(queue);
    if (set === undefined) return;
    this.#waiters.delete(queue);
    for (const wake of set) wake();
  }

  /** Marks a change made by this process (heard anyway through NOTIFY; this wakes at once). */
  announce(queue: string): void {
    this.#changed(queue);
  }

  /** A number that changes whenever `queue` may have changed (a notification, or a reconnection). */
  version(queue: string): number {
    return Math.max(this.#changedAt.get(queue) ?? 0, this.#resetAt);
  }

  /** Resolves when `queue` changes after `seen` (at once if it already has), or after `timeout` ms. */
  wait(queue: string, seen: number, timeout: number): ChangeWait {
    if (this.version(queue) !== seen || this.#closed) return { promise: Promise.resolve(), cancel: () => {} };
    let wake!: () => void;
    const promise = new Promise<void>((resolve) => (wake = resolve));
    const timer = setTimeout(done, Math.max(0, timeout));
    const waiters = this;
    function done(): void {
      clearTimeout(timer);
      waiters.#waiters.get(queue)?.delete(done);
      wake();
    }
    let set = this.#waiters.get(queue);
    if (set === undefined) this.#waiters.set(queue, (set = new Set()));
    set.add(done);
    return { promise, cancel: done };
  }

  /** Ends the connection and wakes every waiter. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#changed(ALL_QUEUES);
    await this.#connecting?.catch(() => {});
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) await client.end().catch(() => {});
  }

  /** For specs: the backend pid of the LISTEN connection, when connected. */
  get backendPid(): number | undefined {
    return (this.#client as unknown as { processID?: number } | undefined)?.processID;
  }
}
