// Redis' two layouts: Dramatiq's (the default: delays in ns:q.DQ, held by consumers until their
// eta; one list whatever the priority) and the fast path (?delays=zset&priorities=levels).
import { expect } from "chai";
import { DELAY_HOLD_LIMIT } from "../../brokers/redis/consumer.ts";
import { resolveRedisOptions } from "../../brokers/redis/options.ts";
import { redisBrokerFixture } from "../helpers/redis-broker-fixture.ts";

describe("RedisBroker layouts", function () {
  this.timeout(15_000);
  const redis = redisBrokerFixture("dramats-redis-layouts", { heartbeatInterval: 100, heartbeatTimeout: 500 });
  const newBroker = redis.broker;
  const message = redis.message;

  it("writes Dramatiq's layout by default; delays and priorities options, or the URL's ?delays= and ?priorities=, choose the fast path", () => {
    expect(resolveRedisOptions({ url: "redis://h" })).to.include({ delays: "dramatiq", priorities: "dramatiq" });
    expect(resolveRedisOptions({ url: "redis://h?delays=zset&priorities=levels" })).to.include({ delays: "zset", priorities: "levels" });
    expect(resolveRedisOptions({ url: "redis://h?delays=zset", delays: "dramatiq" })).to.include({ delays: "dramatiq", priorities: "dramatiq" });
    expect(resolveRedisOptions({ priorities: "levels" })).to.include({ delays: "dramatiq", priorities: "levels" });
    expect(() => resolveRedisOptions({ url: "redis://h?priorities=high" })).to.throw(TypeError, /options.priorities \(or the URL's \?priorities=\) must be "dramatiq" or "levels", got "high"/);
    expect(() => resolveRedisOptions({ delays: "later" as never })).to.throw(TypeError, /options.delays/);
  });

  describe("priorities", () => {
    it("serves negative priorities before Dramatiq's list and positive ones after it (priorities: levels)", async () => {
      const broker = newBroker({ priorities: "levels" });
      await broker.enqueue(message(["p5"], { priority: 5 }));
      await broker.enqueue(message(["p0-a"]));
      await broker.enqueue(message(["m3"], { priority: -3 }));
      await broker.enqueue(message(["p0-b"]));
      await broker.enqueue(message(["p1"], { priority: 1 }));
      // A message a Python producer pushes lands on the priority-0 list, in order.
      await redis.admin.hset(`${redis.namespace}:${redis.queue}.msgs`, "py", JSON.stringify(message(["py"]).asData()));
      await redis.admin.rpush(`${redis.namespace}:${redis.queue}`, "py");
      const consumer = broker.consume(redis.queue, { prefetch: 10 });
      const got = await consumer.fetch(10, 100);
      expect(got.map((d) => broker.decode(d.body).args[0])).to.deep.equal(["m3", "p0-a", "p0-b", "py", "p5", "p1"].sort(byLevel));
      await consumer.close();
    });
  });

  describe("layouts", () => {
    it("reads both layouts whichever it writes, so a fleet can switch without losing messages; operators count .DQ as delayed", async () => {
      const shared = newBroker();
      const fast = newBroker({ delays: "zset", priorities: "levels" });
      await fast.enqueue(message(["fast-delayed"]), { delay: 200 });
      await fast.enqueue(message(["fast-p5"], { priority: 5 }));
      await shared.enqueue(message(["shared-delayed"]), { delay: 200 });
      expect(await fast.depths(redis.queue)).to.deep.equal({ ready: 1, delayed: 2, inFlight: 0, dead: 0 });
      // The default consumer: levels and the sorted set, and Dramatiq's .DQ (held).
      const reader = shared.consume(redis.queue, { prefetch: 8 });
      const got: string[] = [];
      while (got.length < 3) {
        for (const d of await reader.fetch(8, 2_000)) {
          got.push(shared.decode(d.body).args[0] as string);
          await reader.ack(d);
        }
      }
      expect(got.sort()).to.deep.equal(["fast-delayed", "fast-p5", "shared-delayed"]);
      await reader.close();
      // The fast consumer: .DQ entries move into its sorted set; a due one of priority 0 lands on Dramatiq's list.
      await shared.enqueue(message(["shared-again"]), { delay: 150 });
      const fastReader = fast.consume(redis.queue, { prefetch: 8 });
      expect(await fastReader.fetch(8, 50)).to.deep.equal([]);
      expect(await redis.admin.exists(`${redis.namespace}:${redis.queue}.DQ`)).to.equal(0);
      expect(await redis.admin.zcard(`${redis.namespace}:${redis.queue}:delayed`)).to.equal(1);
      const [again] = await fastReader.fetch(8, 2_000);
      expect(fast.decode(again!.body).args).to.deep.equal(["shared-again"]);
      await fastReader.close();
    });

    it("holds at most DELAY_HOLD_LIMIT delayed messages per consumer; the rest wait in ns:q.DQ", async () => {
      const broker = newBroker();
      const base = `${redis.namespace}:${redis.queue}`;
      const far = Date.now() + 600_000;
      const total = DELAY_HOLD_LIMIT + 5;
      for (let i = 0; i < total; i += 1_000) {
        const multi = redis.admin.multi();
        for (let j = i; j < Math.min(total, i + 1_000); j++) {
          multi.hset(`${base}.DQ.msgs`, `r${j}`, JSON.stringify({ ...message([j]).asData(), queue_name: `${redis.queue}.DQ`, options: { redis_message_id: `r${j}`, eta: far } }));
          multi.rpush(`${base}.DQ`, `r${j}`);
        }
        await multi.exec();
      }
      const consumer = broker.consume(redis.queue, { prefetch: 1 });
      for (let i = 0; i < 12; i++) await consumer.fetch(1, 1);
      expect(await redis.admin.scard(`${redis.namespace}:__acks__.${consumer.id}.${redis.queue}.DQ`)).to.equal(DELAY_HOLD_LIMIT);
      expect(await redis.admin.llen(`${base}.DQ`)).to.equal(5);
      expect((await broker.depths(redis.queue)).delayed).to.equal(total);
      await consumer.close();
      expect(await redis.admin.llen(`${base}.DQ`)).to.equal(total);
    });
  });

});

/** Expected fetch order for the priority spec: by level, then arrival. */
function byLevel(a: string, b: string): number {
  const order = ["m3", "p0-a", "p0-b", "py", "p1", "p5"];
  return order.indexOf(a) - order.indexOf(b);
}
