import { byLastBeat, parseWorkerRecord, type WorkerRecord, type WorkerRegistry } from "../../lib/worker-registry.ts";
import { quoteIdent } from "./migrations.ts";
import type { Run } from "./queries.ts";

/** Records listed at most. */
const MAX_LISTED = 10_000;

/**
 * The PostgresBroker's worker registry: the `workers` table (id, last beat, expiry, the JSON
 * record). Each write upserts one row and deletes expired ones.
 */
export class PostgresWorkerRegistry implements WorkerRegistry {
  readonly #run: Run;
  readonly #t: string;

  /** @param run runs each statement as the broker's own (schema ready, typed errors) */
  constructor(schema: string, run: Run) {
    this.#run = run;
    this.#t = `${quoteIdent(schema)}.workers`;
  }

  async write(record: WorkerRecord, ttl: number): Promise<void> {
    const now = Date.now();
    await this.#run(
      `WITH sweep AS (DELETE FROM ${this.#t} WHERE expires_at <= $5 AND id <> $1)
       INSERT INTO ${this.#t} (id, beat_at, expires_at, record) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at, expires_at = excluded.expires_at, record = excluded.record`,
      [record.id, record.lastBeat, now + ttl, JSON.stringify(record), now],
    );
  }

  async list(): Promise<WorkerRecord[]> {
    const { rows } = await this.#run<{ record: string }>(`SELECT record FROM ${this.#t} WHERE expires_at > $1 ORDER BY beat_at DESC LIMIT ${MAX_LISTED}`, [Date.now()]);
    const records: WorkerRecord[] = [];
    for (const row of rows) {
      const record = parseWorkerRecord(row.record, "workers");
      if (record !== undefined) records.push(record);
    }
    return records.sort(byLastBeat);
  }

  async remove(id: string): Promise<void> {
    await this.#run(`DELETE FROM ${this.#t} WHERE id = $1`, [id]);
  }
}
