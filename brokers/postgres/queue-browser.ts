import { checkBrowse, type BrowseOptions, type BrowsePage, type FoundMessage, type QueueBrowser, type StoredMessage } from "../../lib/queue-browser.ts";
import { assertQueueName } from "../../lib/queue-names.ts";
import { quoteIdent } from "./migrations.ts";
import type { Run } from "./queries.ts";

interface MessageRow {
  readonly id: string;
  readonly message_id: string | null;
  readonly body: string;
  readonly eta: string;
  readonly state: "ready" | "delayed" | "leased";
}

interface DeadRow {
  readonly message_id: string;
  readonly body: string;
  readonly reason: string;
  readonly dead_at: string;
}

/** The id under which a row whose body does not decode is listed (its dead letter gets the same). */
const RAW_ID = /^raw-(\d+)$/;

/**
 * The Postgres broker's queue browser (lib/queue-browser.ts): one LIMIT/OFFSET statement per
 * page, with its counts in the same snapshot. States are those `depths()` counts: a delay whose
 * eta passed and a lease that expired are ready, listed in fetch order (priority, eta, id); a
 * live lease is in flight, listed nowhere. Dead letters past the dead-message TTL are left out.
 * Looking a message up by id reads the queue's rows (no index on message ids: writes stay cheap).
 */
export class PostgresQueueBrowser implements QueueBrowser {
  readonly #run: Run;
  readonly #deadTtl: number;
  readonly #m: string;
  readonly #d: string;
  readonly #now: string;

  /** @param run runs each statement as the broker's own; @param deadTtl the dead-message TTL (ms) */
  constructor(schema: string, run: Run, deadTtl: number) {
    this.#run = run;
    this.#deadTtl = deadTtl;
    this.#m = `${quoteIdent(schema)}.messages`;
    this.#d = `${quoteIdent(schema)}.dead`;
    this.#now = `(SELECT ${quoteIdent(schema)}.now_ms())`;
  }

  /** The SQL of the rows `depths()` counts in `state` (ready or delayed). */
  #rows(state: "ready" | "delayed"): string {
    const m = this.#m;
    const now = this.#now;
    if (state === "delayed") return `SELECT id, message_id, body, eta, priority FROM ${m} WHERE queue = $1 AND owner IS NULL AND eta > ${now}`;
    return `SELECT id, message_id, body, eta, priority FROM ${m} WHERE queue = $1 AND owner IS NULL AND eta <= ${now}
            UNION ALL SELECT id, message_id, body, eta, priority FROM ${m} WHERE queue = $1 AND owner IS NOT NULL AND lease_until <= ${now}`;
  }

  async browse(queueName: string, options: BrowseOptions): Promise<BrowsePage> {
    checkBrowse(queueName, options);
    const { state, limit, offset } = options;
    if (state === "dead") {
      const { rows } = await this.#run<DeadRow & { total: string }>(
        `WITH live AS (SELECT id, message_id, body, reason, dead_at FROM ${this.#d} WHERE queue = $1 AND dead_at > ${this.#now} - $2)
         SELECT p.*, (SELECT count(*) FROM live) AS total FROM (SELECT 1) AS one
         LEFT JOIN LATERAL (SELECT message_id, body, reason, dead_at FROM live ORDER BY id DESC LIMIT $3 OFFSET $4) AS p ON true`,
        [queueName, this.#deadTtl, limit, offset],
      );
      return { total: Number(rows[0]?.total ?? 0), messages: rows.filter((row) => row.body !== null).map(deadMessage) };
    }
    const order = state === "delayed" ? "eta, id" : "priority, eta, id";
    const { rows } = await this.#run<MessageRow & { total: string }>(
      `WITH rows AS (${this.#rows(state)})
       SELECT p.*, (SELECT count(*) FROM rows) AS total FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (SELECT id, message_id, body, eta FROM rows ORDER BY ${order} LIMIT $2 OFFSET $3) AS p ON true`,
      [queueName, limit, offset],
    );
    const messages = rows
      .filter((row) => row.body !== null)
      .map((row): StoredMessage => (state === "delayed" ? { id: idOf(row), body: row.body, eta: Number(row.eta) } : { id: idOf(row), body: row.body }));
    return { total: Number(rows[0]?.total ?? 0), messages };
  }

  async find(queueName: string, id: string): Promise<FoundMessage | undefined> {
    assertQueueName(queueName);
    const raw = RAW_ID.exec(id);
    const now = this.#now;
    const { rows } = await this.#run<MessageRow>(
      `SELECT id, message_id, body, eta,
              CASE WHEN owner IS NULL AND eta > ${now} THEN 'delayed' WHEN lease_until > ${now} THEN 'leased' ELSE 'ready' END AS state
       FROM ${this.#m} WHERE queue = $1 AND (message_id = $2 OR (message_id IS NULL AND id = $3)) ORDER BY id`,
      [queueName, id, raw === null ? null : raw[1]],
    );
    for (const row of rows) {
      const message = { id: idOf(row), body: row.body };
      if (row.state === "delayed") return { state: "delayed", message: { ...message, eta: Number(row.eta) } };
      if (row.state === "ready") return { state: "ready", message };
    }
    const dead = await this.#run<DeadRow>(
      `SELECT message_id, body, reason, dead_at FROM ${this.#d} WHERE queue = $1 AND message_id = $2 AND dead_at > ${now} - $3 ORDER BY id DESC LIMIT 1`,
      [queueName, id, this.#deadTtl],
    );
    return dead.rows[0] === undefined ? undefined : { state: "dead", message: deadMessage(dead.rows[0]) };
  }

  async deleteDeadLetters(queueName: string, ids: readonly string[]): Promise<number> {
    assertQueueName(queueName);
    if (ids.length === 0) return 0;
    const result = await this.#run(`DELETE FROM ${this.#d} WHERE queue = $1 AND dead_at > ${this.#now} - $2 AND message_id = ANY($3::text[])`, [
      queueName,
      this.#deadTtl,
      [...new Set(ids)],
    ]);
    return result.rowCount ?? 0;
  }
}

/** The message id, or `raw-<row id>` for a body that does not decode (stored without one). */
function idOf(row: MessageRow): string {
  return row.message_id ?? `raw-${row.id}`;
}

function deadMessage(row: DeadRow): StoredMessage {
  return { id: row.message_id, body: row.body, reason: row.reason, deadAt: Number(row.dead_at) };
}
