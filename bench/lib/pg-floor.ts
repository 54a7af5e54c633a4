// The floor under dramats' enqueue on PostgreSQL, for bench/postgres.ts: the broker's own insert
// statement (MessageQueries.insert: prepared, with its NOTIFY, into the real table and indexes)
// run from a bare pg pool on rows encoded beforehand, with no actor, middleware or encoding in
// the way. One row per `await` (a commit each), and 1,000 rows per call. No client code writing
// one row per message into this table goes faster: the full send's distance to it is dramats'
// own overhead, and a target above it is out of reach on this schema and server.
import pg from "pg";
import { MessageQueries, type NewMessage, type Run } from "../../brokers/postgres/queries.ts";
import { DATABASE_URL } from "./config.ts";
import { nowNs } from "./proc.ts";
import { summarize, type Summary } from "./stats.ts";

export interface FloorFigures {
  /** msg/s, one statement of one row per `await`. */
  sequential: Summary;
  /** msg/s, statements of BULK rows. */
  bulk: Summary;
}

const QUEUE = "bench_floor";
const BULK = 1_000;

/** A row as the broker writes a no-op job's message (same body shape and size). */
function row(n: number): NewMessage {
  const messageId = crypto.randomUUID();
  const body = JSON.stringify({ queue_name: QUEUE, actor_name: "bench_noop", args: [n], kwargs: {}, options: {}, message_id: messageId, message_timestamp: Date.now() });
  return { queue: QUEUE, body, messageId, priority: 0, delay: 0 };
}

/** `rounds` rounds of `sequential` single-row and `bulk` rows in statements of 1,000, in `schema` (already migrated). */
export async function measureFloor(schema: string, rounds: number, sequential: number, bulk: number): Promise<FloorFigures> {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  pool.on("error", () => undefined);
  const run: Run = (text, values, name) => pool.query(name === undefined ? { text, values: values as unknown[] } : { name, text, values: values as unknown[] });
  const queries = new MessageQueries(schema);
  const seq: number[] = [];
  const many: number[] = [];
  try {
    // Warm-up: the connection open, the statements prepared.
    for (let i = 0; i < 20; i++) await queries.insert(run, [row(i)]);
    await queries.insert(run, Array.from({ length: BULK }, (_, i) => row(i)));
    for (let r = 0; r < rounds; r++) {
      const singles = Array.from({ length: sequential }, (_, i) => row(i));
      let t0 = nowNs();
      for (const one of singles) await queries.insert(run, [one]);
      seq.push(sequential / (Number(nowNs() - t0) / 1e9));
      const batches = Array.from({ length: Math.ceil(bulk / BULK) }, (_, b) => Array.from({ length: Math.min(BULK, bulk - b * BULK) }, (_, i) => row(b * BULK + i)));
      t0 = nowNs();
      for (const batch of batches) await queries.insert(run, batch);
      many.push(bulk / (Number(nowNs() - t0) / 1e9));
      await pool.query(`DELETE FROM "${schema}".messages WHERE queue = $1`, [QUEUE]);
    }
  } finally {
    await pool.query(`DELETE FROM "${schema}".messages WHERE queue = $1`, [QUEUE]).catch(() => undefined);
    await pool.end();
  }
  return { sequential: summarize(seq), bulk: summarize(many) };
}
