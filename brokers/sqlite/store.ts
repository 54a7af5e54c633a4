import type { Statement } from "better-sqlite3";
import type { KeyValueStore } from "../../lib/key-value-store.ts";
import type { Db } from "./schema.ts";

type Params = Record<string, unknown>;

/** How often expired entries are swept out of the table (ms). */
const SWEEP_INTERVAL = 60_000;

/**
 * The SqliteBroker's key-value store: the `dramats_kv` table, each entry with an expiry.
 * `setIfAbsent` is one upsert statement that only overwrites an expired entry, so exactly one
 * process wins a claim (a cron tick), however many race for it.
 */
export class SqliteKeyValueStore implements KeyValueStore {
  readonly #claim: Statement<[Params]>;
  readonly #set: Statement<[Params]>;
  readonly #get: Statement<[Params], string>;
  readonly #sweep: Statement<[Params]>;
  readonly #delete: Statement<[Params]>;
  readonly #claimThen: (params: Params, write: () => void) => boolean;
  readonly #run: <T>(operation: () => T) => Promise<T>;
  #lastSweep = 0;

  /** @param run runs each operation: again while the file is locked, with typed errors, refused once the broker closed */
  constructor(db: Db, run: <T>(operation: () => T) => Promise<T>) {
    this.#run = run;
    this.#claim = db.prepare<[Params]>(
      `INSERT INTO dramats_kv (key, value, expires_at) VALUES (@key, @value, @expiresAt)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
       WHERE dramats_kv.expires_at <= @now`,
    );
    this.#set = db.prepare<[Params]>(
      `INSERT INTO dramats_kv (key, value, expires_at) VALUES (@key, @value, @expiresAt)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    );
    this.#get = db.prepare<[Params], string>(`SELECT value FROM dramats_kv WHERE key = @key AND expires_at > @now`).pluck();
    this.#delete = db.prepare<[Params]>(`DELETE FROM dramats_kv WHERE key = @key`);
    this.#sweep = db.prepare<[Params]>(`DELETE FROM dramats_kv WHERE expires_at <= @now`);
    this.#claimThen = db.transaction((params: Params, write: () => void): boolean => {
      if (this.#claim.run(params).changes !== 1) return false;
      write();
      return true;
    }).immediate;
  }

  async setIfAbsent(key: string, value: string, ttl: number): Promise<boolean> {
    const now = Date.now();
    return this.#run(() => {
      this.#maybeSweep(now);
      return this.#claim.run({ key, value, expiresAt: now + ttl, now }).changes === 1;
    });
  }

  /**
   * `setIfAbsent`, and when this call set the key, `write` (synchronous statements on the same
   * database) in the same transaction: the key and what `write` wrote commit together, or
   * neither does (`write` throwing rolls the claim back).
   */
  async setIfAbsentWith(key: string, value: string, ttl: number, write: () => void): Promise<boolean> {
    const now = Date.now();
    return this.#run(() => {
      this.#maybeSweep(now);
      return this.#claimThen({ key, value, expiresAt: now + ttl, now }, write);
    });
  }

  async set(key: string, value: string, ttl: number): Promise<void> {
    const now = Date.now();
    await this.#run(() => {
      this.#maybeSweep(now);
      this.#set.run({ key, value, expiresAt: now + ttl });
    });
  }

  async get(key: string): Promise<string | undefined> {
    return this.#run(() => this.#get.get({ key, now: Date.now() }));
  }

  async delete(key: string): Promise<void> {
    await this.#run(() => {
      this.#delete.run({ key });
    });
  }

  #maybeSweep(now: number): void {
    if (now - this.#lastSweep < SWEEP_INTERVAL) return;
    this.#lastSweep = now;
    this.#sweep.run({ now });
  }
}
