import type { Statement } from "better-sqlite3";
import { DELAYED, LEASED, READY, type Db } from "./schema.ts";

/** A row handed out by `take`. */
export interface TakenRow {
  readonly id: number;
  readonly priority: number;
  readonly eta: number;
  readonly deliveries: number;
  readonly body: string;
}

export interface NewMessage {
  readonly queue: string;
  readonly body: string;
  readonly messageId: string | null;
  readonly priority: number;
  /** ms from now; 0 for ready at once */
  readonly delay: number;
}

export interface DeadRow {
  readonly id: number;
  readonly message_id: string;
  readonly body: string;
  readonly reason: string;
  readonly dead_at: number;
}

type Params = Record<string, unknown>;

/** Most rows one flush or trim statement deletes (a few milliseconds of work). */
export const CHUNK = 5_000;
type Stmt<R = unknown> = Statement<[Params], R>;

/**
 * Every statement the broker runs, prepared once per connection. Each is a short indexed
 * lookup or a write of a few rows, so the synchronous driver never holds the event loop for
 * long; the multi-statement steps run in `BEGIN IMMEDIATE` transactions.
 */
export class Statements {
  readonly #db: Db;
  readonly #insert: Stmt;
  readonly #available: Stmt<{ ok: number }>;
  readonly #promote: Stmt;
  readonly #reclaim: Stmt;
  readonly #take: Stmt<TakenRow>;
  readonly #nextDue: Stmt<{ delayed: number | null; leased: number | null }>;
  readonly #extend: Stmt;
  readonly #release: Stmt;
  readonly #recover: Stmt;
  readonly #delete: Stmt;
  readonly #deleteReturning: Stmt<{ queue: string; message_id: string | null; body: string }>;
  readonly #insertDead: Stmt;
  readonly #exists: Stmt<{ ok: number }>;
  readonly #depths: Stmt<{ ready: number; delayed: number; inFlight: number }>;
  readonly #oldestReady: Stmt<{ at: number | null }>;
  readonly #deadCount: Stmt<{ n: number }>;
  readonly #deadLetters: Stmt<DeadRow>;
  readonly #firstDeadSince: Stmt<DeadRow>;
  readonly #lastDeadId: Stmt<{ id: number | null }>;
  readonly #flushMessages: Stmt;
  readonly #flushDead: Stmt;
  readonly #trimDead: Stmt;
  readonly #allDead: Stmt<DeadRow>;
  readonly #deadByIds: Stmt<DeadRow>;
  readonly #deleteDead: Stmt;

  readonly take: (queue: string, max: number, owner: string, leaseUntil: number, now: number) => { rows: TakenRow[]; reclaimed: number };
  readonly retry: (id: number, next: NewMessage, now: number) => boolean;
  readonly nack: (id: number, reason: string, now: number) => number | undefined;
  /** Deletes up to CHUNK messages and CHUNK dead letters of `queue`; true when none are left. */
  readonly flushChunk: (queue: string) => boolean;
  /** Inserts every message in one transaction. */
  readonly insertMany: (messages: readonly NewMessage[], now: number) => void;
  /** Deletes every acked row in one transaction. */
  readonly ackMany: (ids: readonly number[]) => void;
  /**
   * Moves dead letters of `queue` younger than `cutoff` (those with a message id in `ids`, or
   * all) back to the queue as `revive` rewrites them, in one transaction; returns how many.
   */
  readonly requeueDead: (queue: string, ids: readonly string[] | undefined, cutoff: number, revive: (row: DeadRow) => NewMessage, now: number) => number;

  constructor(db: Db) {
    this.#db = db;
    const M = "dramats_messages";
    const D = "dramats_dead";
    const prepare = <R>(sql: string) => db.prepare<[Params], R>(sql);

    this.#insert = prepare(
      `INSERT INTO ${M} (queue, state, priority, eta, due, message_id, body)
       VALUES (@queue, @state, @priority, @eta, @due, @messageId, @body)`,
    );
    this.#available = prepare(
      `SELECT EXISTS (SELECT 1 FROM ${M} WHERE queue = @queue AND state = ${READY})
           OR EXISTS (SELECT 1 FROM ${M} WHERE queue = @queue AND state = ${DELAYED} AND due <= @now)
           OR EXISTS (SELECT 1 FROM ${M} WHERE queue = @queue AND state = ${LEASED} AND due <= @now) AS ok`,
    );
    this.#promote = prepare(`UPDATE ${M} SET state = ${READY}, due = 0 WHERE queue = @queue AND state = ${DELAYED} AND due <= @now`);
    this.#reclaim = prepare(
      `UPDATE ${M} SET state = ${READY}, due = 0, owner = NULL WHERE queue = @queue AND state = ${LEASED} AND due <= @now`,
    );
    this.#take = prepare(
      `UPDATE ${M} SET state = ${LEASED}, due = @leaseUntil, owner = @owner, deliveries = deliveries + 1
       WHERE id IN (SELECT id FROM ${M} WHERE queue = @queue AND state = ${READY} ORDER BY priority, eta, id LIMIT @max)
       RETURNING id, priority, eta, deliveries, body`,
    );
    this.#nextDue = prepare(
      `SELECT (SELECT min(due) FROM ${M} WHERE queue = @queue AND state = ${DELAYED}) AS delayed,
              (SELECT min(due) FROM ${M} WHERE queue = @queue AND state = ${LEASED}) AS leased`,
    );
    this.#extend = prepare(
      `UPDATE ${M} SET due = @leaseUntil
       WHERE owner = @owner AND state = ${LEASED} AND id IN (SELECT value FROM json_each(@ids))`,
    );
    this.#release = prepare(
      `UPDATE ${M} SET state = ${READY}, due = 0, owner = NULL, deliveries = max(0, deliveries - @undo)
       WHERE owner = @owner AND state = ${LEASED} AND id IN (SELECT value FROM json_each(@ids))`,
    );
    // Through the leased rows' index: a dead consumer's leases are found without a table scan.
    this.#recover = prepare(
      `UPDATE ${M} INDEXED BY dramats_messages_leased SET state = ${READY}, due = 0, owner = NULL
       WHERE state = ${LEASED} AND owner = @owner`,
    );
    this.#delete = prepare(`DELETE FROM ${M} WHERE id = @id`);
    this.#deleteReturning = prepare(`DELETE FROM ${M} WHERE id = @id RETURNING queue, message_id, body`);
    this.#insertDead = prepare(
      `INSERT INTO ${D} (queue, message_id, body, reason, dead_at) VALUES (@queue, @messageId, @body, @reason, @now)`,
    );
    // Spelled per state: each state has its own partial index.
    const inState = (state: number) => `SELECT id FROM ${M} WHERE queue = @queue AND state = ${state}`;
    this.#exists = prepare(
      `SELECT EXISTS (${inState(READY)}) OR EXISTS (${inState(DELAYED)}) OR EXISTS (${inState(LEASED)}) AS ok`,
    );
    // Counts by time, not by state: an expired lease or a due delay is ready for any fetch. Five
    // range counts on the partial indexes are several times faster than one pass with sums.
    const count = (state: number, due: string) =>
      `(SELECT count(*) FROM ${M} WHERE queue = @queue AND state = ${state}${due === "" ? "" : ` AND due ${due} @now`})`;
    this.#depths = prepare(
      `SELECT ${count(READY, "")} + ${count(DELAYED, "<=")} + ${count(LEASED, "<=")} AS ready,
              ${count(DELAYED, ">")} AS delayed, ${count(LEASED, ">")} AS inFlight`,
    );
    // What counts as ready in `depths`; a due delay's eta is its due time.
    this.#oldestReady = prepare(
      `SELECT min(eta) AS at FROM (SELECT min(eta) AS eta FROM ${M} WHERE queue = @queue AND state = ${READY}
         UNION ALL SELECT min(eta) FROM ${M} WHERE queue = @queue AND state = ${DELAYED} AND due <= @now
         UNION ALL SELECT min(eta) FROM ${M} WHERE queue = @queue AND state = ${LEASED} AND due <= @now)`,
    );
    this.#deadCount = prepare(`SELECT count(*) AS n FROM ${D} WHERE queue = @queue AND dead_at > @cutoff`);
    this.#deadLetters = prepare(
      `SELECT id, message_id, body, reason, dead_at FROM ${D}
       WHERE queue = @queue AND dead_at > @cutoff ORDER BY id LIMIT @limit`,
    );
    this.#firstDeadSince = prepare(
      `SELECT id, message_id, body, reason, dead_at FROM ${D} WHERE queue = @queue AND id > @since ORDER BY id LIMIT 1`,
    );
    this.#lastDeadId = prepare(`SELECT max(id) AS id FROM ${D} WHERE queue = @queue`);
    // In chunks, so a huge queue does not hold the event loop (or other processes' writes) for long.
    this.#flushMessages = prepare(
      `DELETE FROM ${M} WHERE id IN (${inState(READY)} UNION ALL ${inState(DELAYED)} UNION ALL ${inState(LEASED)} LIMIT ${CHUNK})`,
    );
    this.#flushDead = prepare(`DELETE FROM ${D} WHERE id IN (SELECT id FROM ${D} WHERE queue = @queue LIMIT ${CHUNK})`);
    this.#trimDead = prepare(`DELETE FROM ${D} WHERE id IN (SELECT id FROM ${D} WHERE dead_at <= @cutoff LIMIT ${CHUNK})`);
    this.#allDead = prepare(`SELECT id, message_id, body, reason, dead_at FROM ${D} WHERE queue = @queue AND dead_at > @cutoff ORDER BY id`);
    this.#deadByIds = prepare(
      `SELECT id, message_id, body, reason, dead_at FROM ${D}
       WHERE queue = @queue AND dead_at > @cutoff AND message_id IN (SELECT value FROM json_each(@ids)) ORDER BY id`,
    );
    this.#deleteDead = prepare(`DELETE FROM ${D} WHERE id = @id`);

    this.take = db
      .transaction((queue: string, max: number, owner: string, leaseUntil: number, now: number) => {
        this.#promote.run({ queue, now });
        const reclaimed = this.#reclaim.run({ queue, now }).changes;
        const rows = this.#take.all({ queue, max, owner, leaseUntil });
        return { rows, reclaimed };
      })
      .immediate;
    this.retry = db
      .transaction((id: number, next: NewMessage, now: number) => {
        // Someone else settled it (or it was flushed): writing the retry would duplicate it.
        if (this.#delete.run({ id }).changes === 0) return false;
        this.#insertOne(next, now);
        return true;
      })
      .immediate;
    this.nack = db
      .transaction((id: number, reason: string, now: number) => {
        const row = this.#deleteReturning.get({ id });
        if (row === undefined) return undefined;
        const messageId = row.message_id ?? `raw-${id}`;
        return Number(this.#insertDead.run({ queue: row.queue, messageId, body: row.body, reason, now }).lastInsertRowid);
      })
      .immediate;
    this.insertMany = db
      .transaction((messages: readonly NewMessage[], now: number) => {
        for (const message of messages) this.#insertOne(message, now);
      })
      .immediate;
    this.ackMany = db
      .transaction((ids: readonly number[]) => {
        for (const id of ids) this.#delete.run({ id });
      })
      .immediate;
    this.requeueDead = db
      .transaction((queue: string, ids: readonly string[] | undefined, cutoff: number, revive: (row: DeadRow) => NewMessage, now: number) => {
        const rows = ids === undefined ? this.#allDead.all({ queue, cutoff }) : this.#deadByIds.all({ queue, cutoff, ids: JSON.stringify(ids) });
        for (const row of rows) {
          this.#deleteDead.run({ id: row.id });
          this.#insertOne(revive(row), now);
        }
        return rows.length;
      })
      .immediate;
    this.flushChunk = db
      .transaction((queue: string) => {
        const messages = this.#flushMessages.run({ queue }).changes;
        const dead = this.#flushDead.run({ queue }).changes;
        return messages < CHUNK && dead < CHUNK;
      })
      .immediate;
  }

  #insertOne(message: NewMessage, now: number): void {
    const eta = now + message.delay;
    const delayed = message.delay > 0;
    this.#insert.run({
      queue: message.queue,
      state: delayed ? DELAYED : READY,
      priority: message.priority,
      eta,
      due: delayed ? eta : 0,
      messageId: message.messageId,
      body: message.body,
    });
  }

  /** True when a fetch on `queue` would find something: a cheap read that takes no write lock. */
  available(queue: string, now: number): boolean {
    return this.#available.get({ queue, now })!.ok === 1;
  }

  /** The earliest time a delayed message or a lease of `queue` falls due, if any. */
  nextDue(queue: string): number | undefined {
    const row = this.#nextDue.get({ queue })!;
    const times = [row.delayed, row.leased].filter((t): t is number => t !== null);
    return times.length === 0 ? undefined : Math.min(...times);
  }

  /** Pushes the leases of `ids` held by `owner` out to `leaseUntil`; returns how many it still held. */
  extend(ids: readonly number[], owner: string, leaseUntil: number): number {
    return this.#extend.run({ ids: JSON.stringify(ids), owner, leaseUntil }).changes;
  }

  /** Makes `owner`'s leased `ids` ready again; `undoDelivery` when they never started. */
  release(ids: readonly number[], owner: string, undoDelivery: boolean): number {
    return this.#release.run({ ids: JSON.stringify(ids), owner, undo: undoDelivery ? 1 : 0 }).changes;
  }

  /** Makes every row leased by `owner` ready again (keeping their delivery count); returns how many. */
  recover(owner: string): number {
    return this.#recover.run({ owner }).changes;
  }

  exists(queue: string): boolean {
    return this.#exists.get({ queue })!.ok === 1;
  }

  depths(queue: string, now: number, deadCutoff: number): { ready: number; delayed: number; inFlight: number; dead: number } {
    const counts = this.#depths.get({ queue, now })!;
    return { ...counts, dead: this.#deadCount.get({ queue, cutoff: deadCutoff })!.n };
  }

  /** The smallest eta among the rows `depths` counts ready; null when there are none. */
  oldestReady(queue: string, now: number): number | null {
    return this.#oldestReady.get({ queue, now })!.at;
  }

  deadLetters(queue: string, deadCutoff: number, limit: number): DeadRow[] {
    return this.#deadLetters.all({ queue, cutoff: deadCutoff, limit: Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : -1 });
  }

  firstDeadSince(queue: string, since: number): DeadRow | undefined {
    return this.#firstDeadSince.get({ queue, since });
  }

  lastDeadId(queue: string): number {
    return this.#lastDeadId.get({ queue })!.id ?? 0;
  }

  /** Deletes up to CHUNK dead letters older than `cutoff`; returns how many. */
  trimDead(cutoff: number): number {
    return this.#trimDead.run({ cutoff }).changes;
  }

  /** The `PRAGMA data_version` of this connection: it changes when another connection commits. */
  dataVersion(): number {
    return this.#db.pragma("data_version", { simple: true }) as number;
  }
}
