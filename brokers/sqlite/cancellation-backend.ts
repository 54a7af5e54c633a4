import type { Statement } from "better-sqlite3";
import type { CancellationBackend } from "../../lib/cancellation/backend.ts";
import type { ChangeWait } from "./change-feed.ts";
import { SideConnection, SWEEP_INTERVAL, type SqliteBackendOptions } from "./side-connection.ts";

type Params = Record<string, unknown>;

/** Options of {@link SqliteCancellationBackend}: the file, given as a broker, a path or a URL. */
export type SqliteCancellationBackendOptions = SqliteBackendOptions;

/** The change feed's waiter name for cancellations (no queue can be named so). */
const FEED_KEY = "\u0000dramats-cancellations";
/** Longest wait between two looks for new cancellations when no change was seen (ms). */
const IDLE_LOOK = 1_000;
/**
 * Shortest gap between two looks (ms): on a busy file every commit (each batch of sends or acks)
 * changes the version, and a look per commit per subscriber would cost more than it finds.
 */
const MIN_GAP = 5;

const DDL = `CREATE TABLE IF NOT EXISTS dramats_cancellations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT NOT NULL UNIQUE,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dramats_cancellations_expiry ON dramats_cancellations (expires_at)`;

interface Prepared {
  cancel: Statement<[Params]>;
  sweep: Statement<[Params]>;
  live: Statement<[Params], { message_id: string; expires_at: number }>;
  since: Statement<[Params], { seq: number; message_id: string; expires_at: number }>;
  last: Statement<[], number>;
}

/**
 * Cancellations in the SqliteBroker's file: the `dramats_cancellations` table (created on first
 * use), one row per cancelled message id with its expiry and a sequence number that grows with
 * every cancellation. Subscribers read the rows past the last sequence they saw whenever the
 * file changes: at once for cancellations made in this process, within a few ms for other
 * processes' (the broker's change feed: `PRAGMA data_version` prompted by the `-wal` file's
 * events, with a timer as fallback), and at least every second. Expired rows are deleted by
 * later cancellations (at most once a minute).
 */
export class SqliteCancellationBackend implements CancellationBackend {
  readonly #connection: SideConnection;
  readonly #subscriptions = new Set<() => Promise<void>>();
  #prepared: Prepared | undefined;
  #lastSweep = 0;

  /**
   * @throws InvalidOptions unless exactly one of `broker`, `path`, `url` is given;
   *   ConnectionFailed when the file cannot be opened
   */
  constructor(options: SqliteCancellationBackendOptions) {
    this.#connection = new SideConnection(options, "SqliteCancellationBackend");
  }

  /** Absolute path of the database file. */
  get path(): string {
    return this.#connection.settings.path;
  }

  #statements(): Prepared {
    if (this.#prepared !== undefined) return this.#prepared;
    const db = this.#connection.db;
    db.exec(DDL);
    this.#prepared = {
      // REPLACE gives a cancellation made again a new sequence number: subscribers hear it again.
      cancel: db.prepare<[Params]>(`INSERT OR REPLACE INTO dramats_cancellations (message_id, expires_at) VALUES (@id, @expiresAt)`),
      sweep: db.prepare<[Params]>(`DELETE FROM dramats_cancellations WHERE expires_at <= @now`),
      live: db.prepare<[Params], { message_id: string; expires_at: number }>(`SELECT message_id, expires_at FROM dramats_cancellations WHERE expires_at > @now`),
      since: db.prepare<[Params], { seq: number; message_id: string; expires_at: number }>(
        `SELECT seq, message_id, expires_at FROM dramats_cancellations WHERE seq > @seq ORDER BY seq`,
      ),
      last: db.prepare<[]>(`SELECT coalesce(max(seq), 0) FROM dramats_cancellations`).pluck() as Statement<[], number>,
    };
    return this.#prepared;
  }

  async cancel(messageId: string, ttl: number): Promise<void> {
    const now = Date.now();
    await this.#connection.run(() => {
      const s = this.#statements();
      if (now - this.#lastSweep >= SWEEP_INTERVAL) {
        s.sweep.run({ now });
        this.#lastSweep = now;
      }
      s.cancel.run({ id: messageId, expiresAt: now + ttl });
    });
    this.#connection.feed.announce(FEED_KEY);
  }

  async list(): Promise<Map<string, number>> {
    const rows = await this.#connection.run(() => this.#statements().live.all({ now: Date.now() }));
    return new Map(rows.map((row) => [row.message_id, row.expires_at]));
  }

  /**
   * Calls `listener` for every cancellation recorded after this call resolves, by any process
   * on the file (and again for a message cancelled again). The subscription keeps the process
   * alive until it is ended (the returned function) or the backend closed.
   */
  async subscribe(listener: (messageId: string, expiresAt: number) => void): Promise<() => Promise<void>> {
    const feed = this.#connection.feed;
    let seq = await this.#connection.run(() => this.#statements().last.get()!);
    let active = true;
    let wait: ChangeWait | undefined;
    const loop = (async () => {
      let lookedAt = 0;
      while (active && !this.#connection.closed) {
        const gap = lookedAt + MIN_GAP - Date.now();
        if (gap > 0) await new Promise((resolve) => setTimeout(resolve, gap));
        if (!active || this.#connection.closed) return;
        lookedAt = Date.now();
        const seen = feed.version();
        const announced = feed.announced;
        try {
          const rows = await this.#connection.run(() => this.#statements().since.all({ seq }));
          for (const row of rows) {
            seq = row.seq;
            if (active) listener(row.message_id, row.expires_at);
          }
        } catch {
          // Locked past busyTimeout or closing: look again after the wait.
        }
        if (!active || this.#connection.closed) return;
        // A change announced in this process since `seen` was read: look again at once.
        if (feed.announced !== announced) continue;
        if (Number.isNaN(seen)) {
          // The version cannot be read right now (recovery, closing): look again shortly.
          await new Promise((resolve) => setTimeout(resolve, this.#connection.settings.maxPollInterval));
          continue;
        }
        wait = feed.wait(FEED_KEY, seen, IDLE_LOOK);
        await wait.promise;
      }
    })();
    const end = async () => {
      if (!this.#subscriptions.delete(end)) return;
      active = false;
      wait?.cancel();
      await loop;
    };
    this.#subscriptions.add(end);
    return end;
  }

  /** Ends every subscription and closes this backend's connection (the broker's stays open). Idempotent. */
  async close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((end) => end()));
    this.#connection.close();
  }
}
