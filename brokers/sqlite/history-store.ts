import type { Statement } from "better-sqlite3";
import { checkMinute, encodeHistoryBucket, HISTORY_TTL, minutesBetween, parseHistoryBucket, type HistoryBucket, type HistoryStore, type StoredBucket } from "../../lib/history-store.ts";
import type { Db } from "./schema.ts";

type Params = Record<string, unknown>;
interface Row {
  minute: number;
  worker: string;
  bucket: string;
}

const DDL = `CREATE TABLE IF NOT EXISTS dramats_history (
  minute INTEGER NOT NULL,
  worker TEXT NOT NULL,
  bucket TEXT NOT NULL,
  PRIMARY KEY (minute, worker)
) WITHOUT ROWID`;

/**
 * The SqliteBroker's history store: the `dramats_history` table (minute start, worker id, the
 * bucket's compact JSON), created on first use (older dramats versions ignore it). Each write
 * upserts one row and deletes the rows of minutes past the 25 h TTL.
 */
export class SqliteHistoryStore implements HistoryStore {
  readonly #db: Db;
  readonly #run: <T>(operation: () => T) => Promise<T>;
  #statements: { upsert: Statement<[Params]>; read: Statement<[Params], Row>; sweep: Statement<[Params]> } | undefined;

  /** @param run runs each operation as the broker's own (again while locked, typed errors) */
  constructor(db: Db, run: <T>(operation: () => T) => Promise<T>) {
    this.#db = db;
    this.#run = run;
  }

  #prepared() {
    if (this.#statements !== undefined) return this.#statements;
    this.#db.exec(DDL);
    this.#statements = {
      upsert: this.#db.prepare<[Params]>(
        `INSERT INTO dramats_history (minute, worker, bucket) VALUES (@minute, @worker, @bucket)
         ON CONFLICT (minute, worker) DO UPDATE SET bucket = excluded.bucket`,
      ),
      read: this.#db.prepare<[Params], Row>(`SELECT minute, worker, bucket FROM dramats_history WHERE minute >= @from AND minute <= @to ORDER BY minute, worker`),
      sweep: this.#db.prepare<[Params]>(`DELETE FROM dramats_history WHERE minute < @horizon`),
    };
    return this.#statements;
  }

  async write(minute: number, workerId: string, bucket: HistoryBucket): Promise<void> {
    checkMinute(minute);
    const text = encodeHistoryBucket(bucket);
    const horizon = Date.now() - HISTORY_TTL;
    await this.#run(() => {
      const s = this.#prepared();
      s.sweep.run({ horizon });
      s.upsert.run({ minute, worker: workerId, bucket: text });
    });
  }

  async read(fromMinute: number, toMinute: number): Promise<StoredBucket[]> {
    minutesBetween(fromMinute, toMinute);
    const from = Math.max(fromMinute, Date.now() - HISTORY_TTL);
    const rows = await this.#run(() => this.#prepared().read.all({ from, to: toMinute }));
    const out: StoredBucket[] = [];
    for (const row of rows) {
      const bucket = parseHistoryBucket(String(row.bucket), `dramats_history ${row.minute}/${row.worker}`);
      if (bucket !== undefined) out.push({ minute: Number(row.minute), workerId: String(row.worker), bucket });
    }
    return out;
  }
}
