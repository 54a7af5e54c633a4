import type { Statement } from "better-sqlite3";
import { checkBrowse, type BrowseOptions, type BrowsePage, type BrowseState, type FoundMessage, type QueueBrowser, type StoredMessage } from "../../lib/queue-browser.ts";
import { assertQueueName } from "../../lib/queue-names.ts";
import { DELAYED, LEASED, READY, type Db } from "./schema.ts";

type Params = Record<string, unknown>;
type Stmt<R = unknown> = Statement<[Params], R>;

interface MessageRow {
  readonly id: number;
  readonly state: number;
  readonly due: number;
  readonly message_id: string | null;
  readonly body: string;
}

interface DeadRow {
  readonly id: number;
  readonly message_id: string;
  readonly body: string;
  readonly reason: string;
  readonly dead_at: number;
}

/** The id under which a row whose body does not decode is listed (its dead letter gets the same). */
const RAW_ID = /^raw-(\d+)$/;

/**
 * The SQLite broker's queue browser (lib/queue-browser.ts): one indexed, LIMIT/OFFSET statement
 * per page. States are those `depths()` counts: a delay whose eta passed and a lease that
 * expired are ready (the next fetch takes them), so ready rows are listed in fetch's order
 * (priority, eta, id) across the three; a live lease is in flight, listed nowhere. Dead letters
 * past the dead-message TTL are gone for every method, as for `deadLetters()`.
 */
export class SqliteQueueBrowser implements QueueBrowser {
  readonly #run: <T>(operation: () => T) => Promise<T>;
  readonly #deadMessageTtl: number;
  readonly #ready: Stmt<MessageRow>;
  readonly #readyOnly: Stmt<MessageRow>;
  readonly #delayed: Stmt<MessageRow>;
  readonly #dead: Stmt<DeadRow>;
  readonly #counts: Stmt<{ ready: number; delayed: number; dead: number; late: number }>;
  readonly #byMessageId: Stmt<MessageRow>;
  readonly #byRowId: Stmt<MessageRow>;
  readonly #deadById: Stmt<DeadRow>;
  readonly #deleteDead: Stmt;
  /** A page and the counts, read in one (deferred, read-only) transaction, so they agree. */
  readonly #page: (state: BrowseState, params: Params) => BrowsePage;

  /**
   * @param run runs each operation as the broker's own (again while locked, typed errors)
   * @param deadMessageTtl how long dead letters are kept (ms)
   */
  constructor(db: Db, run: <T>(operation: () => T) => Promise<T>, deadMessageTtl: number) {
    this.#run = run;
    this.#deadMessageTtl = deadMessageTtl;
    const M = "dramats_messages";
    const D = "dramats_dead";
    const prepare = <R>(sql: string) => db.prepare<[Params], R>(sql);
    const columns = "id, state, due, message_id, body, priority, eta";
    // Each branch on its state's partial index; SQLite merges the ordered branches.
    this.#ready = prepare(
      `SELECT ${columns} FROM ${M} WHERE queue = @queue AND state = ${READY}
       UNION ALL SELECT ${columns} FROM ${M} WHERE queue = @queue AND state = ${DELAYED} AND due <= @now
       UNION ALL SELECT ${columns} FROM ${M} WHERE queue = @queue AND state = ${LEASED} AND due <= @now
       ORDER BY priority, eta, id LIMIT @limit OFFSET @offset`,
    );
    // No due delay nor expired lease (the usual case): a walk of the ready index alone.
    this.#readyOnly = prepare(`SELECT ${columns} FROM ${M} WHERE queue = @queue AND state = ${READY} ORDER BY priority, eta, id LIMIT @limit OFFSET @offset`);
    this.#delayed = prepare(
      `SELECT ${columns} FROM ${M} WHERE queue = @queue AND state = ${DELAYED} AND due > @now ORDER BY due, id LIMIT @limit OFFSET @offset`,
    );
    this.#dead = prepare(
      `SELECT id, message_id, body, reason, dead_at FROM ${D} WHERE queue = @queue AND dead_at > @cutoff ORDER BY id DESC LIMIT @limit OFFSET @offset`,
    );
    const count = (state: number, due: string) => `(SELECT count(*) FROM ${M} WHERE queue = @queue AND state = ${state}${due === "" ? "" : ` AND due ${due} @now`})`;
    this.#counts = prepare(
      `SELECT ${count(READY, "")} AS ready, ${count(DELAYED, ">")} AS delayed, ${count(DELAYED, "<=")} + ${count(LEASED, "<=")} AS late,
              (SELECT count(*) FROM ${D} WHERE queue = @queue AND dead_at > @cutoff) AS dead`,
    );
    this.#byMessageId = prepare(`SELECT ${columns} FROM ${M} WHERE queue = @queue AND message_id = @id ORDER BY id`);
    this.#byRowId = prepare(`SELECT ${columns} FROM ${M} WHERE id = @rowId AND queue = @queue AND message_id IS NULL`);
    this.#deadById = prepare(
      `SELECT id, message_id, body, reason, dead_at FROM ${D} WHERE queue = @queue AND message_id = @id AND dead_at > @cutoff ORDER BY id DESC LIMIT 1`,
    );
    this.#deleteDead = prepare(
      `DELETE FROM ${D} WHERE queue = @queue AND dead_at > @cutoff AND message_id IN (SELECT value FROM json_each(@ids))`,
    );
    this.#page = db.transaction((state: BrowseState, params: Params): BrowsePage => {
      const counts = this.#counts.get(params)!;
      if (state === "dead") return { total: counts.dead, messages: this.#dead.all(params).map(deadMessage) };
      if (state === "delayed") {
        return { total: counts.delayed, messages: this.#delayed.all(params).map((row) => ({ id: idOf(row), body: row.body, eta: row.due })) };
      }
      const rows = (counts.late === 0 ? this.#readyOnly : this.#ready).all(params);
      return { total: counts.ready + counts.late, messages: rows.map((row) => ({ id: idOf(row), body: row.body })) };
    });
  }

  async browse(queueName: string, options: BrowseOptions): Promise<BrowsePage> {
    checkBrowse(queueName, options);
    const now = Date.now();
    const params = { queue: queueName, now, cutoff: now - this.#deadMessageTtl, limit: options.limit, offset: options.offset };
    return this.#run(() => this.#page(options.state, params));
  }

  async find(queueName: string, id: string): Promise<FoundMessage | undefined> {
    assertQueueName(queueName);
    const now = Date.now();
    return this.#run(() => {
      const raw = RAW_ID.exec(id);
      const rows = [...(raw === null ? [] : this.#byRowId.all({ queue: queueName, rowId: Number(raw[1]) })), ...this.#byMessageId.all({ queue: queueName, id })];
      for (const row of rows) {
        const message = { id: idOf(row), body: row.body };
        if (row.state === DELAYED && row.due > now) return { state: "delayed" as const, message: { ...message, eta: row.due } };
        if (row.state !== LEASED || row.due <= now) return { state: "ready" as const, message };
      }
      const dead = this.#deadById.get({ queue: queueName, id, cutoff: now - this.#deadMessageTtl });
      return dead === undefined ? undefined : { state: "dead" as const, message: deadMessage(dead) };
    });
  }

  async deleteDeadLetters(queueName: string, ids: readonly string[]): Promise<number> {
    assertQueueName(queueName);
    if (ids.length === 0) return 0;
    const params = { queue: queueName, cutoff: Date.now() - this.#deadMessageTtl, ids: JSON.stringify([...new Set(ids)]) };
    return this.#run(() => this.#deleteDead.run(params).changes);
  }
}

/** The message id, or `raw-<row id>` for a body that does not decode (stored without one). */
function idOf(row: MessageRow): string {
  return row.message_id ?? `raw-${row.id}`;
}

function deadMessage(row: DeadRow): StoredMessage {
  return { id: row.message_id, body: row.body, reason: row.reason, deadAt: row.dead_at };
}
