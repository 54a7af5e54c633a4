// The worker registry on each broker with a store (real Redis, a real SQLite file, a PostgreSQL schema, the stub):
// records written, listed latest beat first, expired, removed; corrupt or foreign records
// skipped; and the publisher's writes never wait for a slow store.
import { expect } from "chai";
import Database from "better-sqlite3";
import { Redis } from "ioredis";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisBroker } from "../brokers/redis/index.ts";
import { SqliteBroker } from "../brokers/sqlite/index.ts";
import { PostgresBroker } from "../brokers/postgres/index.ts";
import { adminQuery, dropSchema, postgresUrl, uniqueSchema } from "./helpers/postgres.ts";
import { StubBroker } from "../brokers/stub.ts";
import { publisherFor, RegistryPublisher } from "../lib/cli/registry-publisher.ts";
import { unservedQueues } from "../lib/cli/commands/health.ts";
import type { Broker } from "../lib/broker.ts";
import { Worker } from "../lib/worker.ts";
import { actor } from "../lib/index.ts";
import { parseWorkerRecord, workerStatus, type WorkerRecord, type WorkerRegistry } from "../lib/worker-registry.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "./helpers/redis.ts";

function record(id: string, overrides: Partial<WorkerRecord> = {}): WorkerRecord {
  const now = Date.now();
  return {
    version: 1, id, host: "h", pid: 42, supervisorPid: 41, dramatsVersion: "0.1.0", nodeVersion: process.version, queues: ["q"],
    concurrency: 8, startedAt: now - 1000, lastBeat: now, interval: 1000, ttl: 12_000, state: "running", rss: 1 << 26, cpu: 1.5,
    eventLoopLag: 0.4, counters: { processed: 3, failed: 1, retried: 1 }, running: [{ id: "m1", actor: "a", queue: "q", startedAt: now - 10 }],
    runningCount: 1, ...overrides,
  };
}

interface Backend {
  registry: WorkerRegistry;
  /** Stores `text` under `id` as if a foreign or broken writer had. */
  writeRaw(id: string, text: string): Promise<void>;
}

const backends: Record<string, { open(): Promise<Backend>; close(): Promise<void> }> = (() => {
  let redis: { broker: RedisBroker; client: Redis; ns: string } | undefined;
  let sqlite: { broker: SqliteBroker; dir: string } | undefined;
  let postgres: { broker: PostgresBroker; schema: string } | undefined;
  return {
    stub: {
      async open() {
        const registry = new StubBroker({ middleware: [] }).workerRegistry;
        return { registry, writeRaw: async (id, text) => registry.writeText(id, text, 10_000) };
      },
      async close() {},
    },
    redis: {
      async open() {
        const url = await redisUrl();
        const ns = uniqueNamespace("dramats-registry");
        const client = new Redis(url);
        client.on("error", () => {});
        redis = { broker: new RedisBroker({ url, namespace: ns, middleware: [] }), client, ns };
        const registry = redis.broker.workerRegistry;
        return {
          registry,
          async writeRaw(id, text) {
            await client.multi().set(registry.recordKey(id), text, "PX", 10_000).zadd(registry.index, Date.now(), id).exec();
          },
        };
      },
      async close() {
        await redis!.broker.close();
        await deleteNamespace(redis!.ns);
        await redis!.client.quit();
      },
    },
    sqlite: {
      async open() {
        const dir = mkdtempSync(join(tmpdir(), "dramats-registry-"));
        const path = join(dir, "db.sqlite");
        sqlite = { broker: new SqliteBroker({ path, middleware: [] }), dir };
        const registry = sqlite.broker.workerRegistry;
        await registry.list(); // creates the table
        return {
          registry,
          async writeRaw(id, text) {
            const db = new Database(path);
            db.prepare("INSERT INTO dramats_workers (id, beat_at, expires_at, record) VALUES (?, ?, ?, ?)").run(id, Date.now(), Date.now() + 10_000, text);
            db.close();
          },
        };
      },
      async close() {
        await sqlite!.broker.close();
        rmSync(sqlite!.dir, { recursive: true, force: true });
      },
    },
    postgres: {
      async open() {
        const schema = uniqueSchema("registry");
        postgres = { broker: new PostgresBroker({ url: postgresUrl(), schema, middleware: [], poolSize: 2 }), schema };
        const registry = postgres.broker.workerRegistry;
        await registry.list(); // creates the schema
        return {
          registry,
          async writeRaw(id, text) {
            await adminQuery(`INSERT INTO "${schema}".workers (id, beat_at, expires_at, record) VALUES ($1, $2, $3, $4)`, [id, Date.now(), Date.now() + 10_000, text]);
          },
        };
      },
      async close() {
        await postgres!.broker.close();
        await dropSchema(postgres!.schema);
      },
    },
  };
})();

for (const [name, backend] of Object.entries(backends)) {
  describe(`the worker registry on ${name}`, function () {
    this.timeout(10_000);
    let b: Backend;
    beforeEach(async () => {
      b = await backend.open();
    });
    afterEach(() => backend.close());

    it("lists what was written, latest beat first, one record per worker id", async () => {
      await b.registry.write(record("w1", { lastBeat: Date.now() - 500 }), 10_000);
      await b.registry.write(record("w2"), 10_000);
      await b.registry.write(record("w1", { lastBeat: Date.now() - 400, counters: { processed: 9, failed: 0, retried: 0 } }), 10_000);
      const listed = await b.registry.list();
      expect(listed.map((r) => r.id)).to.deep.equal(["w2", "w1"]);
      expect(listed[1]!.counters.processed).to.equal(9);
      expect(listed[0]).to.deep.equal(record("w2", { lastBeat: listed[0]!.lastBeat, startedAt: listed[0]!.startedAt, running: listed[0]!.running }));
    });

    it("forgets a record once its TTL passed, and a removed one at once", async () => {
      await b.registry.write(record("short"), 150);
      await b.registry.write(record("kept"), 10_000);
      await b.registry.write(record("gone"), 10_000);
      await b.registry.remove("gone");
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await b.registry.list()).map((r) => r.id)).to.deep.equal(["kept"]);
    });

    it("skips corrupt and foreign records and lists the rest", async () => {
      await b.registry.write(record("good"), 10_000);
      await b.writeRaw("garbage", "{not json");
      await b.writeRaw("foreign", JSON.stringify({ id: "foreign", version: 7 }));
      await b.writeRaw("mistyped", JSON.stringify({ ...record("mistyped"), pid: "forty-two" }));
      expect((await b.registry.list()).map((r) => r.id)).to.deep.equal(["good"]);
    });
  });
}

describe("worker records", () => {
  it("are live, stopping, stopped, or dead after 3 periods without a beat", () => {
    const now = Date.now();
    expect(workerStatus(record("a", { lastBeat: now - 2_900 }), now)).to.equal("live");
    expect(workerStatus(record("a", { lastBeat: now - 3_100 }), now)).to.equal("dead");
    expect(workerStatus(record("a", { state: "stopping" }), now)).to.equal("stopping");
    expect(workerStatus(record("a", { state: "stopped" }), now)).to.equal("stopped");
  });

  it("parse back as written, and anything else as undefined, whatever the input", () => {
    const written = record("x");
    expect(parseWorkerRecord(JSON.stringify(written))).to.deep.equal(written);
    for (const text of ["", "null", "[]", "42", '"x"', "{}", JSON.stringify({ ...record("x"), counters: null }), JSON.stringify({ ...record("x"), state: "odd" })]) {
      expect(parseWorkerRecord(text), text).to.equal(undefined);
    }
    const odd = parseWorkerRecord(JSON.stringify({ ...record("x"), running: [{ id: 1 }, null, { id: "m", actor: "a", queue: "q", startedAt: 1 }] }));
    expect(odd!.running).to.deep.equal([{ id: "m", actor: "a", queue: "q", startedAt: 1 }]);
  });

  it("tell health which queues no live worker serves within the max age", () => {
    const now = Date.now();
    const records = [record("a", { queues: ["q1"], lastBeat: now - 500 }), record("b", { queues: ["q2"], lastBeat: now - 20_000, interval: 10_000 }), record("c", { queues: ["q3"], state: "stopped" })];
    const reasons = unservedQueues(records, [], 5_000, now);
    expect([...reasons.keys()]).to.deep.equal(["q2", "q3"]);
    expect(reasons.get("q3")).to.match(/is stopped/);
    expect([...unservedQueues(records, ["q1", "q9"], 5_000, now).keys()]).to.deep.equal(["q9"]);
  });
});

describe("the registry publisher", function () {
  this.timeout(10_000);
  let broker: Broker;
  afterEach(() => broker.close());

  it("never waits for a store that does not answer: one write pending, messages keep running", async () => {
    let writes = 0;
    const hung: WorkerRegistry = { write: () => (writes++, new Promise(() => {})), list: async () => [], remove: async () => {} };
    broker = new StubBroker({ middleware: [] });
    const publisher = new RegistryPublisher({ registry: async () => hung, interval: 20, dramatsVersion: "t", supervisorPid: null });
    broker.addMiddleware(publisher);
    let ran = 0;
    const bump = actor(async function bump() {
      ran++;
    }, { queueName: "registry-hung", broker });
    const worker = new Worker(broker, { queues: ["registry-hung"] });
    await worker.start();
    for (let i = 0; i < 50; i++) await bump.send();
    await broker.join("registry-hung");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(ran).to.equal(50);
    expect(writes).to.equal(1);
    const started = Date.now();
    await worker.stop({ timeout: 1_000 });
    expect(Date.now() - started).to.be.lessThan(3_000);
  });

  it("retries a failed write the next period, and writes the newest record once a slow write ends", async () => {
    const attempts: WorkerRecord[] = [];
    let calls = 0;
    const flaky: WorkerRegistry = {
      write: async (r) => {
        calls++;
        if (calls <= 2) throw new Error("store down");
        if (calls === 3) await new Promise((resolve) => setTimeout(resolve, 300));
        attempts.push(r);
      },
      list: async () => [],
      remove: async () => {},
    };
    broker = new StubBroker({ middleware: [] });
    const publisher = new RegistryPublisher({ registry: async () => flaky, interval: 20, dramatsVersion: "t", supervisorPid: null });
    broker.addMiddleware(publisher);
    const worker = new Worker(broker, { queues: ["registry-flaky"] });
    broker.declareQueue("registry-flaky");
    await worker.start();
    await new Promise((resolve) => setTimeout(resolve, 600));
    const slowOne = attempts[0]!;
    const next = attempts[1]!;
    // While the slow write ran (300 ms, 15 periods), one record waited: the newest, written next.
    expect(next.lastBeat - slowOne.lastBeat).to.be.greaterThan(200);
    expect(calls).to.be.greaterThan(4);
    await worker.stop();
  });

  it("lists at most 100 running messages, with the count of all", async () => {
    broker = new StubBroker({ middleware: [] });
    const publisher = new RegistryPublisher({ registry: async () => undefined, interval: 10_000, dramatsVersion: "t", supervisorPid: null });
    publisher.afterWorkerBoot(broker, { queues: ["q"], concurrency: 200, processed: 0 } as unknown as Worker);
    for (let i = 0; i < 150; i++) publisher.beforeProcessMessage(broker, { messageId: `m${i}`, actorName: "a", queueName: "q", startedAt: 1 } as never);
    const now = publisher.record()!;
    expect(now.running).to.have.length(100);
    expect(now.runningCount).to.equal(150);
    await publisher.close();
  });

  it("is not added with --registry-interval 0, nor on a broker without a registry and no --store", () => {
    broker = new StubBroker({ middleware: [] });
    expect(publisherFor(broker, { store: undefined, registryInterval: 0 }, null)).to.equal(undefined);
    expect(publisherFor(broker, { store: undefined, registryInterval: 1000 }, null)).to.be.instanceOf(RegistryPublisher);
    expect(publisherFor({ constructor: { name: "X" } } as unknown as Broker, { store: undefined, registryInterval: 1000 }, null)).to.equal(undefined);
  });

  it("counts failed and retried runs and lists running messages", async () => {
    const written: WorkerRecord[] = [];
    const registry: WorkerRegistry = { write: async (r) => void written.push(r), list: async () => [], remove: async () => {} };
    broker = new StubBroker();
    const publisher = new RegistryPublisher({ registry: async () => registry, interval: 10_000, dramatsVersion: "t", supervisorPid: null });
    broker.addMiddleware(publisher, { before: broker.middleware[0]!.constructor as new () => never });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const hold = actor(async function hold() {
      await gate;
    }, { queueName: "registry-count", broker });
    const flop = actor(function flop() {
      throw new Error("flop");
    }, { queueName: "registry-count", broker, maxRetries: 1, minBackoff: 10, maxBackoff: 20 });
    const worker = new Worker(broker, { queues: ["registry-count"] });
    await worker.start();
    const held = await hold.send();
    await flop.send();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = publisher.record()!;
    expect(now.running.map((m) => m.id)).to.deep.equal([held.messageId]);
    expect(now.counters).to.include({ failed: 2, retried: 1 });
    release();
    await broker.join("registry-count", { failFast: false });
    await worker.stop();
    expect(written.map((r) => r.state).slice(-2)).to.deep.equal(["stopping", "stopped"]);
    expect(written.at(-1)!.running).to.deep.equal([]);
  });
});
