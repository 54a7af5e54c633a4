import type { KeyValueStore } from "../../lib/key-value-store.ts";
import { quoteIdent } from "./migrations.ts";
import type { Run } from "./queries.ts";

/** How often expired entries are swept out of the table, at most (ms). */
const SWEEP_INTERVAL = 60_000;

/**
 * The PostgresBroker's key-value store: the `kv` table of its schema, each entry with an expiry
 * (server clock). `setIfAbsent` is one upsert that only overwrites an expired entry, so exactly
 * one process wins a claim (a cron tick), however many race for it.
 */
export class PostgresKeyValueStore implements KeyValueStore {
  readonly #run: Run;
  readonly #kv: string;
  readonly #now: string;
  #lastSweep = 0;

  /** @param run runs each statement as the broker's own (schema ready, typed errors) */
  constructor(schema: string, run: Run) {
    this.#run = run;
    this.#kv = `${quoteIdent(schema)}.kv`;
    this.#now = `(SELECT ${quoteIdent(schema)}.now_ms())`;
  }

  async setIfAbsent(key: string, value: string, ttl: number): Promise<boolean> {
    this.#maybeSweep();
    const result = await this.#run(
      `INSERT INTO ${this.#kv} (key, value, expires_at) VALUES ($1, $2, ${this.#now} + $3)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at WHERE kv.expires_at <= ${this.#now}`,
      [key, value, Math.max(1, Math.round(ttl))],
    );
    return result.rowCount === 1;
  }

  async set(key: string, value: string, ttl: number): Promise<void> {
    this.#maybeSweep();
    await this.#run(
      `INSERT INTO ${this.#kv} (key, value, expires_at) VALUES ($1, $2, ${this.#now} + $3)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
      [key, value, Math.max(1, Math.round(ttl))],
    );
  }

  async get(key: string): Promise<string | undefined> {
    const { rows } = await this.#run<{ value: string }>(`SELECT value FROM ${this.#kv} WHERE key = $1 AND expires_at > ${this.#now}`, [key]);
    return rows[0]?.value;
  }

  async delete(key: string): Promise<void> {
    await this.#run(`DELETE FROM ${this.#kv} WHERE key = $1`, [key]);
  }

  /** Deletes expired entries in the background, at most once a minute. */
  #maybeSweep(): void {
    const now = Date.now();
    if (now - this.#lastSweep < SWEEP_INTERVAL) return;
    this.#lastSweep = now;
    this.#run(`DELETE FROM ${this.#kv} WHERE expires_at <= ${this.#now}`).catch(() => {});
  }
}
