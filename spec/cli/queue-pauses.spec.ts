// Acceptance: a fleet-wide queue pause with the real `dramats` command: on Redis (the broker's
// own store) and on RabbitMQ with a Redis `--store`. After the flag is set no message starts
// (within the poll's second), and on resume every message runs exactly once.
import { expect } from "chai";
import { RabbitmqBroker } from "../../brokers/rabbitmq/index.ts";
import { RedisBroker } from "../../brokers/redis/index.ts";
import type { Broker } from "../../lib/broker.ts";
import type { KeyValueStore } from "../../lib/key-value-store.ts";
import { Message } from "../../lib/index.ts";
import { pauseQueue, resumeQueue } from "../../lib/queue-pauses.ts";
import { StoreUrl } from "../../middleware/store-url.ts";
import { amqpUrl, deleteQueues, uniqueQueue } from "../helpers/amqp.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "../helpers/redis.ts";
import { cliSpec, isBootLine, recordsIn, until } from "./run-cli.ts";

const APP = "spec/fixtures/cli-pause-app.ts";
const ARGS = ["--processes", "1", "--threads", "4", "--heartbeat-interval", "100", "--grace", "5000", "--cpu-threads", "1", "--no-metrics"];
/** The time the worker's poll may take to see a flag, with room for a loaded machine (ms). */
const GRACE = 1_500;
/** How long the spec watches a paused queue for a message that should not start (ms). */
const WATCH = 1_000;

interface Setup {
  queue: string;
  args: string[];
  broker: Broker;
  store: KeyValueStore;
  /** Deliveries the paused process may keep unstarted in its consumer's buffer (RabbitMQ pushes up to the prefetch). */
  buffered: number;
  cleanup(): Promise<void>;
}

async function redisStoreUrl(namespace: string): Promise<string> {
  const url = new URL(await redisUrl());
  url.searchParams.set("namespace", namespace);
  return url.href;
}

const setups: Record<string, () => Promise<Setup>> = {
  async redis() {
    const namespace = uniqueNamespace("dramats-cli-pause");
    const broker = new RedisBroker({ url: await redisUrl(), namespace, middleware: [] });
    return {
      queue: uniqueQueue("cli_pause"),
      args: ["--broker", await redisStoreUrl(namespace)],
      broker,
      store: broker.store,
      buffered: 0,
      cleanup: async () => (await broker.close(), void (await deleteNamespace(namespace))),
    };
  },
  async "rabbitmq with --store"() {
    const namespace = uniqueNamespace("dramats-cli-pause-store");
    const url = await amqpUrl();
    const queue = uniqueQueue("cli_pause");
    const storeUrl = new StoreUrl(await redisStoreUrl(namespace));
    const broker = new RabbitmqBroker({ url, middleware: [] });
    return {
      queue,
      args: ["--broker", url, "--store", storeUrl.url],
      broker,
      store: await storeUrl.open(),
      buffered: 8,
      async cleanup() {
        await broker.close();
        await storeUrl.close();
        await deleteQueues(url, [queue]);
        await deleteNamespace(namespace);
      },
    };
  },
};

for (const [name, setUp] of Object.entries(setups)) {
  describe(`dramats: pausing a queue fleet-wide on ${name} (acceptance)`, function () {
    this.timeout(60_000);
    const spec = cliSpec("dramats-cli-pause-");
    let s: Setup;
    beforeEach(async () => {
      s = await setUp();
      s.broker.declareQueue(s.queue);
    });
    afterEach(async () => {
      spec.destroyAll();
      await s.cleanup();
    });

    it("starts no message after the flag is set, and runs every one once after the resume", async () => {
      const N = 300;
      const starts = () => recordsIn(spec.out).map(([, at, tag]) => ({ at: Number(at), tag: tag! }));
      const run = spec.start([APP, ...ARGS, ...s.args], { env: { CLI_SPEC_QUEUE: s.queue, CLI_SPEC_OUT: spec.out } });
      await run.waitFor(isBootLine);
      await s.broker.enqueueMany(Array.from({ length: N }, (_, i) => new Message({ queueName: s.queue, actorName: "tick", args: [`t${i}`] })));
      await until(() => starts().length >= 30, 20_000);

      await pauseQueue(s.store, s.queue, { by: "dashboard" });
      const flagSet = Date.now();
      const paused = await run.waitFor((l) => typeof l.msg === "string" && l.msg.startsWith("Queue paused fleet-wide"));
      expect(paused).to.include({ queue: s.queue, by: "dashboard", level: 30 });
      let ready = 0;
      const deadline = Date.now() + 10_000;
      for (;;) {
        ready = (await s.broker.depths(s.queue)).ready;
        if (ready + starts().length >= N - s.buffered) break;
        if (Date.now() > deadline) throw new Error(`the paused worker did not give its messages back: ${ready} ready, ${starts().length} started`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const startedBeforePause = starts().length;
      expect(N - startedBeforePause, "messages left for after the resume (else this test proves nothing)").to.be.greaterThan(50);
      await new Promise((resolve) => setTimeout(resolve, WATCH));
      expect(starts().length, "no message started while paused").to.equal(startedBeforePause);
      expect(Math.max(...starts().map((x) => x.at)) - flagSet).to.be.at.most(GRACE);

      await resumeQueue(s.store, s.queue);
      await run.waitFor((l) => l.msg === "Queue resumed: consuming it again" && l.queue === s.queue);
      await until(() => starts().length >= N, 30_000);
      const tags = starts().map((x) => x.tag);
      expect(tags).to.have.length(N);
      expect(new Set(tags).size, "none twice").to.equal(N);
      expect(await run.stop()).to.equal(0);
      expect(starts(), "none after the stop").to.have.length(N);
    });
  });
}
