// The Knex and Drizzle adapters of brokers/postgres/README.md, as written there, on real
// PostgreSQL: a message sent inside the ORM's transaction exists once it commits and never if it
// rolls back; several messages (one multi-row statement) and enqueueOnce (its claim, the rows and
// the wake-up in one statement, whose parameters Knex's `?` rewrite must keep in order) work too.
import { expect } from "chai";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import knex, { type Knex } from "knex";
import pg from "pg";
import { PostgresBroker } from "../../brokers/postgres/index.ts";
import { actor, type SqlClient } from "../../lib/index.ts";
import { adminQuery, dropSchema, postgresUrl, uniqueSchema } from "../helpers/postgres.ts";

const QUEUE = "ormq";

// The README's adapters, verbatim but for the types.
const knexClient = (trx: Knex.Transaction): SqlClient => ({ query: (text, values) => trx.raw(text.replace(/\$\d+/g, "?"), (values ?? []) as Knex.RawBinding[]) });
const drizzleClient = (tx: unknown): SqlClient => (tx as { _: { session: { client: SqlClient } } })._.session.client;

describe("PostgreSQL transactional enqueue through Knex and Drizzle (the README's adapters)", function () {
  this.timeout(20_000);
  let schema: string;
  let broker: PostgresBroker;
  let record: ReturnType<typeof actor<[number, string], void>>;

  const messages = async () => (await adminQuery<{ body: string }>(`SELECT body FROM "${schema}".messages ORDER BY id`)).map((r) => broker.decode(r.body).args);
  const orders = async () => (await adminQuery<{ item: string }>(`SELECT item FROM "${schema}".orders ORDER BY id`)).map((r) => r.item);

  beforeEach(async () => {
    schema = uniqueSchema("pgorm");
    broker = new PostgresBroker({ url: postgresUrl(), schema, middleware: [], poolSize: 2 });
    broker.declareQueue(QUEUE);
    record = actor(function orm_record(_n: number, _item: string): void {}, { broker, queueName: QUEUE });
    await broker.migrate();
    await adminQuery(`CREATE TABLE "${schema}".orders (id serial PRIMARY KEY, item text NOT NULL)`);
  });

  afterEach(async () => {
    await broker.close();
    await dropSchema(schema);
  });

  describe("Knex", () => {
    let db: Knex;
    beforeEach(() => {
      db = knex({ client: "pg", connection: postgresUrl(), pool: { min: 0, max: 2 } });
    });
    afterEach(async () => {
      await db.destroy();
    });

    it("commits the order and its messages together, or neither on a rollback", async () => {
      await db.transaction(async (trx) => {
        await trx.raw(`INSERT INTO "${schema}".orders (item) VALUES (?)`, ["tea"]);
        await record.sendWithOptions({ args: [1, "tea"], db: knexClient(trx) });
        await broker.withTransaction(knexClient(trx), () => record.sendMany([[2, "tea's \"cup\""], [3, "tea\\pot"]]));
      });
      const failed = await db
        .transaction(async (trx) => {
          await trx.raw(`INSERT INTO "${schema}".orders (item) VALUES (?)`, ["coffee"]);
          await record.sendWithOptions({ args: [4, "coffee"], db: knexClient(trx) });
          throw new Error("out of coffee");
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect((failed as Error | undefined)?.message).to.equal("out of coffee");
      expect(await orders()).to.deep.equal(["tea"]);
      expect(await messages()).to.deep.equal([[1, "tea"], [2, "tea's \"cup\""], [3, "tea\\pot"]]);
    });

    it("runs enqueueOnce in the transaction: claim, rows and wake-up in one statement, parameters in order", async () => {
      const claimed = await db.transaction((trx) =>
        broker.withTransaction(knexClient(trx), () => broker.enqueueOnce({ key: "receipt:7", ttl: 60_000 }, [record.message(7, "once"), record.message(8, "once")])),
      );
      expect(claimed).to.equal(true);
      const again = await db.transaction((trx) => broker.withTransaction(knexClient(trx), () => broker.enqueueOnce({ key: "receipt:7", ttl: 60_000 }, [record.message(9, "twice")])));
      expect(again).to.equal(false);
      expect(await messages()).to.deep.equal([[7, "once"], [8, "once"]]);
      const [claim] = await adminQuery<{ value: string }>(`SELECT value FROM "${schema}".kv WHERE key = $1`, ["receipt:7"]);
      expect(claim?.value).to.equal("1");
    });
  });

  describe("Drizzle (node-postgres)", () => {
    let pool: pg.Pool;
    beforeEach(() => {
      pool = new pg.Pool({ connectionString: postgresUrl(), max: 2 });
      pool.on("error", () => undefined);
    });
    afterEach(async () => {
      await pool.end();
    });

    it("commits the order and its message together through the transaction's pg client, or neither on a rollback", async () => {
      const db = drizzle(pool);
      await db.transaction(async (tx) => {
        await tx.execute(sql.raw(`INSERT INTO "${schema}".orders (item) VALUES ('tea')`));
        await broker.withTransaction(drizzleClient(tx), () => record.send(1, "tea"));
      });
      await db
        .transaction(async (tx) => {
          await tx.execute(sql.raw(`INSERT INTO "${schema}".orders (item) VALUES ('coffee')`));
          await broker.withTransaction(drizzleClient(tx), () => record.send(2, "coffee"));
          tx.rollback();
        })
        .catch(() => undefined);
      expect(await orders()).to.deep.equal(["tea"]);
      expect(await messages()).to.deep.equal([[1, "tea"]]);
    });
  });
});
