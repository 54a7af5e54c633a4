/**
 * A connection of its own to a SqliteBroker's file, for the backends that live beside the
 * queues (cancellation, rate limits, group barriers): every process opening the same file shares
 * their rows, and each operation is one transaction, so limits and barriers hold across them.
 */
import type { Statement } from "better-sqlite3";
import { BrokerError, ConnectionClosed, ConnectionError, InvalidOptions } from "../../lib/errors.ts";
import { retryWhileBusy } from "./busy.ts";
import { ChangeFeed } from "./change-feed.ts";
import { resolveSettings, type SqliteSettings } from "./options.ts";
import { openDatabase, type Db } from "./schema.ts";

/** What a SQLite backend needs of a broker: a SqliteBroker is one. */
export interface SqliteBrokerLike {
  /** The broker's resolved settings: its file, busy timeout and polling intervals. */
  readonly settings: SqliteSettings;
}

/** Where a SQLite backend keeps its rows: a broker's file, a path or a `sqlite://` URL. */
export interface SqliteBackendOptions {
  /** A SqliteBroker: the backend opens its own connection to the broker's file, with its settings. */
  broker?: SqliteBrokerLike;
  /** The database file, when no `broker` is given (created when missing). */
  path?: string;
  /** `sqlite://PATH`, used when neither `broker` nor `path` is given. */
  url?: string;
}

/** How often expired rows are swept out of a backend's tables, at most (ms). */
export const SWEEP_INTERVAL = 60_000;

/** One connection to the file, its busy-retrying runner and (on demand) a change feed. */
export class SideConnection {
  /** The settings of the file (the broker's, or defaults for `path`/`url`). */
  readonly settings: SqliteSettings;
  readonly #db: Db;
  readonly #what: string;
  #feed: ChangeFeed | undefined;
  #closed = false;

  /**
   * @param what the backend's name, for error messages
   * @throws InvalidOptions when none or several of `broker`, `path`, `url` are given; ConnectionFailed when the file cannot be opened
   */
  constructor(options: SqliteBackendOptions, what: string) {
    this.#what = what;
    const given = [options.broker, options.path, options.url].filter((value) => value !== undefined).length;
    if (given !== 1) {
      throw new InvalidOptions(`${what} needs exactly one of broker, path or url (got ${given}), e.g. new ${what}({ broker })`);
    }
    this.settings = options.broker?.settings ?? resolveSettings({ path: options.path, url: options.url });
    this.#db = openDatabase(this.settings);
  }

  /** The connection, for preparing statements. */
  get db(): Db {
    return this.#db;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * A change feed on the file: wakes waiters on other connections' commits (data_version, the
   * `-wal` file's events) and on `announce` from this process.
   */
  get feed(): ChangeFeed {
    if (this.#feed !== undefined) return this.#feed;
    const dataVersion = this.#db.prepare("PRAGMA data_version").pluck() as Statement<[], number>;
    this.#feed = new ChangeFeed(
      this.settings.path,
      () => {
        if (this.#closed) throw new ConnectionClosed(`${this.#what} (${this.settings.path}) is closed`);
        return dataVersion.get()!;
      },
      this.settings.minPollInterval,
      this.settings.maxPollInterval,
      this.settings.watch ? `${this.settings.path}-wal` : undefined,
    );
    return this.#feed;
  }

  /**
   * Runs a synchronous, all-or-nothing operation, again while another process holds the write
   * lock (without blocking the event loop); refuses once closed; gives errors dramats types.
   */
  async run<T>(operation: () => T): Promise<T> {
    try {
      return await retryWhileBusy(() => {
        if (this.#closed) throw new ConnectionClosed(`${this.#what} (${this.settings.path}) is closed`);
        return operation();
      }, this.settings.busyTimeout);
    } catch (error) {
      throw this.#translate(error);
    }
  }

  #translate(error: unknown): unknown {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code !== "string" || !code.startsWith("SQLITE_")) {
      if (error instanceof TypeError && /database connection is not open/.test(error.message)) {
        return new ConnectionClosed(`${this.#what} (${this.settings.path}) is closed`, { cause: error });
      }
      return error;
    }
    const message = `SQLite ${code} on ${this.settings.path} (${this.#what}): ${(error as Error).message}`;
    if (code.startsWith("SQLITE_BUSY")) {
      return new ConnectionError(`${message} (another process held the write lock past busyTimeout = ${this.settings.busyTimeout} ms)`, { cause: error });
    }
    return new BrokerError(message, { cause: error });
  }

  /** Stops the feed and closes the connection. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#feed?.close();
    this.#db.close();
  }
}
