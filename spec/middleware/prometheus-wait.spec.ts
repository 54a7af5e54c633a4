import { expect } from "chai";
import { RabbitmqBroker } from "../../brokers/rabbitmq/index.ts";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { SqliteBroker } from "../../brokers/sqlite/index.ts";
import { StubBroker } from "../../brokers/stub.ts";
import { actor, Message, Worker, type Broker } from "../../lib/index.ts";
import { Prometheus } from "../../middleware/prometheus.ts";
import { amqpUrl, deleteQueues, uniqueQueue } from "../helpers/amqp.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "../helpers/redis.ts";
import { deferred } from "../helpers/stub.ts";
import { tempDatabase } from "../fixtures/sqlite-files.ts";

/** One sample of the text format, or NaN when the series is absent. */
function sample(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`) || (labels === "" && l.startsWith(`${name} `)));
  return line === undefined ? NaN : Number(line.split(" ").pop());
}

interface World {
  broker: Broker;
  queue: string;
  /** Whether the broker can tell the oldest ready message's age. */
  oldestAge: boolean;
  close(): Promise<void>;
}

type Factory = (prometheus: Prometheus) => Promise<World>;

const redis = (params: Record<string, string>): Factory => async (prometheus) => {
  const parsed = new URL(await redisUrl());
  for (const [key, value] of Object.entries(params)) parsed.searchParams.set(key, value);
  const namespace = uniqueNamespace("dramats-wait");
  const broker = new RedisBroker({ url: parsed.href, namespace, middleware: [prometheus] });
  return { broker, queue: "waits", oldestAge: true, close: async () => (await broker.close(), void (await deleteNamespace(namespace))) };
};

const BROKERS: [string, Factory][] = [
  ["stub", async (prometheus) => {
    const broker = new StubBroker({ middleware: [prometheus] });
    return { broker, queue: "waits", oldestAge: true, close: () => broker.close() };
  }],
  ["sqlite", async (prometheus) => {
    const db = tempDatabase();
    const broker = new SqliteBroker({ path: db.path, middleware: [prometheus] });
    return { broker, queue: "waits", oldestAge: true, close: async () => (await broker.close(), db.cleanup()) };
  }],
  ["redis", redis({})],
  ["redis ?delays=zset", redis({ delays: "zset", priorities: "levels" })],
  ["rabbitmq", async (prometheus) => {
    const url = await amqpUrl();
    const broker = new RabbitmqBroker({ url, middleware: [prometheus] });
    const queue = uniqueQueue("waits");
    return { broker, queue, oldestAge: false, close: async () => (await broker.close(), await deleteQueues(url, [queue])) };
  }],
];

for (const [name, factory] of BROKERS) {
  describe(`dramats_message_wait_milliseconds and the keeping-up metrics (${name})`, function () {
    this.timeout(20_000);

    it("records the wait from enqueue for an immediate message and from the eta for a delayed one", async () => {
      const prometheus = new Prometheus({ processMetrics: false });
      const world = await factory(prometheus);
      const { broker, queue } = world;
      const ranAt: number[] = [];
      const now = actor(function waitNow() {}, { broker, queueName: queue });
      const later = actor(function waitLater() {
        ranAt.push(Date.now());
      }, { broker, queueName: queue });
      const worker = new Worker(broker, { fetchTimeout: 100 });
      try {
        await worker.start();
        await now.send();
        const sentAt = Date.now();
        await later.sendWithOptions({ args: [], delay: 500 });
        await broker.join(queue, { timeout: 10_000 });
        await worker.join();
        const text = await prometheus.metricsText();
        const immediate = `queue_name="${queue}",actor_name="waitNow"`;
        const delayed = `queue_name="${queue}",actor_name="waitLater"`;
        expect(sample(text, "dramats_message_wait_milliseconds_count", immediate)).to.equal(1);
        expect(sample(text, "dramats_message_wait_milliseconds_sum", immediate)).to.be.within(0, 2_000);
        expect(sample(text, "dramats_message_wait_milliseconds_count", delayed)).to.equal(1);
        // It ran after its delay, yet waited far less than the 500 ms since its enqueue: counted from its eta.
        expect(ranAt[0]! - sentAt).to.be.at.least(490);
        expect(sample(text, "dramats_message_wait_milliseconds_sum", delayed)).to.be.within(0, 400);
        expect(text).to.contain(`dramats_message_wait_milliseconds_bucket{le="86400000",${delayed}} 1`);
      } finally {
        await worker.stop();
        await world.close();
      }
    });

    it("reports the oldest ready message's age and the busy and available slot-seconds", async () => {
      const prometheus = new Prometheus({ processMetrics: false });
      const world = await factory(prometheus);
      const { broker, queue } = world;
      const running = deferred();
      const gate = deferred();
      const job = actor(async function waitGated(hold: boolean) {
        if (!hold) return;
        running.resolve();
        await gate.promise;
      }, { broker, queueName: queue });
      const worker = new Worker(broker, { fetchTimeout: 100, concurrency: 1, prefetch: 1 });
      try {
        await worker.start();
        await job.send(true);
        await running.promise;
        const backlogAt = Date.now();
        await job.send(false);
        await job.send(false);
        await new Promise((resolve) => setTimeout(resolve, 400)); // let the backlog age
        const during = await prometheus.metricsText();
        const elapsed = (Date.now() - backlogAt) / 1000;
        const age = sample(during, "dramats_queue_oldest_message_age_seconds", `queue_name="${queue}"`);
        if (world.oldestAge) expect(age).to.be.within(0.35, elapsed + 0.5);
        else expect(age).to.be.NaN; // RabbitMQ cannot look at a queue's head without taking it
        const busy = sample(during, "dramats_worker_busy_slot_seconds_total", "");
        const slots = sample(during, "dramats_worker_slot_seconds_total", "");
        expect(busy).to.be.at.least(0.35);
        expect(slots).to.be.at.least(busy);
        gate.resolve();
        await broker.join(queue, { timeout: 10_000 });
        await worker.join();
        const after = await prometheus.metricsText();
        if (world.oldestAge) expect(sample(after, "dramats_queue_oldest_message_age_seconds", `queue_name="${queue}"`)).to.equal(0);
        expect(sample(after, "dramats_worker_busy_slot_seconds_total", "")).to.be.at.least(busy);
      } finally {
        gate.resolve();
        await worker.stop();
        await world.close();
      }
    });
  });
}

describe("dramats_message_wait_milliseconds and clocks", () => {
  it("counts a wait that comes out negative (a producer's clock ahead of the worker's) as 0", async () => {
    const prometheus = new Prometheus({ processMetrics: false });
    const broker = new StubBroker({ middleware: [prometheus] });
    const job = actor(function aheadOfUs() {}, { broker, queueName: "clock_ahead" });
    const worker = new Worker(broker, { fetchTimeout: 50 });
    try {
      await worker.start();
      await broker.enqueue(new Message({ queueName: "clock_ahead", actorName: job.actorName, args: [], options: {}, messageTimestamp: Date.now() + 60_000 }));
      await broker.join("clock_ahead");
      await worker.join();
      const text = await prometheus.metricsText();
      const labels = 'queue_name="clock_ahead",actor_name="aheadOfUs"';
      expect(sample(text, "dramats_message_wait_milliseconds_count", labels)).to.equal(1);
      expect(sample(text, "dramats_message_wait_milliseconds_sum", labels)).to.equal(0);
    } finally {
      await worker.stop();
    }
  });
});

describe("the keeping-up metrics over a fleet of processes", () => {
  it("sums the wait histograms and the slot-second counters, and takes the oldest age as the maximum", async () => {
    const { AggregatorRegistry } = await import("prom-client");
    const processes = [0, 1].map(() => {
      const prometheus = new Prometheus({ processMetrics: false });
      const broker = new StubBroker({ middleware: [prometheus] });
      return { prometheus, broker, worker: new Worker(broker, { fetchTimeout: 50 }) };
    });
    try {
      for (const { broker, worker } of processes) {
        const job = actor(function fleetWait() {}, { broker, queueName: "fleet_waits" });
        await worker.start();
        await job.send();
        await broker.join("fleet_waits");
        await worker.join();
      }
      const jsons = await Promise.all(processes.map((p) => p.prometheus.metricsJson()));
      const text = await AggregatorRegistry.aggregate(jsons).metrics();
      const labels = 'queue_name="fleet_waits",actor_name="fleetWait"';
      expect(sample(text, "dramats_message_wait_milliseconds_count", labels)).to.equal(2);
      const valueOf = (json: (typeof jsons)[number], name: string) => json.find((m) => m.name === name)!.values[0]!.value;
      for (const counter of ["dramats_worker_slot_seconds_total", "dramats_worker_busy_slot_seconds_total"]) {
        const total = jsons.reduce((sum, json) => sum + valueOf(json, counter), 0);
        expect(sample(text, counter, "")).to.be.closeTo(total, 1e-6);
      }
      // Every process reads the same broker: the supervisor takes the maximum, not the sum.
      const ages = jsons.map((json) => json.find((m) => m.name === "dramats_queue_oldest_message_age_seconds")!);
      expect(ages.every((m) => m.aggregator === "max")).to.equal(true);
    } finally {
      for (const { worker } of processes) await worker.stop();
    }
  });
});

describe("Redis: the etas kept for the wait metric", function () {
  this.timeout(20_000);

  for (const [layout, params] of [["dramatiq", {}], ["zset", { delays: "zset" }]] as const) {
    it(`are handed out and deleted, and leftovers of messages others acked are dropped (delays: ${layout})`, async () => {
      const parsed = new URL(await redisUrl());
      for (const [key, value] of Object.entries(params)) parsed.searchParams.set(key, value);
      const namespace = uniqueNamespace("dramats-etas");
      const broker = new RedisBroker({ url: parsed.href, namespace, middleware: [new Prometheus({ processMetrics: false })] });
      const client = await redisClient();
      const job = actor(function etaKept() {}, { broker, queueName: "etas" });
      const worker = new Worker(broker, { fetchTimeout: 100 });
      try {
        // What a Python worker leaves: it acked a promoted message (its payload is gone) without a look at the hash.
        await client.hset(`${namespace}:etas:etas`, "acked-by-python", "1");
        await worker.start();
        await job.sendWithOptions({ args: [], delay: 50 });
        await broker.join("etas", { timeout: 10_000 });
        await worker.join();
        expect(await client.exists(`${namespace}:etas:etas`)).to.equal(0);
      } finally {
        await worker.stop();
        await broker.close();
        client.disconnect();
        await deleteNamespace(namespace);
      }
    });
  }
});
