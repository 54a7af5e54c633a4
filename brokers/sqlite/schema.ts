/**
 * The database layout: one file holds every queue.
 *
 * dramats_messages   one row per message that is ready, delayed or leased (in flight):
 *   id          AUTOINCREMENT, never reused, so a late ack can never hit a newer message
 *   queue       canonical queue name
 *   state       0 ready · 1 delayed (until `due`) · 2 leased (until `due`, by `owner`)
 *   priority    lower runs first
 *   eta         epoch ms at which the message became (or becomes) due: the order among equals
 *   due         delayed: the eta; leased: the lease expiry; ready: 0
 *   owner       the consumer holding the lease
 *   deliveries  how many times it was handed out (above 1: redelivered)
 *   message_id  the message id (null for bodies that do not decode)
 *   body        the encoded message, exactly as enqueued
 * A delayed row whose eta passed, or a leased row whose lease expired, is as good as ready:
 * fetch turns it ready (and counts it so) before it picks. Each state has its own partial index.
 *
 * dramats_dead       dead letters (the `.XQ`), kept for the dead-message TTL
 * dramats_kv         the broker's key-value store (cron tick claims), with expiry
 * dramats_workers    the worker registry (worker-registry.ts), created on first use
 */
import Database from "better-sqlite3";
import { BrokerError, ConnectionFailed } from "../../lib/errors.ts";
import type { SqliteSettings } from "./options.ts";

export type Db = Database.Database;

export const READY = 0;
export const DELAYED = 1;
export const LEASED = 2;

/** Bumped when the layout changes; a file from a newer dramats is refused rather than misread. */
export const SCHEMA_VERSION = 1;

const DDL = `
CREATE TABLE IF NOT EXISTS dramats_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  state INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  eta INTEGER NOT NULL,
  due INTEGER NOT NULL,
  owner TEXT,
  deliveries INTEGER NOT NULL DEFAULT 0,
  message_id TEXT,
  body TEXT NOT NULL
);
-- One partial index per state, so each row sits in exactly one: a state change moves one index
-- entry, an ack deletes one. Fetch walks the ready one in order: its first rows run next.
CREATE INDEX IF NOT EXISTS dramats_messages_ready ON dramats_messages (queue, priority, eta, id) WHERE state = 0;
-- Find due delays and expired leases, and the next time one falls due.
CREATE INDEX IF NOT EXISTS dramats_messages_delayed ON dramats_messages (queue, due) WHERE state = 1;
CREATE INDEX IF NOT EXISTS dramats_messages_leased ON dramats_messages (queue, due) WHERE state = 2;

CREATE TABLE IF NOT EXISTS dramats_dead (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  message_id TEXT NOT NULL,
  body TEXT NOT NULL,
  reason TEXT NOT NULL,
  dead_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dramats_dead_queue ON dramats_dead (queue, id);
CREATE INDEX IF NOT EXISTS dramats_dead_age ON dramats_dead (dead_at);

CREATE TABLE IF NOT EXISTS dramats_kv (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

/**
 * Opens (creating if needed) the database in WAL mode, so readers never wait for the writer
 * and every process on the machine can share the file. Opening waits up to `busyTimeout` for
 * other processes (SQLite's busy handler); afterwards the connection never sleeps in SQLite.
 * @throws ConnectionFailed when the file cannot be opened or WAL cannot be used on it.
 */
export function openDatabase(settings: SqliteSettings): Db {
  let db: Db;
  try {
    db = new Database(settings.path, { timeout: settings.busyTimeout });
  } catch (error) {
    throw new ConnectionFailed(`Could not open the SQLite database ${settings.path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    if (String(mode).toLowerCase() !== "wal") {
      throw new ConnectionFailed(`SQLite database ${settings.path} cannot use WAL mode (got ${String(mode)}); put it on a local file system`);
    }
    db.pragma(`synchronous = ${settings.synchronous.toUpperCase()}`);
    migrate(db, settings.path);
    // From here on a locked write fails at once and is retried from the event loop (busy.ts).
    db.pragma("busy_timeout = 0");
    return db;
  } catch (error) {
    db.close();
    if (error instanceof BrokerError) throw error;
    throw new ConnectionFailed(`Could not prepare the SQLite database ${settings.path}: ${(error as Error).message}`, { cause: error });
  }
}

function migrate(db: Db, path: string): void {
  const version = Number(db.pragma("user_version", { simple: true }));
  if (version > SCHEMA_VERSION) {
    throw new BrokerError(`SQLite database ${path} has dramats schema version ${version}; this dramats knows ${SCHEMA_VERSION}: upgrade dramats`);
  }
  if (version === SCHEMA_VERSION) return;
  // Immediate: two processes opening a new file at once take turns instead of failing.
  db.transaction(() => {
    db.exec(DDL);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
