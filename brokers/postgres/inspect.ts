import type { QueueDepths } from "../../lib/broker-types.ts";
import { quoteIdent } from "./migrations.ts";
import type { NewMessage, Run } from "./queries.ts";

/** A dead letter as stored. */
export interface DeadRow {
  readonly id: string;
  readonly message_id: string;
  readonly body: string;
  readonly reason: string;
  readonly dead_at: string;
}

/** Most rows one trim statement deletes. */
export const TRIM_CHUNK = 5_000;

/**
 * The statements that look at queues and dead letters, and the operator's writes (flush,
 * requeue, trim), for one schema. As in `depths()` of every broker, a delay whose eta passed
 * and a lease that expired count as ready: the next fetch takes them.
 */
export class InspectQueries {
  readonly #s: string;
  readonly #m: string;
  readonly #d: string;
  readonly #now: string;

  constructor(schema: string) {
    this.#s = quoteIdent(schema);
    this.#m = `${this.#s}.messages`;
    this.#d = `${this.#s}.dead`;
    this.#now = `(SELECT ${this.#s}.now_ms())`;
  }

  /** Counts by state; dead letters younger than `deadTtl` ms. */
  async depths(run: Run, queue: string, deadTtl: number): Promise<QueueDepths> {
    const m = this.#m;
    const now = this.#now;
    const { rows } = await run<{ ready: string; delayed: string; in_flight: string; dead: string }>(
      `SELECT (SELECT count(*) FROM ${m} WHERE queue = $1 AND owner IS NULL AND eta <= ${now})
            + (SELECT count(*) FROM ${m} WHERE queue = $1 AND owner IS NOT NULL AND lease_until <= ${now}) AS ready,
              (SELECT count(*) FROM ${m} WHERE queue = $1 AND owner IS NULL AND eta > ${now}) AS delayed,
              (SELECT count(*) FROM ${m} WHERE queue = $1 AND owner IS NOT NULL AND lease_until > ${now}) AS in_flight,
              (SELECT count(*) FROM ${this.#d} WHERE queue = $1 AND dead_at > ${now} - $2) AS dead`,
      [queue, deadTtl],
    );
    const row = rows[0]!;
    return { ready: Number(row.ready), delayed: Number(row.delayed), inFlight: Number(row.in_flight), dead: Number(row.dead) };
  }

  /** The smallest eta among the rows `depths` counts ready (server-clock epoch ms). */
  async oldestReady(run: Run, queue: string): Promise<number | undefined> {
    const m = this.#m;
    const now = this.#now;
    const { rows } = await run<{ at: string | null }>(
      `SELECT least((SELECT min(eta) FROM ${m} WHERE queue = $1 AND owner IS NULL AND eta <= ${now}),
                    (SELECT min(eta) FROM ${m} WHERE queue = $1 AND owner IS NOT NULL AND lease_until <= ${now})) AS at`,
      [queue],
    );
    return rows[0]!.at === null ? undefined : Number(rows[0]!.at);
  }

  /** The id of the queue's newest dead letter (0 for none). */
  async lastDeadId(run: Run, queue: string): Promise<number> {
    const { rows } = await run<{ id: string | null }>(`SELECT max(id) AS id FROM ${this.#d} WHERE queue = $1`, [queue]);
    return Number(rows[0]!.id ?? 0);
  }

  /** One snapshot: whether any message of the queue is left, its first dead letter after `after`, its newest dead letter's id. */
  async look(run: Run, queue: string, after: number, deadLetters: boolean) {
    const m = this.#m;
    const { rows } = await run<{ pending: boolean; dead_id: string | null; dead_message_id: string | null; dead_reason: string | null; last: string | null }>(
      `SELECT EXISTS (SELECT 1 FROM ${m} WHERE queue = $1 AND owner IS NULL)
           OR EXISTS (SELECT 1 FROM ${m} WHERE queue = $1 AND owner IS NOT NULL) AS pending,
              d.id AS dead_id, d.message_id AS dead_message_id, d.reason AS dead_reason,
              (SELECT max(id) FROM ${this.#d} WHERE queue = $1) AS last
       FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (SELECT id, message_id, reason FROM ${this.#d} WHERE $3 AND queue = $1 AND id > $2 ORDER BY id LIMIT 1) AS d ON true`,
      [queue, after, deadLetters],
    );
    const row = rows[0]!;
    return {
      idle: !row.pending,
      cursor: Number(row.last ?? 0),
      dead: row.dead_id === null ? undefined : { id: String(row.dead_id), messageId: row.dead_message_id!, reason: row.dead_reason! },
    };
  }

  /** Deletes the queue's messages (every state) and dead letters. */
  async flush(run: Run, queue: string): Promise<void> {
    await run(
      `WITH a AS (DELETE FROM ${this.#m} WHERE queue = $1 AND owner IS NULL),
            b AS (DELETE FROM ${this.#m} WHERE queue = $1 AND owner IS NOT NULL)
       DELETE FROM ${this.#d} WHERE queue = $1`,
      [queue],
    );
  }

  /** The queue's dead letters younger than `deadTtl`, oldest first, at most `limit`. */
  async deadLetters(run: Run, queue: string, deadTtl: number, limit: number): Promise<DeadRow[]> {
    const cap = Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : null;
    const { rows } = await run<DeadRow>(
      `SELECT id, message_id, body, reason, dead_at FROM ${this.#d} WHERE queue = $1 AND dead_at > ${this.#now} - $2 ORDER BY id LIMIT $3`,
      [queue, deadTtl, cap],
    );
    return rows;
  }

  /**
   * In one transaction (`run` on one client): locks the queue's live dead letters (all, or those
   * whose message id is in `ids`), writes what `revive` makes of each and deletes them. @returns how many
   */
  async requeueDead(run: Run, queue: string, ids: readonly string[] | undefined, deadTtl: number, revive: (row: DeadRow) => NewMessage, insert: (messages: NewMessage[]) => Promise<void>): Promise<number> {
    const { rows } = await run<DeadRow>(
      `SELECT id, message_id, body, reason, dead_at FROM ${this.#d}
       WHERE queue = $1 AND dead_at > ${this.#now} - $2 AND ($3::text[] IS NULL OR message_id = ANY($3::text[])) ORDER BY id FOR UPDATE`,
      [queue, deadTtl, ids === undefined ? null : [...ids]],
    );
    if (rows.length === 0) return 0;
    await insert(rows.map(revive));
    await run(`DELETE FROM ${this.#d} WHERE id = ANY($1::bigint[])`, [rows.map((row) => row.id)]);
    return rows.length;
  }

  /** Deletes up to TRIM_CHUNK dead letters older than `deadTtl`; returns how many. */
  async trimDead(run: Run, deadTtl: number): Promise<number> {
    const result = await run(
      `DELETE FROM ${this.#d} WHERE id IN (SELECT id FROM ${this.#d} WHERE dead_at <= ${this.#now} - $1 LIMIT ${TRIM_CHUNK})`,
      [deadTtl],
    );
    return result.rowCount ?? 0;
  }
}
