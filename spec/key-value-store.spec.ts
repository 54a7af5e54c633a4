// KeyValueStore.delete on every store: the memory one, Redis (within its namespace), SQLite, PostgreSQL, and
// the stores a StoreUrl opens (redis:// and sqlite://).
import { expect } from "chai";
import { RedisBroker } from "../brokers/redis/index.ts";
import { SqliteBroker } from "../brokers/sqlite/index.ts";
import { PostgresBroker } from "../brokers/postgres/index.ts";
import { dropSchema, postgresUrl, uniqueSchema } from "./helpers/postgres.ts";
import { MemoryKeyValueStore, type KeyValueStore } from "../lib/index.ts";
import { StoreUrl } from "../middleware/store-url.ts";
import { tempDatabase } from "./fixtures/sqlite-files.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "./helpers/redis.ts";

const stores: Record<string, () => Promise<{ store: KeyValueStore; close(): Promise<void> }>> = {
  memory: async () => ({ store: new MemoryKeyValueStore(), close: async () => undefined }),
  Redis: async () => {
    const namespace = uniqueNamespace("kv-delete");
    const broker = new RedisBroker({ url: await redisUrl(), namespace, middleware: [] });
    return { store: broker.store, close: async () => (await broker.close(), void (await deleteNamespace(namespace))) };
  },
  SQLite: async () => {
    const db = tempDatabase();
    const broker = new SqliteBroker({ path: db.path, middleware: [] });
    return { store: broker.store, close: async () => (await broker.close(), db.cleanup()) };
  },
  PostgreSQL: async () => {
    const schema = uniqueSchema("kv");
    const broker = new PostgresBroker({ url: postgresUrl(), schema, middleware: [], poolSize: 2 });
    return { store: broker.store, close: async () => (await broker.close(), await dropSchema(schema)) };
  },
  "StoreUrl redis://": async () => {
    const namespace = uniqueNamespace("kv-delete-url");
    const url = new URL(await redisUrl());
    url.searchParams.set("namespace", namespace);
    const storeUrl = new StoreUrl(url.toString());
    return { store: await storeUrl.open(), close: async () => (await storeUrl.close(), void (await deleteNamespace(namespace))) };
  },
  "StoreUrl sqlite://": async () => {
    const db = tempDatabase();
    const storeUrl = new StoreUrl(`sqlite://${db.path}`);
    return { store: await storeUrl.open(), close: async () => (await storeUrl.close(), db.cleanup()) };
  },
};

for (const [name, open] of Object.entries(stores)) {
  describe(`KeyValueStore.delete: ${name}`, () => {
    it("removes a key, leaves the others, and is no error for a missing or expired key", async () => {
      const { store, close } = await open();
      try {
        await store.set("spec:a", "1", 60_000);
        await store.set("spec:b", "2", 60_000);
        await store.set("spec:short", "3", 1);
        await store.delete("spec:a");
        expect(await store.get("spec:a")).to.equal(undefined);
        expect(await store.get("spec:b")).to.equal("2");
        await store.delete("spec:a");
        await store.delete("spec:never");
        await new Promise((resolve) => setTimeout(resolve, 5));
        await store.delete("spec:short");
        // A deleted key can be claimed again at once.
        expect(await store.setIfAbsent("spec:a", "again", 60_000)).to.equal(true);
        expect(await store.get("spec:a")).to.equal("again");
      } finally {
        await close();
      }
    });
  });
}

describe("KeyValueStore.delete: Redis namespaces", () => {
  it("deletes the key of its own namespace only", async () => {
    const url = await redisUrl();
    const [one, two] = [uniqueNamespace("kv-ns"), uniqueNamespace("kv-ns")];
    const a = new RedisBroker({ url, namespace: one, middleware: [] });
    const b = new RedisBroker({ url, namespace: two, middleware: [] });
    const admin = await redisClient();
    try {
      await a.store.set("shared", "a", 60_000);
      await b.store.set("shared", "b", 60_000);
      expect(await admin.get(`${one}:__kv__:shared`)).to.equal("a");
      await a.store.delete("shared");
      expect(await admin.exists(`${one}:__kv__:shared`)).to.equal(0);
      expect(await b.store.get("shared")).to.equal("b");
    } finally {
      admin.disconnect();
      await a.close();
      await b.close();
      await deleteNamespace(one);
      await deleteNamespace(two);
    }
  });
});
