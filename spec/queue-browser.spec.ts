// queueBrowserOf: the brokers that can read their queues in place offer a browser; RabbitMQ,
// which cannot look at a message without taking it, offers none (the dashboard says so).
import { expect } from "chai";
import { RabbitmqBroker } from "../brokers/rabbitmq/index.ts";
import { RedisBroker } from "../brokers/redis/index.ts";
import { SqliteBroker } from "../brokers/sqlite/index.ts";
import { StubBroker } from "../brokers/stub.ts";
import { queueBrowserOf } from "../lib/queue-browser.ts";
import { tempDatabase } from "./fixtures/sqlite-files.ts";
import { amqpUrl } from "./helpers/amqp.ts";
import { redisUrl, uniqueNamespace } from "./helpers/redis.ts";

describe("queueBrowserOf", function () {
  this.timeout(10_000);

  it("is undefined for RabbitMQ", async () => {
    const broker = new RabbitmqBroker({ url: await amqpUrl(), middleware: [] });
    try {
      expect(queueBrowserOf(broker)).to.equal(undefined);
    } finally {
      await broker.close();
    }
  });

  it("is each store-backed broker's own queueBrowser, the same on every call", async () => {
    const db = tempDatabase();
    const brokers = [
      new StubBroker({ middleware: [] }),
      new RedisBroker({ url: await redisUrl(), namespace: uniqueNamespace("dramats-browse"), middleware: [] }),
      new SqliteBroker({ path: db.path, middleware: [] }),
    ];
    try {
      for (const broker of brokers) {
        const browser = queueBrowserOf(broker);
        expect(browser, broker.constructor.name).to.not.equal(undefined);
        expect(browser).to.equal((broker as unknown as { queueBrowser: unknown }).queueBrowser);
        expect(queueBrowserOf(broker)).to.equal(browser);
      }
    } finally {
      for (const broker of brokers) await broker.close();
      db.cleanup();
    }
  });
});
