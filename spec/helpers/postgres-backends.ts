/**
 * PostgreSQL for the backend specs: `DATABASE_URL`, else the local server's `test` database as
 * `postgres` (trust authentication on 127.0.0.1). Each spec uses a schema of its own, dropped
 * afterwards. A server that is down fails the specs (never skips them).
 * (The pg-broker branch has the same helpers in spec/helpers/postgres.ts: one goes at the merge.)
 */
import { randomUUID } from "node:crypto";
import pg from "pg";

/** The URL of the PostgreSQL database to test against. */
export function postgresUrl(): string {
  return process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
}

/** A schema name no other spec run uses. */
export function uniqueSchema(prefix = "spec"): string {
  return `${prefix}_${randomUUID().replace(/-/g, "").slice(0, 12)}`;
}

/** `url` with `?schema=` set. */
export function urlWithSchema(schema: string, url = postgresUrl()): string {
  const parsed = new URL(url);
  parsed.searchParams.set("schema", schema);
  return parsed.href;
}

/** A connected client of the spec's own (with an error listener); end it when done. */
export async function adminClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: postgresUrl() });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`PostgreSQL specs need a server: set DATABASE_URL or start the local one: ${(error as Error).message}`, { cause: error });
  }
  return client;
}

/** Runs `sql` on a short-lived admin connection. */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
  const client = await adminClient();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** Drops a spec's schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}
