import type { Statement } from "better-sqlite3";
import type { RateLimiterBackend } from "../../lib/rate-limits/backend.ts";
import { SideConnection, SWEEP_INTERVAL, type SqliteBackendOptions } from "./side-connection.ts";

type Params = Record<string, unknown>;

/** Options of {@link SqliteRateLimiterBackend}: the file, given as a broker, a path or a URL. */
export type SqliteRateLimiterBackendOptions = SqliteBackendOptions;

const DDL = `
CREATE TABLE IF NOT EXISTS dramats_limit_slots (
  key TEXT NOT NULL, holder TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (key, holder)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dramats_limit_slots_expiry ON dramats_limit_slots (expires_at);
CREATE TABLE IF NOT EXISTS dramats_limit_hits (key TEXT NOT NULL, at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS dramats_limit_hits_key ON dramats_limit_hits (key, at);
CREATE INDEX IF NOT EXISTS dramats_limit_hits_expiry ON dramats_limit_hits (expires_at);
CREATE TABLE IF NOT EXISTS dramats_limit_buckets (
  key TEXT PRIMARY KEY, tokens REAL NOT NULL, at INTEGER NOT NULL, expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dramats_limit_buckets_expiry ON dramats_limit_buckets (expires_at);
CREATE TABLE IF NOT EXISTS dramats_barriers (
  key TEXT PRIMARY KEY, parties INTEGER NOT NULL, arrived INTEGER NOT NULL DEFAULT 0,
  closed INTEGER NOT NULL DEFAULT 0, expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dramats_barriers_expiry ON dramats_barriers (expires_at);
CREATE TABLE IF NOT EXISTS dramats_barrier_members (
  key TEXT NOT NULL, member TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (key, member)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dramats_barrier_members_expiry ON dramats_barrier_members (expires_at);
`;

const TABLES = ["dramats_limit_slots", "dramats_limit_hits", "dramats_limit_buckets", "dramats_barriers", "dramats_barrier_members"] as const;

type Operation<A extends unknown[]> = (...args: A) => boolean;

interface Prepared {
  slot: Operation<[key: string, holder: string, limit: number, ttl: number, now: number]>;
  release: Statement<[Params]>;
  window: Operation<[key: string, limit: number, window: number, now: number]>;
  bucket: Operation<[key: string, capacity: number, period: number, now: number]>;
  create: Operation<[key: string, parties: number, ttl: number, now: number]>;
  arrive: Operation<[key: string, member: string, now: number]>;
  close: Statement<[Params]>;
  sweep: (now: number) => void;
}

/**
 * Rate limits and group barriers in the SqliteBroker's file (tables `dramats_limit_slots`,
 * `dramats_limit_hits`, `dramats_limit_buckets`, `dramats_barriers`, `dramats_barrier_members`,
 * created on first use). Each operation is one `BEGIN IMMEDIATE` transaction, so limits hold
 * and a barrier counts each member once across every process on the file. Expiries use each
 * process's clock (one machine: one clock). Expired rows of the key in hand are deleted by the
 * operation itself, every table's at most once a minute.
 */
export class SqliteRateLimiterBackend implements RateLimiterBackend {
  readonly #connection: SideConnection;
  #prepared: Prepared | undefined;
  #lastSweep = 0;

  /**
   * @throws InvalidOptions unless exactly one of `broker`, `path`, `url` is given;
   *   ConnectionFailed when the file cannot be opened
   */
  constructor(options: SqliteRateLimiterBackendOptions) {
    this.#connection = new SideConnection(options, "SqliteRateLimiterBackend");
  }

  /** Absolute path of the database file. */
  get path(): string {
    return this.#connection.settings.path;
  }

  #statements(): Prepared {
    if (this.#prepared !== undefined) return this.#prepared;
    const db = this.#connection.db;
    db.exec(DDL);
    const q = <R = unknown>(sql: string) => db.prepare<[Params], R>(sql);
    const pruneSlots = q(`DELETE FROM dramats_limit_slots WHERE key = @key AND expires_at <= @now`);
    const hasSlot = q(`SELECT 1 FROM dramats_limit_slots WHERE key = @key AND holder = @holder`).pluck();
    const countSlots = q<number>(`SELECT count(*) FROM dramats_limit_slots WHERE key = @key`).pluck();
    const putSlot = q(
      `INSERT INTO dramats_limit_slots (key, holder, expires_at) VALUES (@key, @holder, @expiresAt)
       ON CONFLICT (key, holder) DO UPDATE SET expires_at = excluded.expires_at`,
    );
    const pruneHits = q(`DELETE FROM dramats_limit_hits WHERE key = @key AND at <= @since`);
    const countHits = q<number>(`SELECT count(*) FROM dramats_limit_hits WHERE key = @key`).pluck();
    const putHit = q(`INSERT INTO dramats_limit_hits (key, at, expires_at) VALUES (@key, @now, @expiresAt)`);
    const getBucket = q<{ tokens: number; at: number }>(`SELECT tokens, at FROM dramats_limit_buckets WHERE key = @key AND expires_at > @now`);
    const putBucket = q(
      `INSERT INTO dramats_limit_buckets (key, tokens, at, expires_at) VALUES (@key, @tokens, @now, @expiresAt)
       ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, at = excluded.at, expires_at = excluded.expires_at`,
    );
    const getBarrier = q<{ parties: number; arrived: number; closed: number; expires_at: number }>(
      `SELECT parties, arrived, closed, expires_at FROM dramats_barriers WHERE key = @key AND expires_at > @now`,
    );
    const dropBarrier = [q(`DELETE FROM dramats_barrier_members WHERE key = @key`), q(`DELETE FROM dramats_barriers WHERE key = @key`)];
    const putBarrier = q(`INSERT INTO dramats_barriers (key, parties, expires_at) VALUES (@key, @parties, @expiresAt)`);
    const putMember = q(`INSERT OR IGNORE INTO dramats_barrier_members (key, member, expires_at) VALUES (@key, @member, @expiresAt)`);
    const countArrival = q(`UPDATE dramats_barriers SET arrived = arrived + 1 WHERE key = @key`);
    const sweeps = TABLES.map((table) => q(`DELETE FROM ${table} WHERE expires_at <= @now`));

    this.#prepared = {
      slot: db.transaction((key: string, holder: string, limit: number, ttl: number, now: number) => {
        pruneSlots.run({ key, now });
        if (hasSlot.get({ key, holder }) === undefined && countSlots.get({ key })! >= limit) return false;
        putSlot.run({ key, holder, expiresAt: now + ttl });
        return true;
      }).immediate,
      release: q(`DELETE FROM dramats_limit_slots WHERE key = @key AND holder = @holder`),
      window: db.transaction((key: string, limit: number, window: number, now: number) => {
        pruneHits.run({ key, since: now - window });
        if (countHits.get({ key })! >= limit) return false;
        putHit.run({ key, now, expiresAt: now + window });
        return true;
      }).immediate,
      bucket: db.transaction((key: string, capacity: number, period: number, now: number) => {
        const state = getBucket.get({ key, now });
        let tokens = state === undefined ? capacity : Math.min(capacity, state.tokens + ((now - state.at) * capacity) / period);
        const taken = tokens >= 1;
        if (taken) tokens -= 1;
        putBucket.run({ key, tokens, now, expiresAt: now + period * 2 });
        return taken;
      }).immediate,
      create: db.transaction((key: string, parties: number, ttl: number, now: number) => {
        if (getBarrier.get({ key, now }) !== undefined) return false;
        // An expired barrier of the same key is replaced, members and all.
        for (const drop of dropBarrier) drop.run({ key });
        putBarrier.run({ key, parties, expiresAt: now + ttl });
        return true;
      }).immediate,
      arrive: db.transaction((key: string, member: string, now: number) => {
        const barrier = getBarrier.get({ key, now });
        if (barrier === undefined) return false;
        let arrived = barrier.arrived;
        if (putMember.run({ key, member, expiresAt: barrier.expires_at }).changes === 1) {
          countArrival.run({ key });
          arrived++;
        }
        return barrier.closed === 0 && arrived >= barrier.parties;
      }).immediate,
      close: q(`UPDATE dramats_barriers SET closed = 1 WHERE key = @key AND expires_at > @now`),
      sweep: db.transaction((now: number) => {
        for (const sweep of sweeps) sweep.run({ now });
      }).immediate,
    };
    return this.#prepared;
  }

  /** Runs `operation` on the prepared statements, after the periodic sweep of expired rows when due. */
  #run<T>(operation: (s: Prepared, now: number) => T): Promise<T> {
    return this.#connection.run(() => {
      const s = this.#statements();
      const now = Date.now();
      if (now - this.#lastSweep >= SWEEP_INTERVAL) {
        s.sweep(now);
        this.#lastSweep = now;
      }
      return operation(s, now);
    });
  }

  async acquireSlot(key: string, holder: string, limit: number, ttl: number): Promise<boolean> {
    return this.#run((s, now) => s.slot(key, holder, limit, ttl, now));
  }

  async releaseSlot(key: string, holder: string): Promise<void> {
    await this.#run((s) => s.release.run({ key, holder }));
  }

  async hitWindow(key: string, limit: number, window: number): Promise<boolean> {
    return this.#run((s, now) => s.window(key, limit, window, now));
  }

  async takeToken(key: string, capacity: number, period: number): Promise<boolean> {
    return this.#run((s, now) => s.bucket(key, capacity, period, now));
  }

  async createBarrier(key: string, parties: number, ttl: number): Promise<boolean> {
    return this.#run((s, now) => s.create(key, parties, ttl, now));
  }

  async arriveAtBarrier(key: string, member: string): Promise<boolean> {
    return this.#run((s, now) => s.arrive(key, member, now));
  }

  async closeBarrier(key: string): Promise<void> {
    await this.#run((s, now) => s.close.run({ key, now }));
  }

  /** Closes this backend's connection (the broker's stays open). Idempotent. */
  async close(): Promise<void> {
    this.#connection.close();
  }
}
