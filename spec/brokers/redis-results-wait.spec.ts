// Blocking result() calls on Redis: each holds a connection while it waits, up to
// maxBlockingConnections; past that, readers take turns and still see their results.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { RedisResultBackend } from "../../brokers/redis/result-backend.ts";
import { InvalidOptions } from "../../lib/errors.ts";
import { Message } from "../../lib/message.ts";
import { redisClient, redisUrl } from "../helpers/redis.ts";

/** The backend's blocking connections as Redis lists them (CLIENT LIST, by their name). */
async function blockingConnections(admin: Redis, namespace: string): Promise<number> {
  const list = (await admin.call("CLIENT", "LIST")) as string;
  return list.split("\n").filter((line) => line.includes(` name=dramats-results-wait:${namespace} `)).length;
}

describe("RedisResultBackend blocking reads", function () {
  this.timeout(30_000);
  let admin: Redis;
  let namespace: string;
  let backend: RedisResultBackend | undefined;
  let keys: string[] = [];

  beforeEach(async () => {
    admin = await redisClient();
    namespace = `dramats-results-wait-${randomUUID().slice(0, 8)}`;
  });

  afterEach(async () => {
    await backend?.close();
    backend = undefined;
    if (keys.length > 0) await admin.unlink(...keys);
    keys = [];
    admin.disconnect();
  });

  it("refuses a maxBlockingConnections that is not a positive integer", () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => new RedisResultBackend({ namespace: "x", maxBlockingConnections: bad }), String(bad)).to.throw(InvalidOptions, /maxBlockingConnections/);
    }
  });

  it("serves 60 readers waiting at once with at most 4 connections, each seeing its result", async () => {
    const results = new RedisResultBackend({ url: await redisUrl(), namespace, maxBlockingConnections: 4 });
    backend = results;
    const messages = Array.from({ length: 60 }, (_, i) => new Message({ queueName: "q", actorName: "a", args: [i] }));
    keys = messages.map((message) => results.keyFor(message));
    const waits = messages.map((message) => results.getResult<number>(message, { block: true, timeout: 20_000 }));
    // Every reader is waiting before any result is stored.
    await new Promise((resolve) => setTimeout(resolve, 300));
    let most = 0;
    const watch = setInterval(() => void blockingConnections(admin, namespace).then((n) => (most = Math.max(most, n))), 20);
    try {
      const started = Date.now();
      for (const [i, message] of messages.entries()) await results.storeResult(message, i * 10, 60_000);
      expect(await Promise.all(waits)).to.deep.equal(messages.map((_, i) => i * 10));
      // 60 readers on 4 connections in 250 ms slices: within about 60 / 4 × 250 ms = 3.75 s.
      expect(Date.now() - started).to.be.below(10_000);
      most = Math.max(most, await blockingConnections(admin, namespace));
    } finally {
      clearInterval(watch);
    }
    expect(most).to.be.within(1, 4);
  });
});
