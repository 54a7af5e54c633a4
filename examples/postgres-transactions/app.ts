// An order is placed in the application's own transaction, and its receipt job with it: both
// commit, or neither exists. Kysely's transaction and plain `pg` side by side.
//
//   node --import tsx examples/postgres-transactions/app.ts setup                  create the shop's tables
//   node --import tsx examples/postgres-transactions/app.ts order EMAIL [--pg] [--fail]
//   node --import tsx examples/postgres-transactions/app.ts report                 orders and receipts, as JSON
//
// `--fail` throws after the order and its job were written: the transaction rolls back.
import { CompiledQuery, Kysely, PostgresDialect, type Generated, type Transaction } from "kysely";
import type { SqlClient } from "../../lib/index.ts";
import { broker, sendReceipt, shopSchema } from "./actors.ts";

interface Shop {
  orders: { id: Generated<number>; email: string };
  receipts: { order_id: number; email: string };
}

/**
 * A Kysely transaction as the client dramats writes through: the statements run on the
 * transaction's own connection, inside it.
 */
export function kyselyClient<DB>(trx: Transaction<DB>): SqlClient {
  return { query: (text, values) => trx.executeQuery(CompiledQuery.raw(text, values ?? [])) };
}

const db = new Kysely<Shop>({ dialect: new PostgresDialect({ pool: broker.pool }) }).withSchema(shopSchema);

async function setup(): Promise<void> {
  await broker.pool.query(`CREATE SCHEMA IF NOT EXISTS "${shopSchema}"`);
  await broker.pool.query(`CREATE TABLE IF NOT EXISTS "${shopSchema}".orders (id serial PRIMARY KEY, email text NOT NULL)`);
  await broker.pool.query(`CREATE TABLE IF NOT EXISTS "${shopSchema}".receipts (order_id integer PRIMARY KEY, email text NOT NULL)`);
  console.log(JSON.stringify({ msg: "Ready", schema: shopSchema }));
}

/** With Kysely: the order row and the job in one transaction. */
async function orderWithKysely(email: string, fail: boolean): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const { id } = await trx.insertInto("orders").values({ email }).returning("id").executeTakeFirstOrThrow();
    await sendReceipt.sendWithOptions({ args: [id, email], db: kyselyClient(trx) });
    if (fail) throw new Error(`order ${id} failed after its job was enqueued`);
    return id;
  });
}

/** With plain pg: BEGIN on a pool client; every send inside withTransaction goes through it. */
async function orderWithPg(email: string, fail: boolean): Promise<number> {
  const client = await broker.pool.connect();
  try {
    await client.query("BEGIN");
    const id = await broker.withTransaction(client, async () => {
      const { rows } = await client.query<{ id: number }>(`INSERT INTO "${shopSchema}".orders (email) VALUES ($1) RETURNING id`, [email]);
      await sendReceipt.send(rows[0]!.id, email);
      if (fail) throw new Error(`order ${rows[0]!.id} failed after its job was enqueued`);
      return rows[0]!.id;
    });
    await client.query("COMMIT");
    return id;
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
}

async function report(): Promise<void> {
  const orders = await db.selectFrom("orders").select(["id", "email"]).orderBy("id").execute();
  const receipts = await db.selectFrom("receipts").select(["order_id", "email"]).orderBy("order_id").execute();
  console.log(JSON.stringify({ orders, receipts }));
}

async function main(argv: string[]): Promise<void> {
  const [command, email] = argv;
  if (command === "setup") return setup();
  if (command === "report") return report();
  if (command !== "order" || email === undefined) throw new Error("usage: app.ts setup | order EMAIL [--pg] [--fail] | report");
  const fail = argv.includes("--fail");
  try {
    const id = argv.includes("--pg") ? await orderWithPg(email, fail) : await orderWithKysely(email, fail);
    console.log(JSON.stringify({ msg: "Order placed", id, email }));
  } catch (error) {
    console.log(JSON.stringify({ msg: "Order rolled back", email, error: (error as Error).message }));
  }
}

try {
  await main(process.argv.slice(2));
} finally {
  await broker.close(); // ends the pool Kysely uses too
}
