/**
 * Creates the cancellation and rate-limiter backends' tables in a schema, whether or not the
 * PostgresBroker migrated it: the statements of migration 2 (backend-migration.ts), all of them
 * idempotent, in one transaction under the advisory lock dramats' migrations take, so processes
 * booting at once take turns instead of racing on the catalog.
 */
import type { ClientBase } from "pg";
import { BACKEND_MIGRATION } from "./backend-migration.ts";
import { MIGRATION_LOCK, quoteIdent } from "./migrations.ts";

/**
 * Creates `schema` and the backends' tables and functions in it unless they exist. Idempotent;
 * safe to call from many processes at once. Leaves `schema_migrations` to the broker: its
 * migration 2 finds everything in place and changes nothing.
 * @param client a connected client not inside a transaction
 */
export async function ensureBackendTables(client: ClientBase, schema: string): Promise<void> {
  const s = quoteIdent(schema);
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [MIGRATION_LOCK, schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    // Already there (the common case): skip the DDL, which would take heavier locks.
    const { rows } = await client.query<{ done: boolean }>(
      "SELECT to_regprocedure($1) IS NOT NULL AS done",
      [`${s}.backends_sweep()`],
    );
    if (!rows[0]!.done) await client.query(BACKEND_MIGRATION.sql(s));
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}
