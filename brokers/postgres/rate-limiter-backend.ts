import type { RateLimiterBackend } from "../../lib/rate-limits/backend.ts";
import { NOW_MS } from "./backend-migration.ts";
import { BackendConnection, type PostgresBackendOptions } from "./backend-connection.ts";

/** Options of {@link PostgresRateLimiterBackend}: a URL or a pool, and the schema. */
export type PostgresRateLimiterBackendOptions = PostgresBackendOptions;

/** How often expired rows are swept out of the backends' tables, at most (ms). */
export const SWEEP_INTERVAL = 60_000;

/**
 * Rate limits and group barriers in PostgreSQL (tables `limit_slot_keys`, `limit_slots`,
 * `limit_window_keys`, `limit_hits`, `limit_buckets`, `barriers`, `barrier_members` of the
 * schema, created on first use). Each operation is one statement calling a function of the
 * schema that first locks its key's row (`INSERT ... ON CONFLICT DO UPDATE`, `SELECT ... FOR
 * UPDATE`), so calls on one key take turns across every process and machine: limits hold and a
 * barrier counts each member once. Times are the server's clock. Expired rows of the key in
 * hand are deleted by the operation itself, every table's at most once a minute per instance
 * (skipping rows an operation holds).
 */
export class PostgresRateLimiterBackend implements RateLimiterBackend {
  readonly #connection: BackendConnection;
  #lastSweep = 0;

  /** @throws InvalidOptions unless exactly one of `url` and `pool` is given, or for a bad URL or schema name */
  constructor(options: PostgresRateLimiterBackendOptions) {
    this.#connection = new BackendConnection(options, "PostgresRateLimiterBackend");
  }

  /** The schema holding the tables. */
  get schema(): string {
    return this.#connection.schema;
  }

  /** Calls `fn(args)` of the schema, after the periodic sweep when due; its boolean result. */
  async #call(fn: string, args: unknown[]): Promise<boolean> {
    const now = Date.now();
    if (now - this.#lastSweep >= SWEEP_INTERVAL) {
      this.#lastSweep = now;
      await this.#connection.query(`SELECT ${this.#connection.quoted}.backends_sweep()`);
    }
    const params = args.map((_, i) => `$${i + 1}`).join(", ");
    const rows = await this.#connection.query<{ ok: boolean }>(`SELECT ${this.#connection.quoted}.${fn}(${params}) AS ok`, args);
    return rows[0]!.ok;
  }

  async acquireSlot(key: string, holder: string, limit: number, ttl: number): Promise<boolean> {
    return this.#call("limit_acquire_slot", [key, holder, limit, Math.ceil(ttl)]);
  }

  async releaseSlot(key: string, holder: string): Promise<void> {
    await this.#connection.query(`DELETE FROM ${this.#connection.quoted}.limit_slots WHERE key = $1 AND holder = $2`, [key, holder]);
  }

  async hitWindow(key: string, limit: number, window: number): Promise<boolean> {
    return this.#call("limit_hit_window", [key, limit, Math.ceil(window)]);
  }

  async takeToken(key: string, capacity: number, period: number): Promise<boolean> {
    return this.#call("limit_take_token", [key, capacity, Math.ceil(period)]);
  }

  async createBarrier(key: string, parties: number, ttl: number): Promise<boolean> {
    return this.#call("barrier_create", [key, parties, Math.ceil(ttl)]);
  }

  async arriveAtBarrier(key: string, member: string): Promise<boolean> {
    return this.#call("barrier_arrive", [key, member]);
  }

  async closeBarrier(key: string): Promise<void> {
    await this.#connection.query(`UPDATE ${this.#connection.quoted}.barriers SET closed = true WHERE key = $1 AND expires_at > ${NOW_MS}`, [key]);
  }

  /** Closes this backend's own pool (an application's pool stays open). Idempotent. */
  async close(): Promise<void> {
    await this.#connection.close();
  }
}
