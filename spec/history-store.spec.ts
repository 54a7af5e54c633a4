// The history store on each broker with one (real Redis, a real SQLite file, a PostgreSQL schema, the stub): buckets
// written and read back by minute and worker, replaced, kept 25 h (Redis: the hash's TTL;
// SQLite, PostgreSQL: older rows deleted on write), corrupt ones skipped, pairs capped; readHistory
// merging two workers' buckets; and the store by URL for fleets on RabbitMQ.
import { expect } from "chai";
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisBroker } from "../brokers/redis/index.ts";
import { SqliteBroker } from "../brokers/sqlite/index.ts";
import { PostgresBroker } from "../brokers/postgres/index.ts";
import { adminQuery, dropSchema, postgresUrl, uniqueSchema } from "./helpers/postgres.ts";
import { StubBroker } from "../brokers/stub.ts";
import { readHistory } from "../lib/dashboard/history.ts";
import { bucketOf } from "../lib/duration-histogram.ts";
import { InvalidOptions } from "../lib/errors.ts";
import { HISTORY_STEP, HISTORY_TTL, historyStoreOf, MAX_PAIRS, MemoryHistoryStore, OTHER, type HistoryBucket, type HistoryStore } from "../lib/history-store.ts";
import { StoreUrl } from "../middleware/store-url.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "./helpers/redis.ts";

const minuteOf = (t: number): number => t - (t % HISTORY_STEP);

function bucket(queue: string, actor: string, processed: number, runMs = 10): HistoryBucket {
  return { pairs: [{ queue, actor, processed, failed: 1, wait: [bucketOf(5), processed], run: [bucketOf(runMs), processed] }] };
}

interface Backend {
  store: HistoryStore;
  /** Stores `text` as if a foreign or broken writer had. */
  writeRaw(minute: number, worker: string, text: string): Promise<void>;
  /** Checks what the store did to keep 25 h only, after a write of an old minute then a current one. */
  expectPruned(oldMinute: number, currentMinute: number): Promise<void>;
}

const backends: Record<string, { open(): Promise<Backend>; close(): Promise<void> }> = (() => {
  let redis: { broker: RedisBroker; ns: string } | undefined;
  let sqlite: { broker: SqliteBroker; dir: string } | undefined;
  let postgres: { broker: PostgresBroker; schema: string } | undefined;
  let stub: StubBroker | undefined;
  return {
    stub: {
      async open() {
        const broker = (stub = new StubBroker({ middleware: [] }));
        const store = broker.historyStore;
        expect(historyStoreOf(broker)).to.equal(store);
        return {
          store,
          writeRaw: async (minute, worker, text) => store.writeText(minute, worker, text),
          async expectPruned(oldMinute) {
            expect(await store.read(oldMinute, oldMinute)).to.deep.equal([]);
          },
        };
      },
      async close() {
        await stub!.close();
      },
    },
    redis: {
      async open() {
        const ns = uniqueNamespace("dramats-history");
        redis = { broker: new RedisBroker({ url: await redisUrl(), namespace: ns, middleware: [] }), ns };
        const key = (minute: number): string => `${ns}:__dramats_history__:${minute}`;
        return {
          store: redis.broker.historyStore,
          async writeRaw(minute, worker, text) {
            await redis!.broker.client.hset(key(minute), worker, text);
          },
          async expectPruned(oldMinute, currentMinute) {
            const client = await redisClient();
            try {
              for (const minute of [oldMinute, currentMinute]) {
                const ttl = await client.pttl(key(minute));
                expect(ttl, `PTTL of ${minute}`).to.be.within(HISTORY_TTL - 60_000, HISTORY_TTL);
              }
            } finally {
              client.disconnect();
            }
          },
        };
      },
      async close() {
        await redis!.broker.close();
        await deleteNamespace(redis!.ns);
      },
    },
    sqlite: {
      async open() {
        const dir = mkdtempSync(join(tmpdir(), "dramats-history-"));
        const path = join(dir, "db.sqlite");
        sqlite = { broker: new SqliteBroker({ path, middleware: [] }), dir };
        const store = sqlite.broker.historyStore;
        await store.read(0, 0); // creates the table
        const rows = (minute: number): number => {
          const db = new Database(path);
          try {
            return (db.prepare("SELECT count(*) AS n FROM dramats_history WHERE minute = ?").get(minute) as { n: number }).n;
          } finally {
            db.close();
          }
        };
        return {
          store,
          async writeRaw(minute, worker, text) {
            const db = new Database(path);
            db.prepare("INSERT INTO dramats_history (minute, worker, bucket) VALUES (?, ?, ?)").run(minute, worker, text);
            db.close();
          },
          async expectPruned(oldMinute, currentMinute) {
            expect(rows(oldMinute), "the row past 25 h").to.equal(0);
            expect(rows(currentMinute)).to.equal(1);
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
        const schema = uniqueSchema("history");
        postgres = { broker: new PostgresBroker({ url: postgresUrl(), schema, middleware: [], poolSize: 2 }), schema };
        const store = postgres.broker.historyStore;
        expect(historyStoreOf(postgres.broker)).to.equal(store);
        await store.read(0, 0); // creates the schema
        const rows = async (minute: number) => Number((await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".history WHERE minute = $1`, [minute]))[0]!.n);
        return {
          store,
          async writeRaw(minute, worker, text) {
            await adminQuery(`INSERT INTO "${schema}".history (minute, worker, bucket) VALUES ($1, $2, $3)`, [minute, worker, text]);
          },
          async expectPruned(oldMinute, currentMinute) {
            expect(await rows(oldMinute), "the row past 25 h").to.equal(0);
            expect(await rows(currentMinute)).to.equal(1);
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
  describe(`the history store on ${name}`, function () {
    this.timeout(10_000);
    let b: Backend;
    const now = minuteOf(Date.now());
    beforeEach(async () => {
      b = await backend.open();
    });
    afterEach(() => backend.close());

    it("reads back each worker's minutes, oldest first, a rewrite replacing the worker's minute", async () => {
      await b.store.write(now - 2 * HISTORY_STEP, "w1", bucket("q", "a", 1));
      await b.store.write(now - HISTORY_STEP, "w1", bucket("q", "a", 2));
      await b.store.write(now - HISTORY_STEP, "w2", bucket("q", "b", 3));
      await b.store.write(now - HISTORY_STEP, "w1", bucket("q", "a", 5));
      await b.store.write(now + HISTORY_STEP, "w1", bucket("q", "a", 9)); // outside the range read
      const read = await b.store.read(now - 3 * HISTORY_STEP, now);
      expect(read.map((s) => [s.minute - now, s.workerId, s.bucket.pairs[0]!.processed]).sort()).to.deep.equal([
        [-2 * HISTORY_STEP, "w1", 1],
        [-HISTORY_STEP, "w1", 5],
        [-HISTORY_STEP, "w2", 3],
      ].sort());
      expect(read.map((s) => s.minute)).to.deep.equal([...read.map((s) => s.minute)].sort((x, y) => x - y));
      expect(read.find((s) => s.workerId === "w2")!.bucket).to.deep.equal(bucket("q", "b", 3));
    });

    it("keeps 25 h: the hash expires (Redis), older rows go on write (SQLite), older minutes are not read", async () => {
      const old = minuteOf(Date.now() - HISTORY_TTL - 5 * HISTORY_STEP);
      await b.store.write(old, "w1", bucket("q", "a", 1));
      await b.store.write(now, "w1", bucket("q", "a", 2));
      await b.expectPruned(old, now);
      expect((await b.store.read(old, old)).length, "a minute past 25 h").to.equal(0);
    });

    it("reads 1440 minutes at once, and refuses minutes that are not minute starts or a range past 25 h", async () => {
      const from = now - 1439 * HISTORY_STEP;
      await b.store.write(from, "w1", bucket("q", "a", 1));
      await b.store.write(now, "w1", bucket("q", "a", 2));
      expect((await b.store.read(from, now)).map((s) => s.minute)).to.deep.equal([from, now]);
      for (const [f, t] of [[now + 1, now], [now, now + 30_000], [now - 1500 * HISTORY_STEP, now]]) {
        await b.store.read(f!, t!).then(() => expect.fail(`${f}..${t}`), (e: unknown) => expect(e).to.be.instanceOf(InvalidOptions));
      }
      await b.store.write(now + 5, "w", bucket("q", "a", 1)).then(() => expect.fail("written"), (e: unknown) => expect(e).to.be.instanceOf(InvalidOptions));
    });

    it("skips corrupt and foreign buckets, and caps a bucket's pairs at 200", async () => {
      await b.store.write(now, "good", bucket("q", "a", 1));
      for (const [worker, text] of [["garbage", "{not json"], ["foreign", JSON.stringify({ v: 7, p: [] })], ["mistyped", JSON.stringify({ v: 1, p: [["q", "a", "1", 0, [], []]] })]]) {
        await b.writeRaw(now, worker!, text!);
      }
      expect((await b.store.read(now, now)).map((s) => s.workerId)).to.deep.equal(["good"]);
      const many: HistoryBucket = { pairs: Array.from({ length: 500 }, (_, i) => bucket("q", `a${i}`, i + 1).pairs[0]!) };
      await b.store.write(now, "many", many);
      const pairs = (await b.store.read(now, now)).find((s) => s.workerId === "many")!.bucket.pairs;
      expect(pairs).to.have.length(MAX_PAIRS);
      expect(pairs[0]!.actor, "the busiest kept").to.equal("a499");
      const other = pairs.find((p) => p.actor === OTHER)!;
      expect(other.processed).to.equal(((1 + 301) * 301) / 2); // a0..a300, the 301 least busy
      expect(pairs.reduce((n, p) => n + p.processed, 0)).to.equal((500 * 501) / 2);
    });

    it("serves readHistory merging two workers' minutes", async () => {
      const at = now + 10_000; // the last finished minute is now - 1 min
      await b.store.write(now - HISTORY_STEP, "w1", bucket("q1", "a", 30, 10));
      await b.store.write(now - HISTORY_STEP, "w2", bucket("q1", "a", 10, 1_000));
      await b.store.write(now - 3 * HISTORY_STEP, "w2", bucket("q2", "b", 4));
      const h = await readHistory(b.store, { minutes: 60, now: at });
      expect(h.points.at(-1)).to.deep.include({ t: now - HISTORY_STEP, processed: 40, failed: 2 });
      expect(h.points.at(-1)!.run.p50).to.be.within(6.5, 10);
      expect(h.points.at(-1)!.run.p99).to.be.within(584, 1_000 * 1.5);
      expect(h.points.at(-3)!.processed).to.equal(4);
      expect(h.queues).to.deep.equal(["q1", "q2"]);
      expect((await readHistory(b.store, { minutes: 60, queue: "q2", now: at })).points.reduce((n, p) => n + p.processed, 0)).to.equal(4);
    });
  });
}

describe("the history store by URL", function () {
  this.timeout(10_000);

  it("is the Redis store of the URL's namespace, for fleets whose broker has none", async () => {
    const ns = uniqueNamespace("dramats-history-url");
    const url = new URL(await redisUrl());
    url.searchParams.set("namespace", ns);
    const byUrl = new StoreUrl(url.href);
    const direct = new RedisBroker({ url: await redisUrl(), namespace: ns, middleware: [] });
    try {
      const minute = minuteOf(Date.now());
      await (await byUrl.openHistory()).write(minute, "w", bucket("q", "a", 7));
      expect((await direct.historyStore.read(minute, minute))[0]!.bucket.pairs[0]!.processed).to.equal(7);
    } finally {
      await byUrl.close();
      await direct.close();
      await deleteNamespace(ns);
    }
  });

  it("is not offered by a broker without a store", async () => {
    expect(historyStoreOf({} as never)).to.equal(undefined);
    const stub = new StubBroker({ middleware: [] });
    expect(historyStoreOf(stub)).to.be.instanceOf(MemoryHistoryStore);
    await stub.close();
  });
});
