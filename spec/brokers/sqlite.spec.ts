import Database from "better-sqlite3";
import { expect } from "chai";
import { join } from "node:path";
import { pathFromUrl, SqliteBroker, type SqliteBrokerOptions, type SqliteConsumer } from "../../brokers/sqlite/index.ts";
import { actor, BrokerError, ConnectionClosed, ConnectionError, ConnectionFailed, InvalidOptions, JsonEncoder, Message, MessageTooLarge, Worker, type Delivery } from "../../lib/index.ts";
import { tempDatabase, waitFor } from "../fixtures/sqlite-files.ts";
import { abandonConsumer } from "../../brokers/sqlite/testing.ts";

const QUEUE = "sq";

describe("SqliteBroker", function () {
  this.timeout(10_000);
  let db: ReturnType<typeof tempDatabase>;
  const open: SqliteBroker[] = [];

  const newBroker = (options: SqliteBrokerOptions = {}) => {
    const broker = new SqliteBroker({ path: db.path, middleware: [], ...options });
    broker.declareQueue(QUEUE);
    open.push(broker);
    return broker;
  };
  const message = (args: unknown[] = [], options: Record<string, unknown> = {}) =>
    new Message({ queueName: QUEUE, actorName: "sq_noop", args, options });
  const argsOf = (broker: SqliteBroker, deliveries: Delivery[]) => deliveries.map((d) => broker.decode(d.body).args[0]);
  const raw = () => new Database(db.path, { readonly: true });

  beforeEach(() => {
    db = tempDatabase();
  });

  afterEach(async () => {
    for (const broker of open.splice(0)) await broker.close();
    db.cleanup();
  });

  describe("options", () => {
    it("reads the file from a sqlite:// URL", () => {
      expect(pathFromUrl("sqlite://./dramats.sqlite")).to.equal("./dramats.sqlite");
      expect(pathFromUrl("sqlite:///var/lib/app/jobs.sqlite")).to.equal("/var/lib/app/jobs.sqlite");
      expect(pathFromUrl("sqlite://data/my%20jobs.sqlite")).to.equal("data/my jobs.sqlite");
      const broker = new SqliteBroker({ url: `sqlite://${db.path}`, middleware: [] });
      open.push(broker);
      expect(broker.settings.path).to.equal(db.path);
    });

    it("refuses URLs of other schemes, empty paths and in-memory databases", () => {
      expect(() => pathFromUrl("redis://localhost")).to.throw(InvalidOptions, /sqlite:\/\//);
      expect(() => pathFromUrl("sqlite://")).to.throw(InvalidOptions, /names no file/);
      expect(() => pathFromUrl("sqlite://x.db?mode=ro")).to.throw(InvalidOptions);
      expect(() => new SqliteBroker({ url: "sqlite://:memory:" })).to.throw(InvalidOptions, /memory:\/\//);
      expect(() => new SqliteBroker({ path: ":memory:" })).to.throw(InvalidOptions);
    });

    it("takes the lease from the URL's lease_time (ms) unless the option gives one, renewing three times per lease", () => {
      const broker = new SqliteBroker({ url: `sqlite://${db.path}?lease_time=6000`, middleware: [] });
      open.push(broker);
      expect(broker.settings).to.include({ path: db.path, leaseTime: 6_000, leaseRenewInterval: 2_000 });
      const chosen = new SqliteBroker({ url: `sqlite://${db.path}?lease_time=6000`, leaseTime: 9_000, middleware: [] });
      open.push(chosen);
      expect(chosen.settings.leaseTime).to.equal(9_000);
      expect(pathFromUrl("sqlite://dir/what%3F.sqlite?lease_time=5000")).to.equal("dir/what?.sqlite");
    });

    it("refuses a lease_time that is not a whole number of ms of at least 1000, and other URL parameters", () => {
      for (const bad of ["0", "-5", "abc", "", "1.5", "30", "NaN"]) {
        expect(() => new SqliteBroker({ url: `sqlite://${db.path}?lease_time=${bad}` }), bad).to.throw(InvalidOptions, /lease_time must be a whole number of milliseconds, at least 1000/);
      }
      expect(() => new SqliteBroker({ url: `sqlite://${db.path}?lease=5000` })).to.throw(InvalidOptions, /may name a file and lease_time only/);
      expect(() => new SqliteBroker({ url: `sqlite://${db.path}?lease_time=3000`, leaseRenewInterval: 2_000 })).to.throw(RangeError, /at most half of leaseTime/);
    });

    it("validates its numbers", () => {
      expect(() => new SqliteBroker({ path: db.path, leaseTime: 0 })).to.throw(RangeError, /leaseTime/);
      expect(() => new SqliteBroker({ path: db.path, leaseTime: 100, leaseRenewInterval: 100 })).to.throw(RangeError, /leaseRenewInterval/);
      expect(() => new SqliteBroker({ path: db.path, minPollInterval: 50, maxPollInterval: 10 })).to.throw(RangeError, /maxPollInterval/);
    });

    it("fails with ConnectionFailed when the file cannot be opened", () => {
      expect(() => new SqliteBroker({ path: join(db.dir, "missing", "x.sqlite") })).to.throw(ConnectionFailed, /Could not open/);
    });

    it("refuses a file written by a newer schema rather than misreading it", () => {
      const file = new Database(db.path);
      file.pragma("user_version = 99");
      file.close();
      expect(() => new SqliteBroker({ path: db.path })).to.throw(BrokerError, /schema version 99/);
    });
  });

  it("keeps the file in WAL mode, so readers never wait for the writer", async () => {
    const broker = newBroker();
    await broker.enqueue(message([1]));
    const file = raw();
    expect(file.pragma("journal_mode", { simple: true })).to.equal("wal");
    expect(file.prepare("SELECT count(*) FROM dramats_messages").pluck().get()).to.equal(1);
    file.close();
  });

  it("lets a worker on one connection run what another connection enqueued", async () => {
    const app = newBroker();
    const workerSide = newBroker();
    const seen: number[] = [];
    actor(function sq_record(n: number) { seen.push(n); }, { broker: workerSide, queueName: QUEUE });
    const send = actor(function sq_record(_n: number) {}, { broker: app, queueName: QUEUE });
    const worker = new Worker(workerSide, { concurrency: 4, fetchTimeout: 200 });
    await worker.start();
    for (let i = 0; i < 30; i++) await send.send(i);
    await app.join(QUEUE, { timeout: 5_000 });
    await worker.stop();
    expect(seen.sort((a, b) => a - b)).to.deep.equal([...Array(30).keys()]);
  });

  it("refuses a raw body over the encoder's size limit at enqueue, so no worker ever reads it; stores other undecodable bodies", async () => {
    const broker = newBroker({ encoder: new JsonEncoder({ maxSize: 64 * 1024 }) });
    const huge = JSON.stringify({ ...message(["x".repeat(200_000)]).asData() });
    let error: unknown;
    await broker.enqueueRaw(QUEUE, huge).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(MessageTooLarge);
    await broker.enqueueRaw(QUEUE, "{not json");
    expect(await broker.depths(QUEUE)).to.include({ ready: 1 });
  });

  it("orders ready messages by priority, then eta, then enqueue order", async () => {
    const broker = newBroker();
    await broker.enqueue(message(["a"], { priority: 1 }));
    await broker.enqueue(message(["b"], { priority: 0 }), { delay: 60 });
    await broker.enqueue(message(["c"], { priority: 0 }));
    await broker.enqueue(message(["d"], { priority: 1 }));
    await new Promise((r) => setTimeout(r, 100));
    const consumer = broker.consume(QUEUE, { prefetch: 10 });
    expect(argsOf(broker, await consumer.fetch(10, 100))).to.deep.equal(["c", "b", "a", "d"]);
    await consumer.close();
  });

  describe("leases", () => {
    it("keeps a message held by a live consumer invisible past the lease time, renewing it", async () => {
      const broker = newBroker({ leaseTime: 150 });
      await broker.enqueue(message(["long"]));
      const holder = broker.consume(QUEUE, { prefetch: 1 });
      const [held] = await holder.fetch(1, 1_000);
      const other = broker.consume(QUEUE, { prefetch: 1 });
      // Four lease times: without renewals the message would have come back long ago.
      expect(await other.fetch(1, 600)).to.have.length(0);
      expect(await broker.depths(QUEUE)).to.deep.include({ ready: 0, inFlight: 1 });
      await holder.ack(held!);
      expect(await broker.depths(QUEUE)).to.deep.include({ ready: 0, inFlight: 0 });
      await other.close();
      await holder.close();
    });

    it("redelivers a dead consumer's messages once their lease expires, marked redelivered", async () => {
      const broker = newBroker({ leaseTime: 200 });
      await broker.enqueue(message(["x"]));
      const doomed = broker.consume(QUEUE, { prefetch: 1 }) as SqliteConsumer;
      const [first] = await doomed.fetch(1, 1_000);
      expect(first!.redelivered).to.equal(false);
      const abandonedAt = Date.now();
      abandonConsumer(doomed);
      const survivor = broker.consume(QUEUE, { prefetch: 1 });
      const [again] = await survivor.fetch(1, 3_000);
      expect(Date.now() - abandonedAt).to.be.at.least(150);
      expect(argsOf(broker, [again!])).to.deep.equal(["x"]);
      expect(again!.redelivered).to.equal(true);
      await survivor.ack(again!);
      await survivor.close();
    });

    it("gives requeued messages back unmarked and a closed consumer's messages marked redelivered", async () => {
      const broker = newBroker();
      await broker.enqueue(message(["r"]));
      const consumer = broker.consume(QUEUE, { prefetch: 1 });
      await consumer.requeue(await consumer.fetch(1, 1_000));
      const [again] = await consumer.fetch(1, 1_000);
      expect(again!.redelivered).to.equal(false);
      await consumer.close();
      const next = broker.consume(QUEUE, { prefetch: 1 });
      const [third] = await next.fetch(1, 1_000);
      expect(third!.redelivered).to.equal(true);
      await next.close();
    });

    it("runs a long actor once although it outlives the lease many times over", async () => {
      const broker = newBroker({ leaseTime: 100 });
      let runs = 0;
      const slow = actor(async function sq_slow() {
        runs++;
        await new Promise((r) => setTimeout(r, 600));
      }, { broker, queueName: QUEUE });
      const workers = [new Worker(broker, { concurrency: 2, fetchTimeout: 50 }), new Worker(broker, { concurrency: 2, fetchTimeout: 50 })];
      for (const worker of workers) await worker.start();
      await slow.send();
      await broker.join(QUEUE, { timeout: 5_000 });
      for (const worker of workers) await worker.stop();
      expect(runs).to.equal(1);
    });
  });

  it("does not resurrect a flushed message through a late retry or ack", async () => {
    const broker = newBroker();
    await broker.enqueue(message(["old"]));
    const consumer = broker.consume(QUEUE, { prefetch: 1 });
    const [delivery] = await consumer.fetch(1, 1_000);
    await broker.flush(QUEUE);
    await broker.enqueue(message(["new"]));
    await consumer.retry(delivery!, broker.decode(delivery!.body), 0);
    await consumer.ack(delivery!);
    expect(await broker.depths(QUEUE)).to.deep.include({ ready: 1, delayed: 0, inFlight: 0 });
    expect(argsOf(broker, await consumer.fetch(5, 100))).to.deep.equal(["new"]);
    await consumer.close();
  });

  describe("while another connection holds the write lock", () => {
    let other: Database.Database;
    beforeEach(() => {
      other = new Database(db.path);
    });
    afterEach(() => {
      if (other.inTransaction) other.exec("ROLLBACK");
      other.close();
    });

    it("waits for it without blocking the event loop", async () => {
      const broker = newBroker();
      other.exec("BEGIN IMMEDIATE");
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 10);
      // This timer can only fire if the enqueue below leaves the event loop free while it waits.
      setTimeout(() => other.exec("COMMIT"), 200);
      const started = Date.now();
      await broker.enqueue(message(["after the lock"]));
      clearInterval(ticker);
      expect(Date.now() - started).to.be.at.least(150);
      expect(ticks).to.be.at.least(5);
      expect((await broker.depths(QUEUE)).ready).to.equal(1);
    });

    it("lets a fetch take its messages once the lock is released", async () => {
      const broker = newBroker();
      await broker.enqueue(message(["locked out"]));
      other.exec("BEGIN IMMEDIATE");
      setTimeout(() => other.exec("COMMIT"), 150);
      const consumer = broker.consume(QUEUE, { prefetch: 1 });
      expect(argsOf(broker, await consumer.fetch(1, 2_000))).to.deep.equal(["locked out"]);
      await consumer.close();
    });

    it("fails with ConnectionError once busyTimeout has passed", async () => {
      const broker = newBroker({ busyTimeout: 100 });
      other.exec("BEGIN IMMEDIATE");
      const error = await broker.enqueue(message()).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(ConnectionError);
      expect((error as Error).message).to.match(/SQLITE_BUSY.*busyTimeout = 100 ms/);
    });
  });

  describe("dead letters", () => {
    it("keeps them for the dead-message TTL, then deletes them", async () => {
      const broker = newBroker({ deadMessageTtl: 100 });
      await broker.enqueue(message());
      const consumer = broker.consume(QUEUE, { prefetch: 1 });
      await consumer.nack((await consumer.fetch(1, 1_000))[0]!, "Boom: gone");
      expect(await broker.deadLetters(QUEUE)).to.have.length(1);
      await new Promise((r) => setTimeout(r, 150));
      expect(await broker.deadLetters(QUEUE)).to.have.length(0);
      expect((await broker.depths(QUEUE)).dead).to.equal(0);
      newBroker({ deadMessageTtl: 100 }); // trims when it opens
      const file = raw();
      expect(file.prepare("SELECT count(*) FROM dramats_dead").pluck().get()).to.equal(0);
      file.close();
      await consumer.close();
    });

    it("gives raw bodies that do not decode an id of their own", async () => {
      const broker = newBroker();
      await broker.enqueueRaw(QUEUE, "not json");
      const consumer = broker.consume(QUEUE, { prefetch: 1 });
      await consumer.nack((await consumer.fetch(1, 1_000))[0]!, "DecodeError: bad");
      const [dead] = await broker.deadLetters(QUEUE);
      expect(dead!.id).to.match(/^raw-\d+$/);
      expect(dead!.body).to.equal("not json");
      await consumer.close();
    });

    it("fails a join fast on a dead letter made through another connection, with its reason", async () => {
      const app = newBroker();
      const workerSide = newBroker();
      const sent = await app.enqueue(message());
      const joined = app.join(QUEUE, { timeout: 5_000 }).then(() => undefined, (e: unknown) => e);
      const consumer = workerSide.consume(QUEUE, { prefetch: 1 });
      await consumer.nack((await consumer.fetch(1, 1_000))[0]!, "ValueError: nope");
      const error = await joined;
      expect(error).to.be.instanceOf(BrokerError);
      expect((error as Error).message).to.contain(sent.messageId).and.to.contain("ValueError: nope");
      await consumer.close();
    });
  });

  describe("key-value store", () => {
    it("lets exactly one of many racing claims win, across connections", async () => {
      const a = newBroker();
      const b = newBroker();
      const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).store.setIfAbsent("tick:1", `claimer-${i}`, 5_000)));
      expect(claims.filter(Boolean)).to.have.length(1);
      const winner = claims.indexOf(true);
      expect(await a.store.get("tick:1")).to.equal(`claimer-${winner}`);
      expect(await b.store.get("tick:1")).to.equal(`claimer-${winner}`);
    });

    it("expires entries, after which a claim succeeds again", async () => {
      const broker = newBroker();
      expect(await broker.store.setIfAbsent("k", "1", 50)).to.equal(true);
      expect(await broker.store.setIfAbsent("k", "2", 50)).to.equal(false);
      await new Promise((r) => setTimeout(r, 80));
      expect(await broker.store.get("k")).to.equal(undefined);
      expect(await broker.store.setIfAbsent("k", "3", 1_000)).to.equal(true);
      await broker.store.set("k", "4", 1_000);
      expect(await broker.store.get("k")).to.equal("4");
    });
  });

  it("refuses work once closed, with ConnectionClosed", async () => {
    const broker = newBroker();
    await broker.close();
    const error = await broker.enqueue(message()).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(ConnectionClosed);
    expect(() => broker.consume(QUEUE, { prefetch: 1 })).to.throw(ConnectionClosed);
    await broker.close(); // idempotent
  });

  it("gives back what open consumers hold when it closes", async () => {
    const broker = newBroker();
    await broker.enqueue(message(["held"]));
    const consumer = broker.consume(QUEUE, { prefetch: 1 });
    expect(await consumer.fetch(1, 1_000)).to.have.length(1);
    await broker.close();
    const other = newBroker();
    await waitFor(async () => (await other.depths(QUEUE)).ready === 1, 1_000, "the message to be ready again");
  });
});
