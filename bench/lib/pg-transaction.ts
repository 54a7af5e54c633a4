// The transactional enqueue of bench/postgres.ts: an application's transaction that inserts one
// row, timed alone, with one dramats send in it, and with a `SELECT 1` in its place (one more round
// trip doing nothing: the floor under any send written as a statement of its own), on the same
// pool, alternating in blocks. The send goes through `PostgresBroker.withTransaction(client, fn)`,
// written through the application's client inside its transaction; a broker without it is
// measured sending beside the open transaction, reported as mode "send beside the transaction".
import pg from "pg";
import { median, summarize, type Summary } from "./stats.ts";
import { DATABASE_URL } from "./config.ts";
import type { DramatsSide } from "./pg-sides.ts";
import { nowNs } from "./proc.ts";

export interface TransactionFigures {
  /** "withTransaction" (the message in the application's transaction) or "send beside the transaction". */
  mode: string;
  count: number;
  /** Per transaction: BEGIN, INSERT, COMMIT. */
  insert_ms: Summary;
  /** Per transaction: BEGIN, INSERT, the send, COMMIT. */
  with_send_ms: Summary;
  /** Median with the send over median without. */
  ratio: number;
  /**
   * Per transaction: BEGIN, INSERT, `SELECT 1`, COMMIT: one more round trip that does nothing,
   * the least any send written as a statement of its own can cost.
   */
  round_trip_ms: Summary;
  /** Its median over the INSERT alone's: no separate statement can come in under this ratio. */
  round_trip_ratio: number;
  /**
   * Per transaction: BEGIN, the INSERT and the schema's SQL function `enqueue()` in one statement
   * (`WITH o AS (INSERT ... RETURNING id) SELECT enqueue(...) FROM o`), COMMIT: no extra round
   * trip, only the message row's own cost.
   */
  sql_function_ms: Summary;
  /** Its median over the INSERT alone's. */
  sql_function_ratio: number;
}

/** What `withTransaction` looks like, where the broker has it (detected at run time). */
interface Transactional {
  withTransaction<T>(client: pg.PoolClient, fn: () => Promise<T>): Promise<T>;
}

const BLOCK = 50;

/** `count` transactions of each kind, in alternating blocks; per-transaction times in ms. */
export async function measureTransactions(side: DramatsSide, count: number): Promise<TransactionFigures> {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  pool.on("error", () => undefined);
  const producer = await side.producer("tx", { pool });
  const table = `${side.schema}.bench_orders`;
  const candidate = producer.broker as unknown as Partial<Transactional>;
  const transactional = typeof candidate.withTransaction === "function" ? (candidate as Transactional) : undefined;
  try {
    await pool.query(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, item text NOT NULL, placed_at timestamptz NOT NULL DEFAULT now())`);
    const once = async (i: number, send: boolean | "select" | "sql"): Promise<number> => {
      const t0 = nowNs();
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        if (send === "sql") {
          await client.query(`WITH o AS (INSERT INTO ${table} (item) VALUES ($1) RETURNING id) SELECT ${side.schema}.enqueue($2, 'bench_noop', jsonb_build_array(o.id)) FROM o`, [`item ${i}`, "bench_tx"]);
        } else await client.query(`INSERT INTO ${table} (item) VALUES ($1)`, [`item ${i}`]);
        if (send === "select") await client.query("SELECT 1");
        else if (send === true) {
          if (transactional) await transactional.withTransaction(client, () => producer.send(i));
          else await producer.send(i);
        }
        await client.query("COMMIT");
      } finally {
        client.release();
      }
      return Number(nowNs() - t0) / 1e6;
    };
    // Warm-up: connections open, the broker migrated, statements prepared.
    for (let i = 0; i < 10; i++) await once(i, i % 2 === 0);
    const alone: number[] = [];
    const withSend: number[] = [];
    const withSelect: number[] = [];
    const withFunction: number[] = [];
    for (let done = 0; done < count; done += BLOCK) {
      const n = Math.min(BLOCK, count - done);
      for (let i = 0; i < n; i++) alone.push(await once(done + i, false));
      for (let i = 0; i < n; i++) withSend.push(await once(done + i, true));
      for (let i = 0; i < n; i++) withSelect.push(await once(done + i, "select"));
      for (let i = 0; i < n; i++) withFunction.push(await once(done + i, "sql"));
    }
    return {
      mode: transactional ? "withTransaction" : "send beside the transaction",
      count,
      insert_ms: summarize(alone),
      with_send_ms: summarize(withSend),
      ratio: median(withSend) / median(alone),
      round_trip_ms: summarize(withSelect),
      round_trip_ratio: median(withSelect) / median(alone),
      sql_function_ms: summarize(withFunction),
      sql_function_ratio: median(withFunction) / median(alone),
    };
  } finally {
    await producer.close();
    await pool.end();
  }
}
