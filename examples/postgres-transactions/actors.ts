// The actors of the postgres-transactions example, imported by both sides: app.ts enqueues
// inside its own transactions, `dramats` workers run them. Importing this module sets the broker:
//
//   DATABASE_URL  postgres://... ; `?schema=S` is the broker's schema (default `dramats`). The
//                 shop's own tables live in the schema `<S>_shop` (see app.ts).
import { PostgresBroker } from "../../brokers/postgres/index.ts";
import { actor, setBroker } from "../../lib/index.ts";

const url = process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";

/** The broker; its pool is also the shop's database (one pool for both is fine). */
export const broker = new PostgresBroker({ url });
setBroker(broker);

/** The schema of the shop's tables. */
export const shopSchema = `${broker.settings.schema}_shop`;

/**
 * Runs once an order's transaction committed: records the receipt (a real app would email it).
 * Never runs for an order whose transaction rolled back: that order does not exist.
 */
export const sendReceipt = actor(
  async (orderId: number, email: string) => {
    await broker.pool.query(`INSERT INTO "${shopSchema}".receipts (order_id, email) VALUES ($1, $2)`, [orderId, email]);
    console.log(JSON.stringify({ msg: "Receipt sent", orderId, email }));
  },
  { actorName: "send_receipt", queueName: "receipts" },
);
