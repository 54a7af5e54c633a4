import { checkMinute, encodeHistoryBucket, HISTORY_TTL, minutesBetween, parseHistoryBucket, type HistoryBucket, type HistoryStore, type StoredBucket } from "../../lib/history-store.ts";
import { quoteIdent } from "./migrations.ts";
import type { Run } from "./queries.ts";

/**
 * The PostgresBroker's history store: the `history` table (minute start, worker id, the
 * bucket's compact JSON). Each write upserts one row and deletes rows past the 25 h TTL.
 */
export class PostgresHistoryStore implements HistoryStore {
  readonly #run: Run;
  readonly #t: string;

  /** @param run runs each statement as the broker's own (schema ready, typed errors) */
  constructor(schema: string, run: Run) {
    this.#run = run;
    this.#t = `${quoteIdent(schema)}.history`;
  }

  async write(minute: number, workerId: string, bucket: HistoryBucket): Promise<void> {
    checkMinute(minute);
    await this.#run(
      `WITH sweep AS (DELETE FROM ${this.#t} WHERE minute < $4)
       INSERT INTO ${this.#t} (minute, worker, bucket) VALUES ($1, $2, $3)
       ON CONFLICT (minute, worker) DO UPDATE SET bucket = excluded.bucket`,
      [minute, workerId, encodeHistoryBucket(bucket), Date.now() - HISTORY_TTL],
    );
  }

  async read(fromMinute: number, toMinute: number): Promise<StoredBucket[]> {
    minutesBetween(fromMinute, toMinute);
    const from = Math.max(fromMinute, Date.now() - HISTORY_TTL);
    const { rows } = await this.#run<{ minute: string; worker: string; bucket: string }>(
      `SELECT minute, worker, bucket FROM ${this.#t} WHERE minute >= $1 AND minute <= $2 ORDER BY minute, worker`,
      [from, toMinute],
    );
    const out: StoredBucket[] = [];
    for (const row of rows) {
      const bucket = parseHistoryBucket(row.bucket, `history ${row.minute}/${row.worker}`);
      if (bucket !== undefined) out.push({ minute: Number(row.minute), workerId: row.worker, bucket });
    }
    return out;
  }
}
