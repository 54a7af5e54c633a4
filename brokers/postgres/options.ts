import type { Pool, PoolConfig } from "pg";
import type { BrokerOptions } from "../../lib/broker.ts";
import { InvalidOptions } from "../../lib/errors.ts";
import { redactUrl } from "../../lib/redact.ts";
import { urlDuration } from "../../lib/url-duration.ts";

/** Options of {@link PostgresBroker}. Times are in milliseconds. */
export interface PostgresBrokerOptions extends BrokerOptions {
  /**
   * `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (or `postgresql://`). Besides what `pg`
   * understands (`sslmode`, `application_name`...), `?schema=NAME` sets `schema` and
   * `?lease_time=MS` sets `leaseTime` and `?prepared_statements=false` sets `preparedStatements`
   * unless the options do. Ignored when `pool` is given.
   */
  url?: string;
  /**
   * A `pg` pool of the application's to run on (the broker never ends it). Its connections
   * must reach the same database the listener reaches: give `url` too (or `listenConfig`)
   * when the pool's settings do not come from a URL the broker can reuse.
   */
  pool?: Pool;
  /** Connection settings of the LISTEN connection when `pool` is given without `url`. @defaultValue the pool's own `options` */
  listenConfig?: PoolConfig;
  /** The PostgreSQL schema holding dramats' tables (created on first use). @defaultValue "dramats", or the URL's `schema` */
  schema?: string;
  /**
   * How long a fetched message stays invisible to other workers (ms). Each process extends the
   * leases its consumers hold every `heartbeatInterval`, so a message is redelivered only when
   * its worker died (or stalled longer than this), after at most this long. At least 1000.
   * @defaultValue 30000, or the URL's `lease_time`
   */
  leaseTime?: number;
  /** How often the process extends its leases, one statement for all (ms). At most half of `leaseTime`. @defaultValue leaseTime / 3 */
  heartbeatInterval?: number;
  /** How long dead letters are kept (ms). @defaultValue env `dramatiq_dead_message_ttl`, else 7 days */
  deadMessageTtl?: number;
  /** Connections of the broker's own pool (not used with `pool`). @defaultValue 10 */
  poolSize?: number;
  /** Give up connecting after this long (ms). @defaultValue 10000 */
  connectTimeout?: number;
  /**
   * Run the broker's frequent statements (enqueue, fetch, ack, settle) as named prepared
   * statements, parsed and planned once per connection: a single send or fetch costs a fraction
   * of an unnamed statement's time. Set false behind a pooler that cannot keep prepared
   * statements across transactions (PgBouncer in transaction mode before 1.21, or without
   * `max_prepared_statements`). Also applies to an application's client in `withTransaction`
   * when it is a `pg` client. @defaultValue true, or the URL's `prepared_statements`
   */
  preparedStatements?: boolean;
}

/** The resolved settings of a {@link PostgresBroker} (defaults applied, validated). */
export interface PostgresSettings {
  /** The URL with its password masked (for logs and errors); undefined with a pool of the application's. */
  readonly safeUrl: string | undefined;
  /** The schema holding the tables. */
  readonly schema: string;
  /** How long a fetched message stays invisible to other workers (ms). */
  readonly leaseTime: number;
  /** How often the process extends its leases (ms). */
  readonly heartbeatInterval: number;
  /** How long dead letters are kept (ms). */
  readonly deadMessageTtl: number;
  /** Connections of the broker's own pool. */
  readonly poolSize: number;
  /** Give up connecting after this long (ms). */
  readonly connectTimeout: number;
  /** Frequent statements run as named prepared statements. */
  readonly preparedStatements: boolean;
  /** What `pg` gets for the broker's connections (the URL without dramats' own parameters). */
  readonly connection: PoolConfig;
}

/** The defaults of {@link PostgresBrokerOptions}, in one place. */
export const POSTGRES_DEFAULTS = Object.freeze({
  /** The schema holding the tables. */
  schema: "dramats",
  /** Lease of a fetched message, in ms. */
  leaseTime: 30_000,
  /** How long dead letters are kept, in ms (7 days). */
  deadMessageTtl: 7 * 24 * 3600 * 1000,
  /** Connections of the broker's own pool. */
  poolSize: 10,
  /** Give up connecting after this long, in ms. */
  connectTimeout: 10_000,
});

/** The URL parameters dramats reads itself (and removes before `pg` sees the URL). */
const OWN_PARAMETERS = ["schema", "lease_time", "prepared_statements"] as const;

/** A schema name: plain lower-case identifier, so it never needs quoting tricks. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

/** What a `postgres://` URL says: dramats' settings, and the URL `pg` gets (without them). */
export interface ParsedPostgresUrl {
  /** The URL without dramats' parameters, for `pg`. */
  readonly connectionString: string;
  /** The URL's `schema`, if any. */
  readonly schema: string | undefined;
  /** The URL's `lease_time` (ms), if any. */
  readonly leaseTime: number | undefined;
  /** The URL's `prepared_statements` (`true` or `false`), if any. */
  readonly preparedStatements: boolean | undefined;
}

/**
 * Splits a `postgres://` or `postgresql://` URL into dramats' parameters and what `pg` reads.
 * @throws InvalidOptions for another scheme, a bad schema name or lease time (the URL masked)
 */
export function parsePostgresUrl(url: string): ParsedPostgresUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidOptions(`Invalid PostgreSQL URL ${JSON.stringify(redactUrl(url))}`);
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new InvalidOptions(`PostgresBroker url must start with postgres:// or postgresql://, got ${JSON.stringify(redactUrl(url))}`);
  }
  const schema = parsed.searchParams.get("schema") ?? undefined;
  let leaseTime: number | undefined;
  try {
    leaseTime = urlDuration(parsed.searchParams, "lease_time");
  } catch (error) {
    throw new InvalidOptions(`PostgresBroker url ${JSON.stringify(redactUrl(url))}: ${(error as Error).message}`, { cause: error });
  }
  const prepared = parsed.searchParams.get("prepared_statements");
  if (prepared !== null && prepared !== "true" && prepared !== "false") {
    throw new InvalidOptions(`PostgresBroker url ${JSON.stringify(redactUrl(url))}: prepared_statements must be true or false, got ${JSON.stringify(prepared)}`);
  }
  for (const name of OWN_PARAMETERS) parsed.searchParams.delete(name);
  return { connectionString: parsed.href, schema, leaseTime, preparedStatements: prepared === null ? undefined : prepared === "true" };
}

/**
 * Applies defaults and validates.
 * @throws InvalidOptions for a bad URL or schema name, or neither `url` nor `pool`; RangeError for bad numbers.
 */
export function resolveSettings(options: PostgresBrokerOptions): PostgresSettings {
  const fromUrl = options.url === undefined ? undefined : parsePostgresUrl(options.url);
  if (fromUrl === undefined && options.pool === undefined) throw new InvalidOptions("PostgresBroker needs a url (postgres://...) or a pg pool");
  const schema = options.schema ?? fromUrl?.schema ?? POSTGRES_DEFAULTS.schema;
  if (!SCHEMA_NAME.test(schema) || schema.startsWith("pg_")) {
    throw new InvalidOptions(`PostgresBroker schema must be a lower-case identifier of at most 48 characters ([a-z_][a-z0-9_]*, not pg_...), got ${JSON.stringify(schema)}`);
  }
  const leaseTime = Math.round(positive("leaseTime", options.leaseTime ?? fromUrl?.leaseTime ?? POSTGRES_DEFAULTS.leaseTime));
  if (leaseTime < 100) throw new RangeError(`PostgresBroker option leaseTime must be at least 100 ms, got ${leaseTime}`);
  const heartbeatInterval = Math.round(positive("heartbeatInterval", options.heartbeatInterval ?? leaseTime / 3));
  if (heartbeatInterval * 2 > leaseTime) {
    throw new RangeError(`PostgresBroker option heartbeatInterval (${heartbeatInterval}) must be at most half of leaseTime (${leaseTime})`);
  }
  const preparedStatements = options.preparedStatements ?? fromUrl?.preparedStatements ?? true;
  if (typeof preparedStatements !== "boolean") throw new InvalidOptions(`PostgresBroker option preparedStatements must be a boolean, got ${JSON.stringify(preparedStatements)}`);
  const envTtl = Number(process.env.dramatiq_dead_message_ttl);
  const connectTimeout = Math.round(positive("connectTimeout", options.connectTimeout ?? POSTGRES_DEFAULTS.connectTimeout));
  const connection: PoolConfig =
    fromUrl !== undefined
      ? { connectionString: fromUrl.connectionString }
      : { ...((options.listenConfig ?? (options.pool as unknown as { options?: PoolConfig }).options) ?? {}) };
  return {
    safeUrl: options.url === undefined ? undefined : redactUrl(options.url),
    schema,
    leaseTime,
    heartbeatInterval,
    deadMessageTtl: Math.round(positive("deadMessageTtl", options.deadMessageTtl ?? (envTtl > 0 ? envTtl : POSTGRES_DEFAULTS.deadMessageTtl))),
    poolSize: Math.round(positive("poolSize", options.poolSize ?? POSTGRES_DEFAULTS.poolSize)),
    connectTimeout,
    preparedStatements,
    connection: { ...connection, connectionTimeoutMillis: connectTimeout },
  };
}

function positive(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`PostgresBroker option ${name} must be a positive number, got ${value}`);
  }
  return value;
}
