import { expect } from "chai";
import pg from "pg";
import { parsePostgresUrl, PostgresBroker, type PostgresBrokerOptions, type PostgresConsumer } from "../../brokers/postgres/index.ts";
import { MessageQueries, type Run } from "../../brokers/postgres/queries.ts";
import { abandonConsumer } from "../../brokers/postgres/testing.ts";
import { brokerFromUrl } from "../../lib/connect.ts";
import { actor, InvalidOptions, Message, Worker, type Delivery } from "../../lib/index.ts";
import { waitFor } from "../fixtures/sqlite-files.ts";
import { adminQuery, dropSchema, postgresUrl, uniqueSchema, urlWithSchema } from "../helpers/postgres.ts";

const QUEUE = "pq";

describe("PostgresBroker", function () {
  this.timeout(20_000);
  let schema: string;
  const open: PostgresBroker[] = [];

  const newBroker = (options: Partial<PostgresBrokerOptions> = {}) => {
    const broker = new PostgresBroker({ url: postgresUrl(), schema, middleware: [], poolSize: 3, ...options });
    broker.declareQueue(QUEUE);
    open.push(broker);
    return broker;
  };
  const message = (args: unknown[] = []) => new Message({ queueName: QUEUE, actorName: "pq_noop", args, options: {} });
  const argsOf = (broker: PostgresBroker, deliveries: Delivery[]) => deliveries.map((d) => broker.decode(d.body).args[0]);
  /** Counts the statements a broker's pool runs on the messages table (a fetch, a heartbeat...), through pg's `query`. */
  const countStatements = (broker: PostgresBroker) => {
    const counter = { n: 0, texts: [] as string[] };
    const query = broker.pool.query.bind(broker.pool) as (...args: unknown[]) => unknown;
    (broker.pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const text = typeof args[0] === "string" ? args[0] : String((args[0] as { text: string }).text);
      if (text.includes(`"${schema}".messages`)) {
        counter.n++;
        counter.texts.push(text.replace(/\s+/g, " ").slice(0, 80));
      }
      return query(...args);
    };
    return counter;
  };

  beforeEach(() => {
    schema = uniqueSchema("pgb");
  });

  afterEach(async () => {
    for (const broker of open.splice(0)) await broker.close();
    await dropSchema(schema);
  });

  describe("URLs", () => {
    it("reads schema and lease_time from the URL and hands pg the rest (sslmode included)", () => {
      const parsed = parsePostgresUrl("postgresql://app:pw@db.example:6543/jobs?schema=queues&lease_time=5000&sslmode=require");
      expect(parsed).to.deep.equal({ connectionString: "postgresql://app:pw@db.example:6543/jobs?sslmode=require", schema: "queues", leaseTime: 5000, preparedStatements: undefined });
      const broker = new PostgresBroker({ url: "postgres://app:pw@db.example/jobs?schema=queues&lease_time=6000", middleware: [] });
      open.push(broker);
      expect(broker.settings).to.include({ schema: "queues", leaseTime: 6000, heartbeatInterval: 2000, safeUrl: "postgres://app:***@db.example/jobs?schema=queues&lease_time=6000" });
      const chosen = new PostgresBroker({ url: "postgres://db.example/jobs?lease_time=6000", leaseTime: 9000, schema: "other", middleware: [] });
      open.push(chosen);
      expect(chosen.settings).to.include({ schema: "other", leaseTime: 9000 });
    });

    it("refuses a bad URL, lease time or schema with InvalidOptions, the password masked", () => {
      const bad = (url: string) => () => new PostgresBroker({ url, middleware: [] });
      expect(bad("postgres://u:hunter2-secret@h/db?lease_time=3s")).to.throw(InvalidOptions, /lease_time/).with.property("message").that.does.not.include("hunter2-secret");
      expect(bad("postgres://u:hunter2-secret@h/db?schema=Bad-Name")).to.throw(InvalidOptions, /schema/);
      expect(bad("mysql://u@h/db")).to.throw(InvalidOptions, /postgres:\/\//);
      expect(() => new PostgresBroker({ middleware: [] })).to.throw(InvalidOptions, /url .* or a pg pool/);
      expect(() => new PostgresBroker({ url: postgresUrl(), leaseTime: 3000, heartbeatInterval: 2000 })).to.throw(RangeError, /at most half/);
    });

    it("is built from postgres:// and postgresql:// URLs by connect's brokerFromUrl", async () => {
      for (const scheme of ["postgres:", "postgresql:"]) {
        const url = new URL(urlWithSchema(schema));
        url.protocol = scheme;
        const broker = await brokerFromUrl(url.href, { middleware: [] });
        open.push(broker as PostgresBroker);
        expect(broker.constructor.name).to.equal("PostgresBroker"); // loaded by URL: another module instance
        expect((broker as PostgresBroker).settings.schema).to.equal(schema);
        broker.declareQueue(QUEUE);
        expect((await broker.depths(QUEUE)).ready).to.equal(0);
      }
    });
  });

  describe("a pool of the application's", () => {
    it("runs on it, listens with its settings, and leaves it open at close", async () => {
      const pool = new pg.Pool({ connectionString: postgresUrl(), max: 2 });
      pool.on("error", () => {});
      try {
        const broker = newBroker({ url: undefined, pool });
        const producer = newBroker();
        const consumer = broker.consume(QUEUE, { prefetch: 1 });
        expect(await consumer.fetch(1, 50)).to.deep.equal([]);
        const waiting = consumer.fetch(1, 5000);
        await new Promise((resolve) => setTimeout(resolve, 50));
        await producer.enqueue(message([1]));
        const got = await waiting;
        expect(argsOf(broker, got)).to.deep.equal([1]);
        await consumer.ack(got[0]!);
        expect(broker.recoveryAddress()).to.equal(undefined);
        await broker.close();
        expect((await pool.query<{ one: number }>("SELECT 1 AS one")).rows[0]!.one).to.equal(1);
      } finally {
        await pool.end();
      }
    });
  });

  describe("leases", () => {
    it("gives a consumer that stops heartbeating's messages to another after the lease time, and none before", async () => {
      const broker = newBroker({ leaseTime: 600 });
      const other = newBroker({ leaseTime: 600 });
      await broker.enqueueMany([message([1]), message([2])]);
      const doomed = broker.consume(QUEUE, { prefetch: 2 });
      expect(argsOf(broker, await doomed.fetch(2, 1000))).to.have.members([1, 2]);
      abandonConsumer(doomed);
      const abandonedAt = Date.now();
      const taker = other.consume(QUEUE, { prefetch: 2 });
      const got: Delivery[] = [];
      while (got.length < 2 && Date.now() - abandonedAt < 5000) got.push(...(await taker.fetch(2 - got.length, 500)));
      const waited = Date.now() - abandonedAt;
      expect(argsOf(other, got)).to.have.members([1, 2]);
      expect(got.every((d) => d.redelivered)).to.equal(true);
      expect(waited).to.be.at.least(500).and.below(2000);
      for (const d of got) await taker.ack(d);
      await taker.close();
    });

    it("keeps a live consumer's leases past the lease time with one heartbeat statement for all its consumers", async () => {
      const broker = newBroker({ leaseTime: 400 });
      const other = newBroker({ leaseTime: 400 });
      broker.declareQueue("pq2");
      await broker.enqueue(message([1]));
      await broker.enqueue(new Message({ queueName: "pq2", actorName: "pq_noop", args: [2], options: {} }));
      const a = broker.consume(QUEUE, { prefetch: 1 });
      const b = broker.consume("pq2", { prefetch: 1 });
      const [da] = await a.fetch(1, 1000);
      const [db] = await b.fetch(1, 1000);
      expect(da).to.not.equal(undefined);
      expect(db).to.not.equal(undefined);
      const owners = [a.owner, b.owner];
      const before = await adminQuery<{ lease_until: string }>(`SELECT lease_until FROM "${schema}".messages WHERE owner = ANY($1) ORDER BY id`, [owners]);
      const statements = countStatements(broker);
      const thief = other.consume(QUEUE, { prefetch: 1 });
      expect(await thief.fetch(1, 1200)).to.deep.equal([]); // three lease times
      // Heartbeats every ~133 ms over 1.2 s: about nine statements, each extending both leases.
      expect(statements.n).to.be.within(5, 12);
      const after = await adminQuery<{ lease_until: string }>(`SELECT lease_until FROM "${schema}".messages WHERE owner = ANY($1) ORDER BY id`, [owners]);
      expect(after.map((r) => Number(r.lease_until))).to.satisfy((xs: number[]) => xs.every((x, i) => x > Number(before[i]!.lease_until) + 800));
      await a.ack(da!);
      await b.ack(db!);
      await thief.close();
    });

    it("extends by row id only the leases their owner still holds, never one another consumer took over", async () => {
      const broker = newBroker();
      await broker.migrate();
      const queries = new MessageQueries(schema);
      const run: Run = (text, values) => broker.pool.query(text, values as unknown[]);
      await broker.enqueue(message([1]));
      const [first] = await queries.take(run, QUEUE, 1, "stalled", 60_000);
      // Its lease runs out (the stalled owner sent no heartbeat): another consumer takes it over.
      await adminQuery(`UPDATE "${schema}".messages SET lease_until = 0 WHERE id = $1`, [first!.id]);
      const [again] = await queries.take(run, QUEUE, 1, "taker", 60_000);
      expect(again).to.deep.include({ id: first!.id, reclaimed: true });
      expect(await queries.heartbeat(run, [first!.id], ["stalled"], 60_000)).to.equal(0);
      expect(await queries.heartbeat(run, [first!.id], ["taker"], 60_000)).to.equal(1);
      const [row] = await adminQuery<{ owner: string }>(`SELECT owner FROM "${schema}".messages WHERE id = $1`, [first!.id]);
      expect(row!.owner).to.equal("taker");
    });
  });

  describe("LISTEN/NOTIFY", () => {
    it("wakes an idle consumer on another process's enqueue, sending no statement while idle", async () => {
      const broker = newBroker();
      const producer = newBroker();
      const consumer = broker.consume(QUEUE, { prefetch: 1 }) as PostgresConsumer;
      expect(await consumer.fetch(1, 50)).to.deep.equal([]); // the first look
      const statements = countStatements(broker);
      const looks = consumer.looks;
      // Idle: fetch calls come and go (as a worker's loop makes them) and nothing is sent.
      for (let i = 0; i < 4; i++) expect(await consumer.fetch(1, 150)).to.deep.equal([]);
      expect(statements.n).to.equal(0);
      expect(consumer.looks).to.equal(looks);
      const waiting = consumer.fetch(1, 5000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const sentAt = Date.now();
      await producer.enqueue(message([42]));
      const got = await waiting;
      expect(Date.now() - sentAt).to.be.below(500);
      expect(argsOf(broker, got)).to.deep.equal([42]);
      expect(consumer.looks).to.equal(looks + 1);
      await consumer.ack(got[0]!);
      await consumer.close();
    });

    it("keeps an idle Worker silent: no statement while it waits, and a message picked up at once", async () => {
      const broker = newBroker();
      const producer = newBroker();
      const seen: number[] = [];
      actor((n: number) => void seen.push(n), { broker, queueName: QUEUE, actorName: "pq_noop" });
      const worker = new Worker(broker, { queues: [QUEUE], fetchTimeout: 100 });
      await worker.start();
      try {
        await new Promise((resolve) => setTimeout(resolve, 300)); // its first looks
        const statements = countStatements(broker);
        await new Promise((resolve) => setTimeout(resolve, 1000)); // ten fetch timeouts
        // (The worker reads its queue's pause flag from the store every 500 ms, on every broker: not a fetch.)
        expect(statements.texts).to.deep.equal([]);
        const sentAt = Date.now();
        await producer.enqueue(message([3]));
        await waitFor(() => seen.length === 1, 2000, "the worker to run the message");
        expect(Date.now() - sentAt).to.be.below(500);
      } finally {
        await worker.stop({ timeout: 2000 });
      }
    });

    it("wakes at a delayed message's eta by a timer, without polling in between", async () => {
      const broker = newBroker();
      const consumer = broker.consume(QUEUE, { prefetch: 1 }) as PostgresConsumer;
      expect(await consumer.fetch(1, 50)).to.deep.equal([]);
      await broker.enqueue(message([7]), { delay: 400 });
      const looks = consumer.looks;
      const startedAt = Date.now();
      const got = await consumer.fetch(1, 3000);
      const waited = Date.now() - startedAt;
      expect(argsOf(broker, got)).to.deep.equal([7]);
      expect(waited).to.be.within(250, 700);
      expect(consumer.looks - looks).to.be.at.most(3);
      await consumer.ack(got[0]!);
    });

    it("connects its LISTEN connection again after pg_terminate_backend and looks once for what it missed", async () => {
      const broker = newBroker();
      const producer = newBroker();
      const consumer = broker.consume(QUEUE, { prefetch: 1 }) as PostgresConsumer;
      expect(await consumer.fetch(1, 50)).to.deep.equal([]);
      const pid = broker.listener.backendPid;
      expect(pid).to.be.a("number");
      const waiting = consumer.fetch(1, 8000);
      await adminQuery("SELECT pg_terminate_backend($1)", [pid]);
      // Sent while nobody listens: its NOTIFY is lost to this process.
      await producer.enqueue(message([9]));
      const got = await waiting;
      expect(argsOf(broker, got)).to.deep.equal([9]);
      await waitFor(() => broker.listener.connections === 2 && broker.listener.connected, 5000, "the LISTEN connection to be made again");
      expect(broker.listener.backendPid).to.not.equal(pid);
      await consumer.ack(got[0]!);
      // Heard again through the new connection.
      const next = consumer.fetch(1, 5000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const sentAt = Date.now();
      await producer.enqueue(message([10]));
      const again = await next;
      expect(argsOf(broker, again)).to.deep.equal([10]);
      expect(Date.now() - sentAt).to.be.below(500);
      await consumer.ack(again[0]!);
    });

    it("wakes consumers on an enqueueOnce (claim and messages in one statement)", async () => {
      const broker = newBroker();
      const producer = newBroker();
      const consumer = broker.consume(QUEUE, { prefetch: 1 });
      expect(await consumer.fetch(1, 50)).to.deep.equal([]);
      const waiting = consumer.fetch(1, 5000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await producer.enqueueOnce({ key: "once-1", ttl: 60_000 }, [message([5])])).to.equal(true);
      expect(await producer.enqueueOnce({ key: "once-1", ttl: 60_000 }, [message([6])])).to.equal(false);
      const got = await waiting;
      expect(argsOf(broker, got)).to.deep.equal([5]);
      expect(await producer.store.get("once-1")).to.equal("1");
      await consumer.ack(got[0]!);
      expect((await broker.depths(QUEUE)).ready).to.equal(0);
    });
  });

  describe("raw bodies", () => {
    it("writes raw bodies batched into one statement even when one holds a lone surrogate (stored as U+FFFD)", async () => {
      const broker = newBroker();
      const good = broker.encode(message([1]));
      // Same tick: one multi-row statement.
      await Promise.all([broker.enqueueRaw(QUEUE, good), broker.enqueueRaw(QUEUE, "not json \udc00 at all")]);
      const rows = await adminQuery<{ body: string }>(`SELECT body FROM "${schema}".messages ORDER BY id`);
      expect(rows.map((r) => r.body)).to.deep.equal([good, "not json \ufffd at all"]);
    });
  });

  describe("dead letters", () => {
    it("keeps the reason and the traceback of a nacked message, and drops dead letters past the TTL", async () => {
      const broker = newBroker({ deadMessageTtl: 60_000 });
      await broker.enqueue(message([1]));
      const consumer = broker.consume(QUEUE, { prefetch: 1 });
      const [d] = await consumer.fetch(1, 1000);
      await consumer.nack(d!, "Boom: it failed", new Error("it failed"));
      const rows = await adminQuery<{ reason: string; traceback: string }>(`SELECT reason, traceback FROM "${schema}".dead`);
      expect(rows).to.have.length(1);
      expect(rows[0]!.reason).to.equal("Boom: it failed");
      expect(rows[0]!.traceback).to.include("Error: it failed");
      await adminQuery(`UPDATE "${schema}".dead SET dead_at = dead_at - 120000`);
      expect(await broker.deadLetters(QUEUE)).to.deep.equal([]);
      expect((await broker.depths(QUEUE)).dead).to.equal(0);
    });

    it("dead-letters a message whose error message holds a NUL character (which text cannot store), the NUL replaced", async () => {
      const broker = newBroker();
      await broker.enqueue(message([1]));
      const consumer = broker.consume(QUEUE, { prefetch: 1 });
      const [d] = await consumer.fetch(1, 1000);
      await consumer.nack(d!, "Boom: a\u0000b", new Error("a\u0000b"));
      const rows = await adminQuery<{ reason: string; traceback: string }>(`SELECT reason, traceback FROM "${schema}".dead`);
      expect(rows.map((r) => r.reason)).to.deep.equal(["Boom: a\ufffdb"]);
      expect(rows[0]!.traceback).to.include("Error: a\ufffdb");
      expect((await broker.depths(QUEUE)).inFlight).to.equal(0);
    });
  });
});
