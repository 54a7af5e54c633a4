// Group barriers of the rate-limiter backends, as GroupCallbacks relies on them: complete for
// every arrival from the last member's on until closed (so a redelivered member can recover a
// crash), each member counted once.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { RedisRateLimiterBackend } from "../brokers/redis/index.ts";
import { SqliteRateLimiterBackend } from "../brokers/sqlite/index.ts";
import { StubRateLimiterBackend, type RateLimiterBackend } from "../lib/index.ts";
import { tempDatabase } from "./fixtures/sqlite-files.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "./helpers/redis.ts";

const backends: Record<string, () => Promise<{ backend: RateLimiterBackend; cleanup(): Promise<void> }>> = {
  stub: async () => ({ backend: new StubRateLimiterBackend(), cleanup: async () => undefined }),
  Redis: async () => {
    const prefix = uniqueNamespace("barriers");
    const backend = new RedisRateLimiterBackend({ url: await redisUrl(), prefix, barrierPrefix: `${prefix}:` });
    return { backend, cleanup: async () => void (await deleteNamespace(prefix)) };
  },
  SQLite: async () => {
    const db = tempDatabase();
    return { backend: new SqliteRateLimiterBackend({ path: db.path }), cleanup: async () => db.cleanup() };
  },
};

for (const [name, open] of Object.entries(backends)) {
  describe(`group barriers (${name} backend)`, () => {
    let backend: RateLimiterBackend;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ backend, cleanup } = await open());
    });

    afterEach(async () => {
      await backend.close();
      await cleanup();
    });

    it("reports complete to the completing arrival and to later ones until closed, counting each member once", async () => {
      const id = randomUUID();
      expect(await backend.createBarrier(id, 2, 60_000)).to.equal(true);
      expect(await backend.arriveAtBarrier(id, "a")).to.equal(false);
      expect(await backend.arriveAtBarrier(id, "a"), "a member arriving twice counts once").to.equal(false);
      expect(await backend.arriveAtBarrier(id, "b")).to.equal(true);
      expect(await backend.arriveAtBarrier(id, "b"), "a redelivered member, before the barrier is closed").to.equal(true);
      await backend.closeBarrier(id);
      expect(await backend.arriveAtBarrier(id, "a")).to.equal(false);
      expect(await backend.arriveAtBarrier(id, "b")).to.equal(false);
    });

    it("does not create a barrier by closing one that does not exist", async () => {
      const id = randomUUID();
      await backend.closeBarrier(id);
      expect(await backend.createBarrier(id, 1, 60_000)).to.equal(true);
      expect(await backend.arriveAtBarrier(id, "a")).to.equal(true);
    });
  });
}
