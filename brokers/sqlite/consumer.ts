import { randomUUID } from "node:crypto";
import { Consumer, type Delivery } from "../../lib/broker.ts";
import type { Logger } from "../../lib/logging.ts";
import type { Message } from "../../lib/message.ts";
import { backoff, isBusy } from "./busy.ts";
import type { ChangeFeed, ChangeWait } from "./change-feed.ts";
import type { NewMessage, Statements, TakenRow } from "./statements.ts";

/** A leased message: its row id is the handle that settles it. */
export interface SqliteDelivery extends Delivery {
  /** The message's row id. */
  readonly id: number;
  readonly body: string;
  readonly redelivered: boolean;
}

/** What a consumer needs from its broker. */
export interface ConsumerHost {
  readonly logger: Logger;
  readonly leaseTime: number;
  readonly leaseRenewInterval: number;
  readonly busyTimeout: number;
  readonly feed: ChangeFeed;
  /** Runs `operation` on the broker's statements, again while the database is locked; typed errors; rejects once closed. */
  run<T>(operation: (statements: Statements) => T): Promise<T>;
  /** Runs `operation` now, once: SQLite's errors come through as they are (see `translate`). */
  runNow<T>(operation: (statements: Statements) => T): T;
  translate(error: unknown): unknown;
  /** Encodes a retry. */
  newMessage(message: Message, delay: number): NewMessage;
  /** Deletes an acked row, in a transaction shared with the other acks of this turn of the event loop. */
  ack(id: number): Promise<void>;
  deadLettered(queueName: string, deadId: number, error: unknown): void;
  consumerClosed(consumer: SqliteConsumer): void;
}

const byOrder = (a: TakenRow, b: TakenRow) => a.priority - b.priority || a.eta - b.eta || a.id - b.id;

/**
 * Reads one queue of a SqliteBroker. Each fetched message is leased to this consumer: other
 * workers cannot see it until the lease expires, and a timer extends the leases it holds, so a
 * long actor is not redelivered while its process lives. A process that dies stops extending,
 * and its messages become visible again `leaseTime` later at the latest.
 */
/**
 * Fault-test seam, kept off the public class: how a spec makes a consumer vanish the way a
 * killed process's does (see testing.ts next to this file). Not exported from the package.
 */
export const crashes = new WeakMap<SqliteConsumer, () => void>();

export class SqliteConsumer extends Consumer {
  /** The queue this consumer reads. */
  readonly queueName: string;
  /** The lease owner written on fetched rows: unique per consumer, with the pid for operators. */
  readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  readonly #host: ConsumerHost;
  readonly #held = new Set<number>();
  readonly #renewTimer: NodeJS.Timeout;
  #waiting: ChangeWait | undefined;
  #interrupted = false;
  #renewing = false;
  #closed = false;

  /** @internal Consumers are built by their broker's `consume()`. */
  constructor(host: ConsumerHost, queueName: string) {
    super();
    crashes.set(this, () => this.#abandon());
    this.#host = host;
    this.queueName = queueName;
    this.#renewTimer = setInterval(() => this.#renew(), host.leaseRenewInterval);
    this.#renewTimer.unref();
  }

  /** The lease owner (see SqliteBroker.recoverConsumer). */
  override get recoveryId(): string {
    return this.owner;
  }

  /** Deliveries fetched and not yet settled or given back. */
  get unsettled(): number {
    return this.#held.size;
  }

  async fetch(max: number, timeout: number): Promise<SqliteDelivery[]> {
    const deadline = Date.now() + timeout;
    this.#interrupted = false;
    let busySince: number | undefined;
    let attempt = 0;
    while (!this.#closed && !this.#interrupted) {
      // Version, look and wait run without a break, so no write can slip between them unseen.
      let rows: TakenRow[];
      let seen: number;
      let nextDue: number | undefined;
      try {
        seen = this.#host.feed.version();
        if (Number.isNaN(seen)) {
          this.#host.runNow(() => undefined); // throws when the broker closed
          throw Object.assign(new Error("PRAGMA data_version could not be read"), { code: "SQLITE_BUSY" });
        }
        rows = this.#host.runNow((s) => this.#take(s, max));
        nextDue = rows.length > 0 ? undefined : this.#host.runNow((s) => s.nextDue(this.queueName));
      } catch (error) {
        if (!isBusy(error)) throw this.#host.translate(error);
        if (Date.now() >= deadline) break;
        busySince ??= Date.now();
        if (Date.now() - busySince > this.#host.busyTimeout) throw this.#host.translate(error);
        await backoff(attempt++);
        continue;
      }
      busySince = undefined;
      attempt = 0;
      if (rows.length > 0) return rows.map((row) => this.#deliver(row));
      const now = Date.now();
      if (now >= deadline) break;
      // Wake at the next change, or when the next delay or lease falls due, or at the deadline.
      const until = nextDue === undefined ? deadline : Math.min(deadline, nextDue + 1);
      this.#waiting = this.#host.feed.wait(this.queueName, seen, until - now);
      await this.#waiting.promise;
      this.#waiting = undefined;
    }
    return [];
  }

  #take(s: Statements, max: number): TakenRow[] {
    const now = Date.now();
    if (!s.available(this.queueName, now)) return [];
    const { rows, reclaimed } = s.take(this.queueName, Math.max(1, Math.floor(max)), this.owner, now + this.#host.leaseTime, now);
    if (reclaimed > 0) {
      this.#host.logger.warn({ queue: this.queueName, count: reclaimed }, "Redelivering messages whose lease expired (their worker died or stalled)");
    }
    return rows.sort(byOrder);
  }

  #deliver(row: TakenRow): SqliteDelivery {
    this.#held.add(row.id);
    // `eta` is when the row became due: its enqueue, or the end of its delay.
    return { id: row.id, body: row.body, redelivered: row.deliveries > 1, eta: row.eta };
  }

  /** Extends every lease this consumer holds; runs on a timer, independent of traffic. */
  #renew(): void {
    if (this.#closed || this.#renewing || this.#held.size === 0) return;
    const ids = [...this.#held];
    this.#renewing = true;
    this.#host
      .run((s) => s.extend(ids, this.owner, Date.now() + this.#host.leaseTime))
      .then(
        (kept) => {
          if (kept < ids.length) {
            this.#host.logger.debug({ queue: this.queueName, lost: ids.length - kept }, "Some leases were no longer held (settled meanwhile, flushed, or expired and taken over)");
          }
        },
        (error: unknown) => {
          if (!this.#closed) this.#host.logger.error({ err: error, queue: this.queueName }, "Could not extend message leases; retrying at the next interval");
        },
      )
      .finally(() => (this.#renewing = false));
  }

  async ack(delivery: Delivery): Promise<void> {
    const { id } = delivery as SqliteDelivery;
    await this.#host.ack(id);
    this.#held.delete(id);
    this.#host.feed.announce(this.queueName);
  }

  async nack(delivery: Delivery, reason: string, error?: unknown): Promise<void> {
    const { id } = delivery as SqliteDelivery;
    // Remembered in the same step as the write: a join may look as soon as the row exists.
    await this.#host.run((s) => {
      const deadId = s.nack(id, reason, Date.now());
      if (deadId !== undefined) this.#host.deadLettered(this.queueName, deadId, error);
    });
    this.#held.delete(id);
    this.#host.feed.announce(this.queueName);
  }

  async retry(delivery: Delivery, message: Message, delay: number): Promise<void> {
    const { id } = delivery as SqliteDelivery;
    const next = this.#host.newMessage(message, delay);
    await this.#host.run((s) => s.retry(id, next, Date.now()));
    this.#held.delete(id);
    this.#host.feed.announce(this.queueName);
  }

  /** Gives unstarted deliveries back: ready at once, in their old place (their eta is kept). */
  async requeue(deliveries: Delivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    const ids = deliveries.map((d) => (d as SqliteDelivery).id);
    await this.#host.run((s) => s.release(ids, this.owner, true));
    for (const id of ids) this.#held.delete(id);
    this.#host.feed.announce(this.queueName);
  }

  interrupt(): void {
    this.#interrupted = true;
    this.#waiting?.cancel();
  }

  /** Stops renewing and gives back what it still holds, as redelivered messages. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.interrupt();
    clearInterval(this.#renewTimer);
    const ids = [...this.#held];
    this.#held.clear();
    this.#host.consumerClosed(this);
    if (ids.length === 0) return;
    await this.#host.run((s) => s.release(ids, this.owner, false));
    this.#host.feed.announce(this.queueName);
  }

  /**
   * Disappears the way a killed worker does: stops fetching and renewing, and gives nothing
   * back, so its messages return only when their leases expire. For fault tests.
   */
  #abandon(): void {
    this.#closed = true;
    this.interrupt();
    clearInterval(this.#renewTimer);
    this.#held.clear();
    this.#host.consumerClosed(this);
  }
}
