import { createHash } from "node:crypto";
import type { QueryResultRow } from "pg";
import { quoteIdent } from "./migrations.ts";
import { ALL_QUEUES, wakeChannel } from "./listener.ts";

/** What a statement returned. */
export interface RunResult<R> {
  /** The rows it returned. */
  readonly rows: R[];
  /** How many rows it wrote or returned. */
  readonly rowCount: number | null;
}

/**
 * Runs one parameterised statement (on the broker's pool, or a client of the caller's). `name`,
 * when given, names the statement for a prepared statement (see statementName); a Run may ignore it.
 */
export type Run = <R extends QueryResultRow = QueryResultRow>(text: string, values?: readonly unknown[], name?: string) => Promise<RunResult<R>>;

const names = new Map<string, string>();

/**
 * The prepared-statement name of `text`: derived from the text itself, so the same statement
 * gets the same name on every connection and two texts (two schemas' statements on one pool)
 * never share one. `pg` prepares a named statement once per connection and reuses it.
 */
export function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `dramats_${createHash("sha1").update(text).digest("hex").slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}

/** Runs `text` as the prepared statement named after it. */
const prepared = <R extends QueryResultRow>(run: Run, text: string, values: readonly unknown[]) => run<R>(text, values, statementName(text));

/** A message to write. */
export interface NewMessage {
  readonly queue: string;
  readonly body: string;
  readonly messageId: string | null;
  readonly priority: number;
  /** ms from now (server clock); 0 for ready at once */
  readonly delay: number;
}

/** A row handed out by `take`. */
export interface TakenRow {
  readonly id: string;
  readonly priority: number;
  readonly eta: string;
  readonly deliveries: number;
  readonly body: string;
  /** Its lease had expired: its worker died or stalled. */
  readonly reclaimed: boolean;
}

/**
 * The statements of a message's life (write, fetch, lease, settle), for one schema. Each is one
 * statement, so each is atomic on its own; writes that make work notify the schema's channel in
 * the same statement (delivered at commit). Times come from the server's clock (`now_ms()`),
 * so hosts with skewed clocks agree on etas and leases.
 */
export class MessageQueries {
  readonly schema: string;
  readonly channel: string;
  readonly #sql: Readonly<Record<"take" | "insert" | "insertOne" | "insertOnce" | "nextDue" | "heartbeat" | "ack" | "retry" | "nack" | "release" | "recover", string>>;

  constructor(schema: string) {
    this.schema = schema;
    this.channel = wakeChannel(schema);
    const s = quoteIdent(schema);
    const m = `${s}.messages`;
    // An uncorrelated scalar subquery runs once per statement (an InitPlan) and can bound an index scan.
    const now = `(SELECT ${s}.now_ms())`;
    this.#sql = {
      take: `WITH waiting AS (
          SELECT id, priority, eta, false AS reclaimed FROM ${m}
          WHERE queue = $1 AND owner IS NULL AND eta <= ${now}
          ORDER BY priority, eta, id LIMIT $2 FOR UPDATE SKIP LOCKED
        ), expired AS (
          SELECT id, priority, eta, true AS reclaimed FROM ${m}
          WHERE queue = $1 AND owner IS NOT NULL AND lease_until <= ${now}
          ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED
        ), chosen AS (
          SELECT * FROM (SELECT * FROM waiting UNION ALL SELECT * FROM expired) AS c ORDER BY priority, eta, id LIMIT $2
        )
        UPDATE ${m} AS m SET lease_until = ${now} + $4, owner = $3, deliveries = m.deliveries + 1
        FROM chosen WHERE m.id = chosen.id
        RETURNING m.id, m.priority, m.eta, m.deliveries, m.body, chosen.reclaimed`,
      insert: `WITH ins AS (${insertRows(m, now, 1)}) SELECT pg_notify($6, queue) FROM (SELECT DISTINCT queue FROM ins) AS q`,
      // One message (a single send, the common case): a plain VALUES row plans and runs in less time than unnest.
      insertOne: `WITH ins AS (INSERT INTO ${m} (queue, priority, eta, message_id, body) VALUES ($1, $2, ${now} + $3, $4, $5) RETURNING queue)
        SELECT pg_notify($6, queue) FROM ins`,
      // Each $n once and in order (the claim's, the columns, the channel): adapters that turn them
      // into positional `?` (Knex) keep them right.
      insertOnce: `WITH claim AS (
          INSERT INTO ${s}.kv (key, value, expires_at) VALUES ($1, $2, ${now} + $3)
          ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at WHERE kv.expires_at <= ${now}
          RETURNING 1
        ), ins AS (${insertRows(m, now, 4, "WHERE EXISTS (SELECT 1 FROM claim)")}),
        woken AS (SELECT pg_notify($9, queue) FROM (SELECT DISTINCT queue FROM ins) AS q)
        SELECT (SELECT count(*) FROM claim)::integer AS claimed, (SELECT count(*) FROM woken) AS woken`,
      nextDue: `SELECT least((SELECT min(eta) FROM ${m} WHERE queue = $1 AND owner IS NULL),
                    (SELECT min(lease_until) FROM ${m} WHERE queue = $1 AND owner IS NOT NULL)) - ${now} AS wait`,
      heartbeat: `UPDATE ${m} SET lease_until = ${now} + $3
        WHERE id IN (SELECT id FROM ${m} WHERE id = ANY($1::bigint[]) FOR UPDATE SKIP LOCKED) AND owner = ANY($2::text[])`,
      ack: `DELETE FROM ${m} WHERE id = ANY($1::bigint[])`,
      retry: `WITH gone AS (DELETE FROM ${m} WHERE id = $1 RETURNING id),
            ins AS (INSERT INTO ${m} (queue, priority, eta, message_id, body)
                    SELECT $2, $3, ${now} + $4, $5, $6 WHERE EXISTS (SELECT 1 FROM gone) RETURNING queue)
        SELECT pg_notify($7, queue) FROM ins`,
      nack: `WITH gone AS (DELETE FROM ${m} WHERE id = $1 RETURNING id, queue, message_id, body)
        INSERT INTO ${s}.dead (queue, message_id, body, reason, traceback, dead_at)
        SELECT queue, coalesce(message_id, 'raw-' || id), body, $2, $3, ${now} FROM gone RETURNING id, queue`,
      release: `WITH r AS (UPDATE ${m} SET lease_until = NULL, owner = NULL, deliveries = greatest(0, deliveries - $3)
                  WHERE id = ANY($1::bigint[]) AND owner = $2 RETURNING queue)
        SELECT pg_notify($4, queue) FROM (SELECT DISTINCT queue FROM r) AS q`,
      recover: `WITH r AS (UPDATE ${m} SET lease_until = NULL, owner = NULL WHERE owner = $1 RETURNING queue)
        SELECT count(*)::integer AS n, pg_notify($2, queue) FROM r GROUP BY queue`,
    };
  }

  /**
   * `insert`'s first five parameters: each column as a JSON array. Texts are made well-formed
   * first, as pg's UTF-8 encoding does for a text parameter (a lone surrogate becomes U+FFFD):
   * JSON would carry it as an escape the server refuses, failing every message of the statement.
   */
  #columns(messages: readonly NewMessage[]): string[] {
    return [
      JSON.stringify(messages.map((x) => wellFormed(x.queue))),
      JSON.stringify(messages.map((x) => Math.round(x.priority))),
      JSON.stringify(messages.map((x) => Math.max(0, Math.round(x.delay)))),
      JSON.stringify(messages.map((x) => (x.messageId === null ? null : wellFormed(x.messageId)))),
      JSON.stringify(messages.map((x) => wellFormed(x.body))),
    ];
  }

  /** Writes every message (one statement) and wakes their queues' consumers at commit. */
  async insert(run: Run, messages: readonly NewMessage[]): Promise<void> {
    if (messages.length === 0) return;
    if (messages.length === 1) {
      const x = messages[0]!;
      await prepared(run, this.#sql.insertOne, [x.queue, Math.round(x.priority), Math.max(0, Math.round(x.delay)), x.messageId, x.body, this.channel]);
      return;
    }
    await prepared(run, this.#sql.insert, [...this.#columns(messages), this.channel]);
  }

  /**
   * Sets `key` in the store unless it holds an unexpired value and, only then, writes the
   * messages: one statement, so both or neither. @returns whether this call set the key
   */
  async insertOnce(run: Run, key: string, value: string, ttl: number, messages: readonly NewMessage[]): Promise<boolean> {
    const { rows } = await run<{ claimed: number }>(this.#sql.insertOnce, [key, value, Math.max(1, Math.round(ttl)), ...this.#columns(messages), this.channel]);
    return rows[0]!.claimed === 1;
  }

  /** Leases up to `max` due messages of `queue` (waiting ones, and ones whose lease expired) to `owner`. */
  async take(run: Run, queue: string, max: number, owner: string, leaseTime: number): Promise<TakenRow[]> {
    return (await prepared<TakenRow>(run, this.#sql.take, [queue, max, owner, leaseTime])).rows;
  }

  /** Ms until the next delayed message or lease of `queue` falls due (server clock); undefined for none. */
  async nextDue(run: Run, queue: string): Promise<number | undefined> {
    const { rows } = await prepared<{ wait: string | null }>(run, this.#sql.nextDue, [queue]);
    return rows[0]!.wait === null ? undefined : Number(rows[0]!.wait);
  }

  /**
   * Extends the leases of rows `ids` that `owners` still hold (one statement for a whole
   * process); returns how many. A row another consumer took over (after this one's lease ran
   * out) is left alone. Rows locked right now (being acked or settled) are skipped rather than
   * waited for: no deadlock with this process's own settles, and they need no extension.
   */
  async heartbeat(run: Run, ids: readonly string[], owners: readonly string[], leaseTime: number): Promise<number> {
    const result = await prepared(run, this.#sql.heartbeat, [ids, owners, leaseTime]);
    return result.rowCount ?? 0;
  }

  /** Deletes settled messages. */
  async ack(run: Run, ids: readonly string[]): Promise<void> {
    await prepared(run, this.#sql.ack, [ids]);
  }

  /** Deletes message `id` and writes `next` in one statement, unless `id` is gone (settled or flushed): then nothing. */
  async retry(run: Run, id: string, next: NewMessage): Promise<boolean> {
    const { rows } = await prepared(run, this.#sql.retry, [id, next.queue, Math.round(next.priority), Math.max(0, Math.round(next.delay)), next.messageId, next.body, this.channel]);
    return rows.length > 0;
  }

  /** Moves message `id` to the dead letters in one statement; returns the dead letter's id, undefined when `id` is gone. */
  async nack(run: Run, id: string, reason: string, traceback: string | null): Promise<{ deadId: string; queue: string } | undefined> {
    const { rows } = await prepared<{ id: string; queue: string }>(run, this.#sql.nack, [id, storableText(reason), traceback === null ? null : storableText(traceback)]);
    return rows[0] && { deadId: String(rows[0].id), queue: rows[0].queue };
  }

  /** Gives `owner`'s leased `ids` back, ready at once; `undoDelivery` when they never started. */
  async release(run: Run, ids: readonly string[], owner: string, undoDelivery: boolean): Promise<void> {
    await prepared(run, this.#sql.release, [ids, owner, undoDelivery ? 1 : 0, this.channel]);
  }

  /** Makes every message `owner` holds ready again (a dead process's); returns how many. */
  async recover(run: Run, owner: string): Promise<number> {
    const { rows } = await prepared<{ n: number }>(run, this.#sql.recover, [owner, this.channel]);
    return rows.reduce((sum, row) => sum + row.n, 0);
  }

  /** Wakes the consumers of every queue (of every process on the schema). */
  async wakeAll(run: Run): Promise<void> {
    await run("SELECT pg_notify($1, $2)", [this.channel, ALL_QUEUES]);
  }
}

/**
 * The multi-row insert into `table` (rows filtered by `where`), its five columns in parameters $first to $first + 4, each a
 * JSON array (one text each): JSON.stringify and the server's JSON parser are faster than pg's
 * text-array literals for a thousand bodies full of quotes.
 */
function insertRows(table: string, now: string, first: number, where = ""): string {
  const column = (k: number) => `json_array_elements_text($${first + k}::json)`;
  return `INSERT INTO ${table} (queue, priority, eta, message_id, body)
        SELECT q, p::integer, ${now} + d::bigint, mid, b FROM ROWS FROM (${[0, 1, 2, 3, 4].map(column).join(", ")}) WITH ORDINALITY AS t(q, p, d, mid, b, n) ${where} ORDER BY n
        RETURNING queue`;
}

/** ES2024's String.prototype.isWellFormed / toWellFormed (Node 20+), not in this project's ES2022 lib. */
interface WellFormedString {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

/** `text` with any lone surrogate replaced by U+FFFD (what encoding it as UTF-8 does). */
const wellFormed = (text: string): string => ((text as unknown as WellFormedString).isWellFormed() ? text : (text as unknown as WellFormedString).toWellFormed());

/**
 * `text` as a PostgreSQL text column can hold it: NUL characters (which the server refuses, so
 * the statement would fail on every try) become U+FFFD. For reasons and tracebacks, which come
 * from errors an actor threw with any message.
 */
export const storableText = (text: string): string => (text.includes("\u0000") ? text.replaceAll("\u0000", "\ufffd") : text);
