import type { Statement } from "better-sqlite3";
import { byLastBeat, parseWorkerRecord, type WorkerRecord, type WorkerRegistry } from "../../lib/worker-registry.ts";
import type { Db } from "./schema.ts";

type Params = Record<string, unknown>;

/** Records listed at most. */
const MAX_LISTED = 10_000;

const DDL = `CREATE TABLE IF NOT EXISTS dramats_workers (
  id TEXT PRIMARY KEY,
  beat_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  record TEXT NOT NULL
) WITHOUT ROWID`;

/**
 * The SqliteBroker's worker registry: the `dramats_workers` table (id, last beat, expiry, the
 * JSON record), created on first use (a file of an older dramats gains it; older versions
 * ignore it). Each write upserts one row and deletes expired ones.
 */
export class SqliteWorkerRegistry implements WorkerRegistry {
  readonly #db: Db;
  readonly #run: <T>(operation: () => T) => Promise<T>;
  #statements: { upsert: Statement<[Params]>; list: Statement<[Params], string>; remove: Statement<[Params]>; sweep: Statement<[Params]> } | undefined;

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
        `INSERT INTO dramats_workers (id, beat_at, expires_at, record) VALUES (@id, @beatAt, @expiresAt, @record)
         ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at, expires_at = excluded.expires_at, record = excluded.record`,
      ),
      list: this.#db.prepare<[Params], string>(`SELECT record FROM dramats_workers WHERE expires_at > @now ORDER BY beat_at DESC LIMIT ${MAX_LISTED}`).pluck(),
      remove: this.#db.prepare<[Params]>(`DELETE FROM dramats_workers WHERE id = @id`),
      sweep: this.#db.prepare<[Params]>(`DELETE FROM dramats_workers WHERE expires_at <= @now`),
    };
    return this.#statements;
  }

  async write(record: WorkerRecord, ttl: number): Promise<void> {
    const now = Date.now();
    const text = JSON.stringify(record);
    await this.#run(() => {
      const s = this.#prepared();
      s.sweep.run({ now });
      s.upsert.run({ id: record.id, beatAt: record.lastBeat, expiresAt: now + ttl, record: text });
    });
  }

  async list(): Promise<WorkerRecord[]> {
    const texts = await this.#run(() => this.#prepared().list.all({ now: Date.now() }));
    const records: WorkerRecord[] = [];
    for (const text of texts) {
      const record = parseWorkerRecord(String(text), "dramats_workers");
      if (record !== undefined) records.push(record);
    }
    return records.sort(byLastBeat);
  }

  async remove(id: string): Promise<void> {
    await this.#run(() => this.#prepared().remove.run({ id }));
  }
}
