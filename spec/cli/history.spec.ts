// Acceptance: a worker process under the real `dramats` command rolls its counts up into the
// fleet history, under its worker-registry id: into the broker's own store (a real SQLite file)
// or the `--store` one (RabbitMQ with a Redis store); none with `--registry-interval 0`.
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { RabbitmqBroker } from "../../brokers/rabbitmq/index.ts";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { SqliteBroker } from "../../brokers/sqlite/index.ts";
import type { Broker } from "../../lib/broker.ts";
import { HISTORY_STEP, type HistoryStore } from "../../lib/history-store.ts";
import { Message } from "../../lib/index.ts";
import type { WorkerRegistry } from "../../lib/worker-registry.ts";
import { amqpUrl, deleteQueues, uniqueQueue } from "../helpers/amqp.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "../helpers/redis.ts";
import { cliSpec, isBootLine, recordsIn, until } from "./run-cli.ts";

const APP = "spec/fixtures/cli-registry-app.ts";
const FAST = ["--processes", "1", "--threads", "2", "--heartbeat-interval", "100", "--grace", "5000", "--cpu-threads", "1", "--no-metrics"];

interface Setup {
  queue: string;
  args: string[];
  /** Enqueues through it. */
  broker: Broker;
  /** Where the workers' history and records go. */
  history: HistoryStore;
  registry: WorkerRegistry;
  cleanup(): Promise<void>;
}

const setups: Record<string, (dir: string) => Promise<Setup>> = {
  async sqlite(dir) {
    const path = join(dir, "history.sqlite");
    const broker = new SqliteBroker({ path, middleware: [] });
    return { queue: "cli-registry", args: ["--broker", `sqlite://${path}`], broker, history: broker.historyStore, registry: broker.workerRegistry, cleanup: () => broker.close() };
  },
  async rabbitmq() {
    const queue = uniqueQueue("cli_history");
    const url = await amqpUrl();
    const ns = uniqueNamespace("dramats-cli-history");
    const store = new URL(await redisUrl());
    store.searchParams.set("namespace", ns);
    const redis = new RedisBroker({ url: await redisUrl(), namespace: ns, middleware: [] });
    const broker = new RabbitmqBroker({ url, middleware: [] });
    return {
      queue,
      args: ["--broker", url, "--store", store.href],
      broker,
      history: redis.historyStore,
      registry: redis.workerRegistry,
      async cleanup() {
        await broker.close();
        await redis.close();
        await deleteQueues(url, [queue]);
        await deleteNamespace(ns);
      },
    };
  },
};

for (const [name, setUp] of Object.entries(setups)) {
  describe(`the fleet history of CLI workers on ${name} (acceptance)`, function () {
    this.timeout(60_000);
    const spec = cliSpec("dramats-cli-history-");
    let s: Setup;
    beforeEach(async () => {
      s = await setUp(spec.dir);
      s.broker.declareQueue(s.queue);
    });
    afterEach(async () => {
      spec.destroyAll();
      await s.cleanup();
    });

    const runWorker = async (extra: string[]): Promise<number> => {
      const started = Date.now();
      const run = spec.start([APP, ...FAST, ...extra, ...s.args], { env: { CLI_SPEC_QUEUE: s.queue, CLI_SPEC_OUT: spec.out } });
      await run.waitFor(isBootLine);
      await s.broker.enqueue(new Message({ queueName: s.queue, actorName: "flop", args: ["f"] }));
      writeFileSync(`${spec.out}.release`, "");
      await s.broker.enqueue(new Message({ queueName: s.queue, actorName: "nap", args: ["n"] }));
      // flop runs twice (one retry) and nap once; a graceful stop waits for nap, then writes the minute.
      await until(() => run.count((line) => line.msg === "Actor failed") === 2 && recordsIn(spec.out).some(([, event, tag]) => event === "start" && tag === "n"), 20_000);
      expect(await run.stop()).to.equal(0);
      return started;
    };

    it("writes the process's minutes at shutdown, under its worker-registry id", async () => {
      const started = await runWorker(["--registry-interval", "1000"]);
      const now = Date.now();
      const read = await s.history.read(started - (started % HISTORY_STEP), now - (now % HISTORY_STEP));
      const pairs = read.flatMap((b) => b.bucket.pairs.map((p) => ({ ...p, workerId: b.workerId })));
      const total = (actor: string, field: "processed" | "failed") => pairs.filter((p) => p.actor === actor).reduce((n, p) => n + p[field], 0);
      expect([total("flop", "processed"), total("flop", "failed"), total("nap", "processed"), total("nap", "failed")]).to.deep.equal([2, 2, 1, 0]);
      expect(pairs.every((p) => p.queue === s.queue)).to.equal(true);
      const [record] = await s.registry.list();
      expect(new Set(read.map((b) => b.workerId))).to.deep.equal(new Set([record!.id]));
    });

    it("writes none with --registry-interval 0", async () => {
      const started = await runWorker(["--registry-interval", "0"]);
      const now = Date.now();
      expect(await s.history.read(started - (started % HISTORY_STEP), now - (now % HISTORY_STEP))).to.deep.equal([]);
    });
  });
}
