/**
 * The connections of a PostgreSQL cancellation or rate-limiter backend: a `pg` pool (its own,
 * from a URL, or the application's), the schema holding the backends' tables (created on first
 * use), and errors translated to dramats' (ConnectionFailed, ConnectionClosed, BrokerError)
 * with the URL's password masked.
 */
import pg, { type ClientConfig, type Pool, type QueryResultRow } from "pg";
import { ConnectionClosed, InvalidOptions } from "../../lib/errors.ts";
import { addSecret, addUrlSecret, redactUrl } from "../../lib/redact.ts";
import { ensureBackendTables } from "./backend-tables.ts";
import { isConnectionLoss, translatePgError } from "./errors.ts";
import { quoteIdent } from "./migrations.ts";

/** Where a PostgreSQL backend keeps its rows. */
export interface PostgresBackendOptions {
  /**
   * `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (or `postgresql://`); `?schema=NAME` sets
   * `schema` unless the options do. The backend opens a pool of its own and ends it at `close`.
   */
  url?: string;
  /** A `pg` pool of the application's to use instead of `url` (the backend never ends it). */
  pool?: Pool;
  /**
   * Connection settings of the cancellation backend's LISTEN session (a connection of its own,
   * outside the pool) when `pool` is given. @defaultValue the pool's own `options`
   */
  listenConfig?: ClientConfig;
  /** The schema holding the tables (created on first use, shared with the PostgresBroker). @defaultValue "dramats", or the URL's `schema` */
  schema?: string;
  /** Connections of the backend's own pool (not used with `pool`). @defaultValue 4 */
  poolSize?: number;
  /** Give up connecting after this long (ms). @defaultValue 10000 */
  connectTimeout?: number;
}

/** A schema name: plain lower-case identifier (the PostgresBroker allows the same). */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

/** A deadlock or serialization failure: the statement can simply run again. */
const RETRY_STATES = new Set(["40P01", "40001"]);
/** Runs of a statement that failed with a deadlock, at most. */
const ATTEMPTS = 3;

/** The pool, schema and error translation of one backend instance. */
export class BackendConnection {
  /** The pool the backend's statements run on. */
  readonly pool: Pool;
  /** The schema's name. */
  readonly schema: string;
  /** The schema's name, quoted for statements. */
  readonly quoted: string;
  /** The masked URL, or "an application's pool", for errors and logs. */
  readonly where: string;
  readonly #what: string;
  readonly #ownsPool: boolean;
  readonly #listenConfig: ClientConfig;
  #ready: Promise<void> | undefined;
  #closed = false;

  /**
   * @param what the backend's class name, for error messages
   * @throws InvalidOptions unless exactly one of `url` and `pool` is given, or for a bad URL or schema name
   */
  constructor(options: PostgresBackendOptions, what: string) {
    this.#what = what;
    if ((options.url === undefined) === (options.pool === undefined)) {
      throw new InvalidOptions(`${what} needs exactly one of url or pool, e.g. new ${what}({ url: "postgres://user@host/db" })`);
    }
    let schema = options.schema;
    if (options.url !== undefined) {
      addUrlSecret(options.url);
      this.where = redactUrl(options.url);
      let parsed: URL;
      try {
        parsed = new URL(options.url);
      } catch {
        throw new InvalidOptions(`${what}: invalid PostgreSQL URL ${JSON.stringify(this.where)}`);
      }
      if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
        throw new InvalidOptions(`${what} url must start with postgres:// or postgresql://, got ${JSON.stringify(this.where)}`);
      }
      schema ??= parsed.searchParams.get("schema") ?? undefined;
      parsed.searchParams.delete("schema");
      for (const [name, value] of [["poolSize", options.poolSize], ["connectTimeout", options.connectTimeout]] as const) {
        if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw new InvalidOptions(`${what} ${name} must be a positive integer, got ${value}`);
      }
      const connectionTimeoutMillis = options.connectTimeout ?? 10_000;
      this.pool = new pg.Pool({ connectionString: parsed.href, max: options.poolSize ?? 4, connectionTimeoutMillis });
      this.#listenConfig = { connectionString: parsed.href, connectionTimeoutMillis };
      // An idle connection that drops is replaced at the next checkout: nothing to do here.
      this.pool.on("error", () => {});
      this.#ownsPool = true;
    } else {
      this.pool = options.pool!;
      this.where = "an application's pool";
      this.#listenConfig = { ...(options.listenConfig ?? (this.pool as unknown as { options?: ClientConfig }).options ?? {}) };
      // Masked wherever they might appear in output (a driver's error, a log line).
      if (typeof this.#listenConfig.connectionString === "string") addUrlSecret(this.#listenConfig.connectionString);
      if (typeof this.#listenConfig.password === "string") addSecret(this.#listenConfig.password);
      this.#ownsPool = false;
    }
    this.schema = schema ?? "dramats";
    if (!SCHEMA_NAME.test(this.schema)) {
      throw new InvalidOptions(`${what} schema must be a lower-case identifier (letters, digits, _; at most 48), got ${JSON.stringify(this.schema)}`);
    }
    this.quoted = quoteIdent(this.schema);
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Creates the tables once per instance (again after a failure). */
  ready(): Promise<void> {
    this.#ready ??= (async () => {
      const client = await this.pool.connect();
      let failure: unknown;
      try {
        await ensureBackendTables(client, this.schema);
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        client.release(failure !== undefined && isConnectionLoss(failure) ? (failure as Error) : undefined);
      }
    })().catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  /**
   * Runs one statement (after the tables exist), again after a deadlock.
   * @throws ConnectionFailed when the server cannot be reached; ConnectionClosed after `close`; BrokerError for anything else the server said
   */
  async query<R extends QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    if (this.#closed) throw new ConnectionClosed(`${this.#what} (${this.where}) is closed`);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ready();
        return (await this.pool.query<R>(sql, values)).rows;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (attempt < ATTEMPTS && typeof code === "string" && RETRY_STATES.has(code) && !this.#closed) continue;
        throw this.translate(error);
      }
    }
  }

  /**
   * A connected client of its own, outside the pool, for a session (LISTEN); `end` it when done.
   * It has a listener for `error` until the caller adds its own.
   * @throws ConnectionFailed when the server cannot be reached; ConnectionClosed after `close`
   */
  async connectSession(): Promise<pg.Client> {
    if (this.#closed) throw new ConnectionClosed(`${this.#what} (${this.where}) is closed`);
    const client = new pg.Client(this.#listenConfig);
    const early = () => {};
    client.on("error", early);
    try {
      await this.ready();
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      throw this.translate(error);
    } finally {
      client.off("error", early);
    }
    return client;
  }

  /** The dramats error for an error of `pg`, the password masked. */
  translate(error: unknown): unknown {
    return translatePgError(error, this.where, this.#closed, this.#what);
  }


  /** Ends the backend's own pool (an application's pool stays open). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ready?.catch(() => {});
    if (this.#ownsPool) await this.pool.end();
  }
}
