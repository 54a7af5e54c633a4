import type { Broker } from "./broker.ts";
import { InvalidOptions, TransactionsUnsupported } from "./errors.ts";

/**
 * The one method dramats needs of an application's database client to enqueue through it: a
 * `pg` `Client`/`PoolClient` has it as is, and an ORM's transaction can be adapted to it
 * (brokers/postgres/README.md). Parameters are `$1, $2...` placeholders; the result should carry
 * the returned `rows`, as `pg`'s does.
 */
export interface SqlClient {
  /** Runs one parameterised statement on the client's connection (inside its open transaction). */
  query(text: string, values?: unknown[]): Promise<unknown>;
}

/** A broker that can write messages through an application's database client (PostgresBroker). */
export interface TransactionalBroker {
  /**
   * Runs `fn`; every message the broker enqueues from it (sends, `enqueueMany`, the enqueue
   * hooks included) is written through `client`, inside the transaction open on it: it exists
   * once that transaction commits and never if it rolls back.
   */
  withTransaction<T>(client: SqlClient, fn: () => T | Promise<T>): Promise<T>;
}

/** True when `broker` can enqueue through a database client of the application's. */
export function isTransactional(broker: Broker): broker is Broker & TransactionalBroker {
  return typeof (broker as Partial<TransactionalBroker>).withTransaction === "function";
}

/** @throws InvalidOptions unless `client` has a `query` method. */
export function assertSqlClient(client: unknown, where: string): asserts client is SqlClient {
  if (typeof client !== "object" || client === null || typeof (client as Partial<SqlClient>).query !== "function") {
    throw new InvalidOptions(`${where}: \`db\` must be a database client with a query(text, values) method (a pg Client or PoolClient in a transaction), got ${client === null ? "null" : typeof client}`);
  }
}

/**
 * Runs `fn` with `broker` writing through `db` (what `sendWithOptions({ db })` does).
 * @throws TransactionsUnsupported when the broker cannot; InvalidOptions for a `db` without `query`
 */
export function inTransaction<T>(broker: Broker, db: unknown, fn: () => Promise<T>): Promise<T> {
  try {
    if (!isTransactional(broker)) throw new TransactionsUnsupported(broker.constructor.name);
    assertSqlClient(db, "sendWithOptions");
    return broker.withTransaction(db, fn);
  } catch (error) {
    return Promise.reject(error);
  }
}
