import { InvalidOptions } from "../../lib/errors.ts";
import type { KeyValueStore, WatchableStore } from "../../lib/key-value-store.ts";
import { pauseKey } from "../../lib/queue-pauses.ts";
import type { Listener } from "./listener.ts";
import { quoteIdent } from "./migrations.ts";
import type { Run } from "./queries.ts";

/** How often expired entries are swept out of the table, at most (ms). */
const SWEEP_INTERVAL = 60_000;
/** A watch looks at its key's version at least this often, even without news (ms). */
const WATCH_WAIT = 60_000;

/** Keys whose `set` and `delete` notify (the queue pause flags): the only keys `watch` takes. */
export const WATCHED_PREFIX = pauseKey("");

/** The notification payload (on the schema's channel) of a change of `key`: queue names cannot hold ':'. */
export const keyChange = (key: string): string => `kv:${key}`;

/**
 * The PostgresBroker's key-value store: the `kv` table of its schema, each entry with an expiry
 * (server clock). `setIfAbsent` is one upsert that only overwrites an expired entry, so exactly
 * one process wins a claim (a cron tick), however many race for it. `set` and `delete` of a key
 * under WATCHED_PREFIX (the queue pause flags every worker reads) notify the schema's channel in
 * the same statement, so workers `watch` those keys instead of polling them; other keys (results,
 * claims) notify nobody.
 */
export class PostgresKeyValueStore implements KeyValueStore, WatchableStore {
  readonly #run: Run;
  readonly #kv: string;
  readonly #now: string;
  readonly #listener: Listener;
  #lastSweep = 0;

  /**
   * @internal Built by its broker (`broker.store`).
   * @param run runs each statement as the broker's own (schema ready, typed errors)
   * @param listener the broker's LISTEN connection (its channel is the one `set` and `delete` notify)
   */
  constructor(schema: string, run: Run, listener: Listener) {
    this.#run = run;
    this.#kv = `${quoteIdent(schema)}.kv`;
    this.#now = `(SELECT ${quoteIdent(schema)}.now_ms())`;
    this.#listener = listener;
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
    const upsert = `INSERT INTO ${this.#kv} (key, value, expires_at) VALUES ($1, $2, ${this.#now} + $3)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`;
    await this.#write(key, upsert, [key, value, Math.max(1, Math.round(ttl))]);
  }

  async get(key: string): Promise<string | undefined> {
    const { rows } = await this.#run<{ value: string }>(`SELECT value FROM ${this.#kv} WHERE key = $1 AND expires_at > ${this.#now}`, [key]);
    return rows[0]?.value;
  }

  async delete(key: string): Promise<void> {
    await this.#write(key, `DELETE FROM ${this.#kv} WHERE key = $1`, [key]);
  }

  /**
   * Runs `statement` (an INSERT or DELETE of `key`'s row); for a watched key, in the same
   * statement, notifies the schema's channel when it wrote a row.
   */
  async #write(key: string, statement: string, values: unknown[]): Promise<void> {
    if (!key.startsWith(WATCHED_PREFIX)) {
      await this.#run(statement, values);
      return;
    }
    const n = values.length;
    await this.#run(`WITH w AS (${statement} RETURNING key) SELECT pg_notify($${n + 1}, $${n + 2}) FROM w`, [...values, this.#listener.channel, keyChange(key)]);
  }

  /**
   * Calls `onChange` when a `set` or `delete` of `key` is heard (from any process) and after the
   * LISTEN connection was made again (news may have been lost meanwhile). Connects the listener
   * if it is not yet; while it cannot, nothing is heard: a watcher should still look now and then.
   * @throws InvalidOptions for a key outside WATCHED_PREFIX (its changes are not announced)
   */
  watch(key: string, onChange: () => void): () => void {
    if (!key.startsWith(WATCHED_PREFIX)) throw new InvalidOptions(`PostgresKeyValueStore.watch: only keys under ${JSON.stringify(WATCHED_PREFIX)} announce their changes, got ${JSON.stringify(key)}`);
    const name = keyChange(key);
    let closed = false;
    let cancel: (() => void) | undefined;
    const loop = async () => {
      await this.#listener.ready().catch(() => undefined);
      let seen = this.#listener.version(name);
      while (!closed) {
        const waiting = this.#listener.wait(name, seen, WATCH_WAIT);
        cancel = waiting.cancel;
        await waiting.promise;
        if (closed || this.#listener.closed) return;
        const now = this.#listener.version(name);
        if (now === seen) continue;
        seen = now;
        onChange();
      }
    };
    void loop();
    return () => {
      closed = true;
      cancel?.();
    };
  }

  /** Deletes expired entries in the background, at most once a minute. */
  #maybeSweep(): void {
    const now = Date.now();
    if (now - this.#lastSweep < SWEEP_INTERVAL) return;
    this.#lastSweep = now;
    this.#run(`DELETE FROM ${this.#kv} WHERE expires_at <= ${this.#now}`).catch(() => {});
  }
}
