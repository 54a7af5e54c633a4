// Cron on RabbitMQ, which has no store: the Scheduler takes a store by URL (a Redis or SQLite
// broker's store), in code (`new Scheduler({ store: "redis://..." })`) and on the command line
// (`--store URL`, for workers and for `dramats schedules`).
import { expect } from "chai";
import { existsSync, readFileSync } from "node:fs";
import { RabbitmqBroker } from "../brokers/rabbitmq/index.ts";
import { actor, type ActorContext } from "../lib/actor.ts";
import { InvalidOptions } from "../lib/errors.ts";
import { Worker } from "../lib/worker.ts";
import { Scheduler } from "../middleware/scheduler.ts";
import { defaultMiddleware } from "../middleware/index.ts";
import { cliSpec, FAST, until } from "./cli/run-cli.ts";
import { runOperator } from "./cli/run-operator.ts";
import { amqpUrl, deleteQueues, uniqueQueue } from "./helpers/amqp.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "./helpers/redis.ts";

/** `redis://...?namespace=ns`: the spec's Redis with a private namespace. */
async function storeUrl(namespace: string): Promise<string> {
  const url = new URL(await redisUrl());
  url.searchParams.set("namespace", namespace);
  return url.href;
}

describe("Scheduler store by URL", function () {
  this.timeout(30_000);
  let namespace: string;
  let queue: string;

  beforeEach(() => {
    namespace = uniqueNamespace("dramats-store-url");
    queue = uniqueQueue("store_url");
  });

  afterEach(async () => {
    await deleteNamespace(namespace);
    await deleteQueues(await amqpUrl(), [queue]);
  });

  it("refuses, at construction, a URL that is malformed or names no shared store", () => {
    for (const bad of ["not a url", "amqp://guest:secret@127.0.0.1:5672", "memory://", "ftp://example.com"]) {
      expect(() => new Scheduler({ store: bad }), bad).to.throw(InvalidOptions);
    }
    let message = "";
    try {
      new Scheduler({ store: "amqp://guest:secret@127.0.0.1:5672" });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).to.include("redis://, rediss:// or sqlite://PATH").and.not.include("secret");
  });

  it("enqueues each tick once across two RabbitMQ workers claiming in a Redis store, and closes the store with the broker", async () => {
    const url = await amqpUrl();
    const store = await storeUrl(namespace);
    const runs: number[] = [];
    const worlds = await Promise.all(
      [0, 1].map(async () => {
        const broker = new RabbitmqBroker({ url, middleware: defaultMiddleware() });
        broker.replaceMiddleware(Scheduler, new Scheduler({ store }));
        actor(function store_url_tick(this: ActorContext) {
          runs.push(this.message!.options.schedule_tick as number);
        }, { broker, queueName: queue, schedule: { every: 1_000 } });
        const worker = new Worker(broker, { fetchTimeout: 100 });
        await worker.start();
        return { broker, worker };
      }),
    );
    try {
      await until(() => runs.length >= 3, 10_000);
    } finally {
      for (const { worker, broker } of worlds) {
        await worker.stop({ timeout: 2_000 });
        await broker.close();
      }
    }
    expect(new Set(runs).size, `ticks ${runs.join(",")}`).to.equal(runs.length);
    // The claims and the last tick are in the Redis store, under the URL's namespace.
    const redis = await redisClient();
    try {
      const last = Number(await redis.get(`${namespace}:__kv__:${new Scheduler().lastTickKey("store_url_tick")}`));
      expect(runs).to.include(last);
    } finally {
      redis.disconnect();
    }
  });

  describe("on the command line", () => {
    const spec = cliSpec("dramats-store-url-");
    const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : []);

    it("--store gives the workers' Scheduler the store: cron runs on RabbitMQ, once per tick across processes", async () => {
      const url = await amqpUrl();
      const store = await storeUrl(namespace);
      const env = { CLI_SPEC_OUT: spec.out, CLI_SPEC_QUEUE: queue };
      const run = spec.start(["spec/fixtures/cli-store-app.ts", "--processes", "2", "--broker", url, "--store", store, ...FAST], { env });
      await until(() => lines(spec.out).length >= 3, 20_000);
      expect(await run.stop()).to.equal(0);
      const ticks = lines(spec.out).map((line) => line.split(" ")[1]);
      expect(new Set(ticks).size, ticks.join(",")).to.equal(ticks.length);
      expect(run.lines.some((l) => typeof l.msg === "string" && l.msg.includes("--store store"))).to.equal(true);

      // `dramats schedules` reads the last tick from the same store; without it RabbitMQ has none to show.
      const shown = await runOperator(["schedules", "spec/fixtures/cli-store-app.ts", "--broker", url, "--store", store, "--json"], { CLI_SPEC_QUEUE: queue });
      expect(shown.code, shown.stderr).to.equal(0);
      const [schedule] = shown.json<{ schedules: { actor: string; lastTick: string | null }[] }>().schedules;
      expect(schedule!.actor).to.equal("store_tick");
      expect(ticks).to.include(String(Date.parse(schedule!.lastTick!)));
    });

    it("--store with a URL that names no store exits 2 at once, with the password masked", async () => {
      const bad = await runOperator(["spec/fixtures/cli-store-app.ts", "--broker", "memory://", "--store", "amqp://guest:hunter2secret@127.0.0.1:5672"]);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.include("redis://, rediss:// or sqlite://PATH");
      expect(bad.stderr).not.to.include("hunter2secret");
    });
  });
});
