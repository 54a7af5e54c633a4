import { randomUUID } from "node:crypto";
import { Consumer, type Delivery } from "../../lib/broker.ts";
import type { Logger } from "../../lib/logging.ts";
import type { Message } from "../../lib/message.ts";
import { redact } from "../../lib/redact.ts";
import type { ChangeWait, Listener } from "./listener.ts";
import type { MessageQueries, NewMessage, Run, TakenRow } from "./queries.ts";

/** A leased message: its row id is the handle that settles it. */
export interface PostgresDelivery extends Delivery {
  /** The message's row id (a bigint, as text). */
  readonly id: string;
  readonly body: string;
  readonly redelivered: boolean;
}

/** What a consumer needs from its broker. */
export interface ConsumerHost {
  readonly logger: Logger;
  readonly leaseTime: number;
  readonly listener: Listener;
  readonly queries: MessageQueries;
  /** Runs a statement on the broker's pool, once the schema is ready; typed errors. */
  readonly run: Run;
  /** Encodes a retry. */
  newMessage(message: Message, delay: number): NewMessage;
  /** Deletes an acked row, in a statement shared with the other acks of this turn of the event loop. */
  ack(id: string): Promise<void>;
  deadLettered(queueName: string, deadId: string, error: unknown): void;
  consumerClosed(consumer: PostgresConsumer): void;
}

/** While the LISTEN connection is down, an idle consumer looks at least this often (ms). */
const UNHEARD_RECHECK = 1_000;
/** Shortest wait before looking again at a message that is due but was locked by another fetch (ms). */
const MIN_RECHECK = 5;

const byOrder = (a: TakenRow, b: TakenRow) => a.priority - b.priority || Number(a.eta) - Number(b.eta) || Number(a.id) - Number(b.id);

/**
 * Fault-test seam, kept off the public class: how a spec makes a consumer vanish the way a
 * killed process's does (see testing.ts). Not exported from the package.
 */
export const crashes = new WeakMap<PostgresConsumer, () => void>();

/**
 * Reads one queue of a PostgresBroker. Fetched messages are leased to this consumer (its
 * `owner`); the broker's heartbeat extends the leases of all its consumers at once. An idle
 * consumer sends nothing: it waits for a NOTIFY of its queue, or for the next delayed message
 * or lease to fall due (one timer), and looks once after the LISTEN connection was remade.
 */
export class PostgresConsumer extends Consumer {
  /** The queue this consumer reads. */
  readonly queueName: string;
  /** The lease owner written on fetched rows: unique per consumer, with the pid for operators. */
  readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  readonly #host: ConsumerHost;
  readonly #held = new Set<string>();
  /** After a look that found nothing: the queue's version then, and when something falls due (local ms). */
  #idle: { seen: number; until: number } | undefined;
  #waiting: ChangeWait | undefined;
  #interrupted = false;
  #closed = false;
  /** How many fetch statements it ran (for specs: none while idle). */
  looks = 0;

  /** @internal Consumers are built by their broker's `consume()`. */
  constructor(host: ConsumerHost, queueName: string) {
    super();
    crashes.set(this, () => this.#abandon());
    this.#host = host;
    this.queueName = queueName;
  }

  /** The lease owner (see PostgresBroker.recoverConsumer). */
  override get recoveryId(): string {
    return this.owner;
  }

  /** Deliveries fetched and not yet settled or given back. */
  get unsettled(): number {
    return this.#held.size;
  }

  /** @internal True when it holds leases the heartbeat must extend. */
  get holding(): boolean {
    return !this.#closed && this.#held.size > 0;
  }

  /** @internal The row ids it holds leases on (the heartbeat extends them). */
  get heldIds(): IterableIterator<string> {
    return this.#held.values();
  }

  async fetch(max: number, timeout: number): Promise<PostgresDelivery[]> {
    const deadline = Date.now() + timeout;
    const listener = this.#host.listener;
    this.#interrupted = false;
    while (!this.#closed && !this.#interrupted) {
      // Not connected: no notification can be missed by looking anyway (below, within UNHEARD_RECHECK).
      await listener.ready().catch(() => undefined);
      const seen = listener.version(this.queueName);
      const idle = this.#idle;
      if (idle === undefined || idle.seen !== seen || Date.now() >= idle.until || !listener.connected) {
        this.looks++;
        const rows = await this.#host.queries.take(this.#host.run, this.queueName, Math.max(1, Math.floor(max)), this.owner, this.#host.leaseTime);
        if (this.#closed) {
          // Closed while the statement ran: give back what it leased rather than let the leases run out.
          if (rows.length > 0) await this.#host.queries.release(this.#host.run, rows.map((row) => String(row.id)), this.owner, true).catch(() => undefined);
          return [];
        }
        if (rows.length > 0) {
          this.#idle = undefined;
          const reclaimed = rows.filter((row) => row.reclaimed).length;
          if (reclaimed > 0) this.#host.logger.warn({ queue: this.queueName, count: reclaimed }, "Redelivering messages whose lease expired (their worker died or stalled)");
          return rows.sort(byOrder).map((row) => this.#deliver(row));
        }
        const due = await this.#host.queries.nextDue(this.#host.run, this.queueName);
        const until = due === undefined ? Infinity : Date.now() + Math.max(MIN_RECHECK, due + 1);
        this.#idle = { seen, until: listener.connected ? until : Math.min(until, Date.now() + UNHEARD_RECHECK) };
      }
      const now = Date.now();
      if (now >= deadline) break;
      const until = Math.min(deadline, this.#idle!.until);
      if (until <= now) continue;
      this.#waiting = listener.wait(this.queueName, seen, until - now);
      await this.#waiting.promise;
      this.#waiting = undefined;
    }
    return [];
  }

  #deliver(row: TakenRow): PostgresDelivery {
    const id = String(row.id);
    this.#held.add(id);
    return { id, body: row.body, redelivered: row.deliveries > 1, eta: Number(row.eta) };
  }

  async ack(delivery: Delivery): Promise<void> {
    const { id } = delivery as PostgresDelivery;
    await this.#host.ack(id);
    this.#held.delete(id);
  }

  async nack(delivery: Delivery, reason: string, error?: unknown): Promise<void> {
    const { id } = delivery as PostgresDelivery;
    const stack = error instanceof Error && typeof error.stack === "string" ? redact(error.stack) : null;
    const dead = await this.#host.queries.nack(this.#host.run, id, reason, stack);
    if (dead !== undefined) this.#host.deadLettered(dead.queue, dead.deadId, error);
    this.#held.delete(id);
  }

  /** The retry written and the original deleted in one statement. */
  async retry(delivery: Delivery, message: Message, delay: number): Promise<void> {
    const { id } = delivery as PostgresDelivery;
    const next = this.#host.newMessage(message, delay);
    await this.#host.queries.retry(this.#host.run, id, next);
    this.#held.delete(id);
    this.#host.listener.announce(next.queue);
  }

  /** Gives unstarted deliveries back: ready at once, in their old place (their eta is kept). */
  async requeue(deliveries: Delivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    const ids = deliveries.map((d) => (d as PostgresDelivery).id);
    await this.#host.queries.release(this.#host.run, ids, this.owner, true);
    for (const id of ids) this.#held.delete(id);
    this.#host.listener.announce(this.queueName);
  }

  interrupt(): void {
    this.#interrupted = true;
    this.#waiting?.cancel();
  }

  /** Stops and gives back what it still holds, as redelivered messages. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.interrupt();
    const ids = [...this.#held];
    this.#held.clear();
    this.#host.consumerClosed(this);
    if (ids.length === 0) return;
    await this.#host.queries.release(this.#host.run, ids, this.owner, false);
    this.#host.listener.announce(this.queueName);
  }

  /** Disappears the way a killed worker does: no more heartbeats, nothing given back. For fault tests. */
  #abandon(): void {
    this.#closed = true;
    this.interrupt();
    this.#held.clear();
    this.#host.consumerClosed(this);
  }
}
