// Transactional enqueue on PostgreSQL: sends written through the application's own pg client,
// inside its open transaction (withTransaction, sendWithOptions({ db })), and the SQL function
// <schema>.enqueue() called directly and from a trigger; real Workers run what commits.
import { expect } from "chai";
import type pg from "pg";
import { NotInTransaction, PostgresBroker } from "../../brokers/postgres/index.ts";
import { StubBroker } from "../../brokers/stub.ts";
import { actor, InvalidOptions, Middleware, TransactionsUnsupported, Worker, type Broker, type Message } from "../../lib/index.ts";
import { waitFor } from "../fixtures/sqlite-files.ts";
import { adminClient, dropSchema, postgresUrl, uniqueSchema } from "../helpers/postgres.ts";

const QUEUE = "txq";

/** Records the enqueue hooks it sees. */
class Recorder extends Middleware {
  readonly before: string[] = [];
  readonly after: string[] = [];
  beforeEnqueue(_broker: Broker, message: Message): void {
    this.before.push(message.messageId);
  }
  afterEnqueue(_broker: Broker, message: Message): void {
    this.after.push(message.messageId);
  }
}

describe("PostgresBroker transactional enqueue", function () {
  this.timeout(20_000);
  let schema: string;
  let broker: PostgresBroker;
  let recorder: Recorder;
  let app: pg.Client;
  let seen: unknown[][];
  let worker: Worker | undefined;
  let record: ReturnType<typeof actor<unknown[], void>>;

  beforeEach(async () => {
    schema = uniqueSchema("pgtx");
    recorder = new Recorder();
    broker = new PostgresBroker({ url: postgresUrl(), schema, middleware: [recorder], poolSize: 3 });
    broker.declareQueue(QUEUE);
    seen = [];
    record = actor((...args: unknown[]) => void seen.push(args), { broker, queueName: QUEUE, actorName: "tx_record" });
    await broker.migrate();
    app = await adminClient();
    await app.query(`CREATE TABLE "${schema}".orders (id serial PRIMARY KEY, total integer NOT NULL)`);
  });

  afterEach(async () => {
    if (worker !== undefined) await worker.stop({ timeout: 2000 });
    worker = undefined;
    await app.query("ROLLBACK").catch(() => {});
    await app.end();
    await broker.close();
    await dropSchema(schema);
  });

  const startWorker = async () => {
    worker = new Worker(broker, { queues: [QUEUE], fetchTimeout: 100 });
    await worker.start();
    return worker;
  };
  const ready = async () => (await broker.depths(QUEUE)).ready;
  /** Sends a marker outside any transaction and waits until the worker ran it and the queue is idle: what was committed before it ran too. */
  const drainWithMarker = async () => {
    await record.send(-1);
    await waitFor(() => seen.some((s) => s[0] === -1), 5000, "the marker to run");
    await broker.join(QUEUE, { timeout: 5000 });
  };

  it("sendWithOptions({ db }) in a committed transaction runs once, with the app's row", async () => {
    await startWorker();
    await app.query("BEGIN");
    const { rows } = await app.query<{ id: number }>(`INSERT INTO "${schema}".orders (total) VALUES (42) RETURNING id`);
    const message = await record.sendWithOptions({ args: [rows[0]!.id, "paid"], db: app });
    await app.query("COMMIT");
    await waitFor(() => seen.length === 1, 5000, "the committed message to run");
    await drainWithMarker();
    expect(seen.filter((s) => s[0] !== -1)).to.deep.equal([[rows[0]!.id, "paid"]]);
    expect(recorder.before).to.include(message.messageId);
    expect(recorder.after).to.include(message.messageId);
  });

  it("a rolled-back transaction enqueues nothing: it never runs", async () => {
    await startWorker();
    await app.query("BEGIN");
    await app.query(`INSERT INTO "${schema}".orders (total) VALUES (7)`);
    const message = await record.sendWithOptions({ args: [7], db: app });
    expect(recorder.before).to.include(message.messageId); // it did go through the hooks
    await app.query("ROLLBACK");
    await drainWithMarker(); // anything committed before the marker has run by now
    expect(seen).to.deep.equal([[-1]]);
    expect(await ready()).to.equal(0);
    expect((await app.query(`SELECT count(*)::int AS n FROM "${schema}".orders`)).rows[0].n).to.equal(0);
  });

  it("withTransaction: two sends (and a bulk send) commit together, invisible until then", async () => {
    await app.query("BEGIN");
    const result = await broker.withTransaction(app, async () => {
      await record.send(1);
      await record.sendWithOptions({ args: [2], priority: 1 });
      await record.sendMany([[3], [4]]);
      return "done";
    });
    expect(result).to.equal("done");
    expect(await ready()).to.equal(0); // another session (the broker's pool) sees nothing yet
    await app.query("COMMIT");
    expect(await ready()).to.equal(4);
    await startWorker();
    await waitFor(() => seen.length === 4, 5000, "the four messages to run");
    expect(seen.map((s) => s[0]).sort()).to.deep.equal([1, 2, 3, 4]);
  });

  it("enqueueOnce inside withTransaction: claim and message roll back together, and commit together", async () => {
    await app.query("BEGIN");
    expect(await broker.withTransaction(app, () => broker.enqueueOnce({ key: "once-1", ttl: 60_000 }, [record.message(1)]))).to.equal(true);
    await app.query("ROLLBACK");
    expect(await broker.store.get("once-1")).to.equal(undefined);
    expect(await ready()).to.equal(0);
    await app.query("BEGIN");
    expect(await broker.withTransaction(app, () => broker.enqueueOnce({ key: "once-1", ttl: 60_000 }, [record.message(2)]))).to.equal(true);
    await app.query("COMMIT");
    expect(await broker.store.get("once-1")).to.equal("1");
    expect(await ready()).to.equal(1);
  });

  it("wakes an idle consumer at commit, not before", async () => {
    await startWorker();
    await drainWithMarker(); // the worker is now idle, listening
    await app.query("BEGIN");
    await record.sendWithOptions({ args: [5], db: app });
    // While the transaction is open no other session sees the row, however long it stays open.
    const openUntil = Date.now() + 500;
    while (Date.now() < openUntil) {
      expect(await ready()).to.equal(0);
      expect(seen).to.deep.equal([[-1]]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const committedAt = Date.now();
    await app.query("COMMIT");
    await waitFor(() => seen.length === 2, 3000, "the committed message to run");
    expect(Date.now() - committedAt).to.be.below(500); // woken by the commit's NOTIFY
  });

  it("refuses a client with no open transaction (NotInTransaction, nothing written) and a db without query", async () => {
    const error = await record.sendWithOptions({ args: [9], db: app }).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(NotInTransaction);
    expect((error as NotInTransaction).code).to.equal("DRAMATS_ERR_NOT_IN_TRANSACTION");
    expect(await ready()).to.equal(0);
    const bad = await record.sendWithOptions({ args: [9], db: {} as never }).then(() => undefined, (e: unknown) => e);
    expect(bad).to.be.instanceOf(InvalidOptions).with.property("message").that.matches(/query/);
    expect(() => broker.withTransaction(null as never, () => undefined)).not.to.throw();
    await broker.withTransaction(null as never, () => undefined).then(() => expect.fail("resolved"), (e: unknown) => expect(e).to.be.instanceOf(InvalidOptions));
    expect(() => record.messageWithOptions({ args: [1], db: app })).to.throw(InvalidOptions, /sendWithOptions only/);
  });

  it("a statement that fails in the transaction leaves it aborted, and the send rejects with pg's error", async () => {
    await app.query("BEGIN");
    await app.query("SELECT 1/0").catch(() => {});
    const error = await record.sendWithOptions({ args: [1], db: app }).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(Error).with.property("message").that.matches(/aborted/);
    await app.query("ROLLBACK");
    expect(await ready()).to.equal(0);
  });

  it("rejects db on a broker that cannot use it with TransactionsUnsupported, sending nothing", async () => {
    const stub = new StubBroker();
    try {
      const other = actor((n: number) => void n, { broker: stub, queueName: "s", actorName: "tx_stub" });
      const error = await other.sendWithOptions({ args: [1], db: app }).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(TransactionsUnsupported);
      expect(error).to.have.property("code", "DRAMATS_ERR_TRANSACTIONS_UNSUPPORTED");
      expect((error as Error).message).to.include("StubBroker");
      expect((await stub.depths("s")).ready).to.equal(0);
    } finally {
      await stub.close();
    }
  });

  it("the SQL function enqueues a dramats message a Worker runs, from a query and from a trigger", async () => {
    const { rows } = await app.query<{ id: string }>(`SELECT "${schema}".enqueue($1, 'tx_record', '[11, "sql"]'::jsonb) AS id`, [QUEUE]);
    const [row] = (await app.query<{ body: string }>(`SELECT body FROM "${schema}".messages`)).rows;
    const decoded = broker.decode(row!.body);
    expect(decoded).to.deep.include({ queueName: QUEUE, actorName: "tx_record", args: [11, "sql"], kwargs: {}, options: {}, messageId: rows[0]!.id });
    expect(decoded.messageId).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Math.abs(decoded.messageTimestamp - Date.now())).to.be.below(5000);
    expect(Object.keys(JSON.parse(row!.body))).to.deep.equal(["queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp"]);

    await app.query(`CREATE FUNCTION "${schema}".order_placed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM "${schema}".enqueue('${QUEUE}', 'tx_record', jsonb_build_array(NEW.total, 'trigger')); RETURN NEW; END $$`);
    await app.query(`CREATE TRIGGER order_placed AFTER INSERT ON "${schema}".orders FOR EACH ROW EXECUTE FUNCTION "${schema}".order_placed()`);
    await startWorker();
    await waitFor(() => seen.length === 1, 5000, "the SQL-enqueued message to run");
    await app.query(`INSERT INTO "${schema}".orders (total) VALUES (99)`); // autocommit: the trigger's message commits with the row
    await app.query("BEGIN");
    await app.query(`INSERT INTO "${schema}".orders (total) VALUES (13)`);
    await app.query("ROLLBACK"); // the trigger's message is rolled back with the row
    await waitFor(() => seen.length >= 2, 5000, "the trigger's message to run");
    await drainWithMarker();
    expect(seen).to.deep.equal([[11, "sql"], [99, "trigger"], [-1]]);
  });

  it("the SQL function refuses bad arguments and honours delay_ms and priority", async () => {
    for (const [args, pattern] of [["'{}'", /args must be a JSON array/], ["'[1]', '[]'", /options must be a JSON object/]] as const) {
      const error = await app.query(`SELECT "${schema}".enqueue('${QUEUE}', 'tx_record', ${args})`).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(Error).with.property("message").that.matches(pattern);
    }
    await app.query(`SELECT "${schema}".enqueue('${QUEUE}', 'tx_record', '[1]', '{"max_retries": 0}', 60000, 5)`);
    const depths = await broker.depths(QUEUE);
    expect(depths).to.deep.include({ ready: 0, delayed: 1 });
    const [row] = (await app.query(`SELECT priority, eta - "${schema}".now_ms() AS wait, body FROM "${schema}".messages`)).rows;
    expect(row.priority).to.equal(5);
    expect(Number(row.wait)).to.be.within(50_000, 60_000);
    expect(broker.decode(row.body).options).to.deep.equal({ max_retries: 0 });
  });
});
