// Broker.enqueueOnce: a key of the broker's own store and messages written as one step, on
// every broker that has a store; refused, with a typed error, by one without (RabbitMQ).
import { expect } from "chai";
import { RabbitmqBroker } from "../brokers/rabbitmq/index.ts";
import { RedisBroker } from "../brokers/redis/index.ts";
import { SqliteBroker } from "../brokers/sqlite/index.ts";
import { StubBroker } from "../brokers/stub.ts";
import { actor, DramatsError, Middleware, type Broker, type Message } from "../lib/index.ts";
import { amqpUrl, deleteQueues, uniqueQueue } from "./helpers/amqp.ts";
import { tempDatabase, waitFor } from "./fixtures/sqlite-files.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "./helpers/redis.ts";

class CountEnqueued extends Middleware {
  readonly enqueued: string[] = [];
  afterEnqueue(_broker: Broker, message: Message): void {
    this.enqueued.push(message.messageId);
  }
}

const brokers: Record<string, () => Promise<{ broker: (middleware: Middleware[]) => Broker; cleanup(): Promise<void> }>> = {
  stub: async () => ({ broker: (middleware) => new StubBroker({ middleware }), cleanup: async () => undefined }),
  Redis: async () => {
    const url = await redisUrl();
    const namespace = uniqueNamespace("enqueue-once");
    return { broker: (middleware) => new RedisBroker({ url, namespace, middleware }), cleanup: async () => void (await deleteNamespace(namespace)) };
  },
  SQLite: async () => {
    const db = tempDatabase();
    return { broker: (middleware) => new SqliteBroker({ path: db.path, middleware }), cleanup: async () => db.cleanup() };
  },
};

for (const [name, open] of Object.entries(brokers)) {
  describe(`${name} broker: enqueueOnce`, () => {
    let broker: Broker;
    let hooks: CountEnqueued;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      const place = await open();
      hooks = new CountEnqueued();
      broker = place.broker([hooks]);
      cleanup = place.cleanup;
    });

    afterEach(async () => {
      await broker.close();
      await cleanup();
    });

    it("writes messages of two queues and the claim together; with the claim taken it writes nothing", async () => {
      const a = actor(function onceA() {}, { broker, queueName: "once_a" });
      const b = actor(function onceB() {}, { broker, queueName: "once_b" });
      expect(broker.canEnqueueOnce).to.equal(true);
      const first = [a.message(), b.message()];
      expect(await broker.enqueueOnce({ key: "spec:once", ttl: 60_000, value: "mine" }, first)).to.equal(true);
      expect(await broker.store!.get("spec:once")).to.equal("mine");
      expect(await broker.enqueueOnce({ key: "spec:once", ttl: 60_000 }, [a.message(), b.message()])).to.equal(false);
      expect((await broker.depths("once_a")).ready).to.equal(1);
      expect((await broker.depths("once_b")).ready).to.equal(1);
      expect(hooks.enqueued).to.deep.equal(first.map((m) => m.messageId));
    });

    it("enqueues again once the claim expired", async () => {
      const a = actor(function onceA() {}, { broker, queueName: "once_a" });
      expect(await broker.enqueueOnce({ key: "spec:short", ttl: 50 }, [a.message()])).to.equal(true);
      await waitFor(async () => (await broker.store!.get("spec:short")) === undefined, 5_000, "the claim to expire");
      expect(await broker.enqueueOnce({ key: "spec:short", ttl: 50 }, [a.message()])).to.equal(true);
      expect((await broker.depths("once_a")).ready).to.equal(2);
    });
  });
}

describe("SqliteKeyValueStore.setIfAbsentWith", () => {
  it("rolls the claim back when the writes that go with it throw, and commits both otherwise", async () => {
    const db = tempDatabase();
    const broker = new SqliteBroker({ path: db.path, middleware: [] });
    try {
      let error: unknown;
      await broker.store.setIfAbsentWith("k", "v", 60_000, () => {
        throw new TypeError("the write failed");
      }).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(TypeError);
      expect(await broker.store.get("k")).to.equal(undefined);
      let wrote = 0;
      expect(await broker.store.setIfAbsentWith("k", "v", 60_000, () => void wrote++)).to.equal(true);
      expect(await broker.store.setIfAbsentWith("k", "w", 60_000, () => void wrote++)).to.equal(false);
      expect(wrote, "writes run only with the claim").to.equal(1);
      expect(await broker.store.get("k")).to.equal("v");
    } finally {
      await broker.close();
      db.cleanup();
    }
  });
});

describe("RabbitMQ broker: enqueueOnce", () => {
  it("is refused with a typed error: the broker has no store to claim in", async () => {
    const url = await amqpUrl();
    const queueName = uniqueQueue("once");
    const broker = new RabbitmqBroker({ url, middleware: [] });
    try {
      const a = actor(function onceRabbit() {}, { broker, queueName });
      expect(broker.canEnqueueOnce).to.equal(false);
      let error: unknown;
      await broker.enqueueOnce({ key: "spec:once", ttl: 1_000 }, [a.message()]).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(DramatsError);
      expect((error as Error).message).to.contain("cannot enqueue atomically");
    } finally {
      await broker.close();
      await deleteQueues(url, [queueName]);
    }
  });
});
