/**
 * The database layout, as a list of numbered migrations applied in order inside the broker's
 * own schema. A migration is never edited once released: a change is a new migration appended
 * to MIGRATIONS (later features add their tables this way). `schema_migrations` records what
 * was applied; a database at a version this code does not know is refused.
 *
 * messages        one row per message that is ready, delayed or leased (in flight); deleted at ack
 *   eta           epoch ms (server clock) at which the message is (or became) due
 *   owner         null: waiting (ready once eta passed); else the consumer that leased it
 *   lease_until   with `owner`: when the lease expires (indexed with the queue since version 4)
 *   deliveries    how many times it was handed out (above 1: redelivered)
 *   message_id    null for bodies that do not decode (listed as `raw-<id>`)
 * dead            dead letters (the `.XQ`) with their reason and traceback, kept for the dead-message TTL
 * kv              the broker's key-value store (cron claims, enqueueOnce), with expiry
 * workers         the worker registry (dashboard, `dramats workers`)
 * history         per-minute fleet history (dashboard charts)
 * (2) the cancellation and rate-limiter backends' tables: see backend-migration.ts
 * enqueue(...)    (version 3) a SQL function enqueuing a message, for triggers and other languages
 * (version 4) one index of leased rows, (queue, lease_until), instead of two: a fetch writes one
 *                 index entry per message fewer, and finds expired leases by a range scan
 */
import type { ClientBase } from "pg";
import { BACKEND_MIGRATION } from "./backend-migration.ts";
import { SchemaVersionTooNew } from "./errors.ts";

/** One step of the layout. */
export interface Migration {
  /** 1, 2, 3... in order, without gaps. */
  readonly version: number;
  /** What it does, for `dramats migrate`'s output. */
  readonly name: string;
  /** The statements, given the quoted schema name (run in one transaction, without parameters). */
  sql(schema: string): string;
}

/** Every migration, oldest first. Append only. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "messages, dead letters, key-value store, worker registry, history",
    sql: (s) => `
CREATE FUNCTION ${s}.now_ms() RETURNS bigint LANGUAGE sql VOLATILE PARALLEL SAFE
  AS $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

-- Rows are updated in place while they live (lease, heartbeat): room on the page lets heartbeats
-- stay on the same page; a row lives seconds and is deleted at ack, so autovacuum keeps up.
CREATE TABLE ${s}.messages (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue text NOT NULL,
  priority integer NOT NULL DEFAULT 0,
  eta bigint NOT NULL,
  lease_until bigint,
  owner text,
  deliveries integer NOT NULL DEFAULT 0,
  message_id text,
  body text NOT NULL
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0);
-- Waiting rows in fetch order: a fetch reads the first due entries of its queue.
CREATE INDEX messages_fetch ON ${s}.messages (queue, priority, eta, id) WHERE owner IS NULL;
-- Leased rows (as many as workers prefetch): a fetch takes over the expired ones. lease_until is
-- in no index nor index predicate, so extending a lease can stay on its page (a HOT update).
CREATE INDEX messages_leased ON ${s}.messages (queue) WHERE owner IS NOT NULL;
-- A process's leases, for its heartbeat and for recovery after it died.
CREATE INDEX messages_owner ON ${s}.messages (owner) WHERE owner IS NOT NULL;

CREATE TABLE ${s}.dead (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue text NOT NULL,
  message_id text NOT NULL,
  body text NOT NULL,
  reason text NOT NULL,
  traceback text,
  dead_at bigint NOT NULL
);
CREATE INDEX dead_queue ON ${s}.dead (queue, id);
CREATE INDEX dead_age ON ${s}.dead (dead_at);

CREATE TABLE ${s}.kv (key text PRIMARY KEY, value text NOT NULL, expires_at bigint NOT NULL);
CREATE INDEX kv_expiry ON ${s}.kv (expires_at);

CREATE TABLE ${s}.workers (id text PRIMARY KEY, beat_at bigint NOT NULL, expires_at bigint NOT NULL, record text NOT NULL);

CREATE TABLE ${s}.history (minute bigint NOT NULL, worker text NOT NULL, bucket text NOT NULL, PRIMARY KEY (minute, worker));
`,
  },
  // The cancellation and rate-limiter backends' tables and functions (backend-migration.ts).
  BACKEND_MIGRATION,
  {
    version: 3,
    name: "enqueue(queue, actor, args, options, delay_ms, priority) SQL function",
    sql: (s) => `
-- A message as dramats encodes it (the same fields, in the same order; kwargs empty), written and
-- announced on the schema's channel as the broker's own enqueue does: inside the caller's
-- transaction, so it exists once that commits and the NOTIFY is delivered then.
CREATE FUNCTION ${s}.enqueue(queue text, actor text, args jsonb, options jsonb DEFAULT '{}', delay_ms bigint DEFAULT 0, priority integer DEFAULT 0)
  RETURNS text LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  id text := gen_random_uuid()::text;
  at bigint := ${s}.now_ms();
BEGIN
  IF coalesce(enqueue.queue, '') = '' OR coalesce(enqueue.actor, '') = '' THEN
    RAISE EXCEPTION 'dramats enqueue: queue and actor must be non-empty' USING ERRCODE = '22023';
  END IF;
  IF jsonb_typeof(enqueue.args) IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'dramats enqueue: args must be a JSON array, got %', coalesce(jsonb_typeof(enqueue.args), 'NULL') USING ERRCODE = '22023';
  END IF;
  IF jsonb_typeof(coalesce(enqueue.options, '{}')) <> 'object' THEN
    RAISE EXCEPTION 'dramats enqueue: options must be a JSON object, got %', jsonb_typeof(enqueue.options) USING ERRCODE = '22023';
  END IF;
  INSERT INTO ${s}.messages (queue, priority, eta, message_id, body)
  VALUES (enqueue.queue, coalesce(enqueue.priority, 0), at + greatest(coalesce(enqueue.delay_ms, 0), 0), id,
    json_build_object('queue_name', enqueue.queue, 'actor_name', enqueue.actor, 'args', enqueue.args, 'kwargs', '{}'::json,
      'options', coalesce(enqueue.options, '{}'), 'message_id', id, 'message_timestamp', at)::text);
  PERFORM pg_notify(${sqlLiteral(`dramats:${s.slice(1, -1).replace(/""/g, '"')}`)}, enqueue.queue);
  RETURN id;
END
$fn$;
`,
  },
  {
    version: 4,
    name: "one index of leased rows by (queue, lease_until), replacing (queue) and (owner)",
    sql: (s) => `
-- Leasing a message (the fetch's UPDATE) adds an entry to every index whose predicate the leased
-- row meets: one index instead of two makes each fetch cheaper. Expired leases are a range of it
-- (queue, lease_until <= now). The heartbeat extends leases by row id (each process knows what it
-- holds); recovery of a dead owner, which is rare, scans the leased rows.
DROP INDEX ${s}.messages_leased;
DROP INDEX ${s}.messages_owner;
CREATE INDEX messages_leased ON ${s}.messages (queue, lease_until) WHERE owner IS NOT NULL;
`,
  },
];

/** The newest schema version this code knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** A migration as `migrate` reports it. */
export interface AppliedMigration {
  /** Its number. */
  readonly version: number;
  /** What it does. */
  readonly name: string;
}

/** What `migrate` did. */
export interface MigrationReport {
  /** The PostgreSQL schema. */
  readonly schema: string;
  /** The version found (0: none). */
  readonly from: number;
  /** The version now. */
  readonly to: number;
  /** The migrations this call applied (none when another process did, or nothing was due). */
  readonly applied: readonly AppliedMigration[];
}

/** First key of the two-key advisory lock every dramats migration takes (the second is `hashtext(schema)`). */
export const MIGRATION_LOCK = 0x64726d74; // "drmt"

/** 'text': a SQL string literal (the function's NOTIFY channel: listener.ts wakeChannel, not imported here to keep the import graph acyclic). */
function sqlLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** `"name"`: the schema names allowed (options.ts) need no escaping, but quote anyway. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function currentVersion(client: ClientBase, schema: string): Promise<number> {
  const { rows } = await client.query<{ table: string | null }>("SELECT to_regclass($1) AS table", [`${quoteIdent(schema)}.schema_migrations`]);
  if (rows[0]!.table === null) return 0;
  const result = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${quoteIdent(schema)}.schema_migrations`);
  return Number(result.rows[0]!.v ?? 0);
}

/**
 * Brings `schema` to the last version of `migrations` (MIGRATIONS by default; specs pass longer
 * lists). Processes booting at once take turns on an advisory lock (held by this client's
 * session), so each migration runs once; each runs in a transaction of its own with its record
 * in `schema_migrations`.
 * @throws SchemaVersionTooNew when the schema is newer than the list
 */
export async function migrate(client: ClientBase, schema: string, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationReport> {
  const latest = migrations[migrations.length - 1]!.version;
  const first = await currentVersion(client, schema);
  if (first > latest) throw new SchemaVersionTooNew(schema, first, latest);
  if (first === latest) return { schema, from: first, to: first, applied: [] };
  const s = quoteIdent(schema);
  await client.query("SELECT pg_advisory_lock($1, hashtext($2))", [MIGRATION_LOCK, schema]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const from = await currentVersion(client, schema);
    if (from > latest) throw new SchemaVersionTooNew(schema, from, latest);
    const applied: AppliedMigration[] = [];
    for (const migration of migrations) {
      if (migration.version <= from) continue;
      await client.query("BEGIN");
      try {
        await client.query(migration.sql(s));
        await client.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw error;
      }
      applied.push({ version: migration.version, name: migration.name });
    }
    return { schema, from, to: latest, applied };
  } finally {
    await client.query("SELECT pg_advisory_unlock($1, hashtext($2))", [MIGRATION_LOCK, schema]).catch(() => {});
  }
}
