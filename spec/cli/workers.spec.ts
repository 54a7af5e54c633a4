// Acceptance: worker processes under the real `dramats` command publish their records, and
// `dramats workers` and `dramats health` read them, on real Redis, a real SQLite file and real
// RabbitMQ (with a Redis store, given by --store to both sides).
import { expect } from "chai";
import Database from "better-sqlite3";
import { Redis } from "ioredis";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { RabbitmqBroker } from "../../brokers/rabbitmq/index.ts";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { SqliteBroker } from "../../brokers/sqlite/index.ts";
import type { Broker } from "../../lib/broker.ts";
import { Message } from "../../lib/index.ts";
import { deleteQueues, amqpUrl, uniqueQueue } from "../helpers/amqp.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "../helpers/redis.ts";
import { cliSpec, isBootLine, recordsIn, until, type CliRun } from "./run-cli.ts";
import { runOperator, type OperatorRun } from "./run-operator.ts";

const APP = "spec/fixtures/cli-registry-app.ts";
/** Records every second: dead 3 s after the last beat, expired 12 s after it (operator commands take seconds to start on a busy machine). */
const FAST = ["--processes", "1", "--threads", "2", "--registry-interval", "1000", "--heartbeat-interval", "100", "--grace", "5000", "--cpu-threads", "1", "--no-metrics"];

interface Setup {
  /** The queue the app's actors use. */
  queue: string;
  /** `--broker URL` (and `--store URL` where the broker has no store), for the workers and the operator commands alike. */
  args: string[];
  /** A broker for the spec to enqueue through. */
  broker: Broker;
  /** Writes a garbage record into the registry, as a broken or foreign writer would. */
  corrupt(): Promise<void>;
  cleanup(): Promise<void>;
}

async function redisStore(ns: string): Promise<{ url: string; corrupt(): Promise<void>; cleanup(): Promise<void> }> {
  const server = await redisUrl();
  const url = new URL(server);
  url.searchParams.set("namespace", ns);
  return {
    url: url.href,
    async corrupt() {
      const client = new Redis(server);
      client.on("error", () => {});
      await client.multi().set(`${ns}:__dramats_worker__:garbage`, "{not json", "PX", 60_000).zadd(`${ns}:__dramats_workers__`, Date.now(), "garbage").exec();
      await client.quit();
    },
    cleanup: async () => void (await deleteNamespace(ns)),
  };
}

const setups: Record<string, (dir: string) => Promise<Setup>> = {
  async redis() {
    const queue = uniqueQueue("cli-registry");
    const store = await redisStore(uniqueNamespace("dramats-cli-registry"));
    const broker = new RedisBroker({ url: await redisUrl(), namespace: new URL(store.url).searchParams.get("namespace")!, middleware: [] });
    return { queue, args: ["--broker", store.url], broker, corrupt: store.corrupt, cleanup: async () => (await broker.close(), await store.cleanup()) };
  },
  async sqlite(dir) {
    const path = join(dir, "registry.sqlite");
    const broker = new SqliteBroker({ path, middleware: [] });
    return {
      queue: "cli-registry",
      args: ["--broker", `sqlite://${path}`],
      broker,
      async corrupt() {
        const db = new Database(path);
        db.prepare("INSERT INTO dramats_workers (id, beat_at, expires_at, record) VALUES (?, ?, ?, ?)").run("garbage", Date.now(), Date.now() + 60_000, "{not json");
        db.close();
      },
      cleanup: () => broker.close(),
    };
  },
  async rabbitmq() {
    const queue = uniqueQueue("cli_registry");
    const url = await amqpUrl();
    const store = await redisStore(uniqueNamespace("dramats-cli-registry"));
    const broker = new RabbitmqBroker({ url, middleware: [] });
    return {
      queue,
      args: ["--broker", url, "--store", store.url],
      broker,
      corrupt: store.corrupt,
      async cleanup() {
        await broker.close();
        await deleteQueues(url, [queue]);
        await store.cleanup();
      },
    };
  },
};

for (const [name, setUp] of Object.entries(setups)) {
  describe(`dramats workers and dramats health on ${name} (acceptance)`, function () {
    this.timeout(60_000);
    const spec = cliSpec("dramats-cli-registry-");
    let s: Setup;
    beforeEach(async () => {
      s = await setUp(spec.dir);
      s.broker.declareQueue(s.queue);
    });
    afterEach(async () => {
      spec.destroyAll();
      await s.cleanup();
    });

    const start = (env: NodeJS.ProcessEnv = {}): CliRun =>
      spec.start([APP, ...FAST, ...s.args], { env: { CLI_SPEC_QUEUE: s.queue, CLI_SPEC_OUT: spec.out, ...env } });
    const operator = (...args: string[]): Promise<OperatorRun> => runOperator([...args, ...s.args]);
    const send = (actorName: string, tag: string) => s.broker.enqueue(new Message({ queueName: s.queue, actorName, args: [tag] }));

    /** `dramats workers --json` until `check` holds for its workers. */
    async function workersUntil(check: (workers: any[]) => boolean, timeout = 20_000): Promise<any[]> {
      const deadline = Date.now() + timeout;
      for (;;) {
        const run = await operator("workers", "--json");
        expect(run.code, run.stderr).to.equal(0);
        const workers = run.json().workers as any[];
        if (check(workers)) return workers;
        if (Date.now() > deadline) throw new Error(`dramats workers never showed that: ${JSON.stringify(workers)}`);
      }
    }

    it("lists the process with its fields and its running message, health passes, and after SIGTERM shows it stopped and health fails", async () => {
      const run = start();
      await run.waitFor(isBootLine);
      const [live] = await workersUntil((w) => w.length === 1);
      const workerPid = run.lines.find((l) => l.msg === "Worker started")!.pid;
      expect(live).to.include({ version: 1, pid: workerPid, supervisorPid: run.pid, status: "live", state: "running", concurrency: 2, interval: 1_000, ttl: 12_000 });
      expect(live.queues).to.deep.equal([s.queue]);
      expect(live.nodeVersion).to.equal(process.version);
      expect(live.dramatsVersion).to.match(/^\d+\.\d+\.\d+/);
      expect(live.rss).to.be.greaterThan(1_000_000);
      expect(live).to.have.all.keys(["version", "id", "host", "pid", "supervisorPid", "dramatsVersion", "nodeVersion", "queues", "concurrency", "startedAt", "lastBeat",
        "interval", "ttl", "state", "rss", "cpu", "eventLoopLag", "counters", "running", "runningCount", "status", "lastBeatAgeMs"]);
      expect(Date.parse(live.startedAt)).to.be.at.most(Date.parse(live.lastBeat));

      await send("flop", "f1");
      const message = await send("nap", "n1");
      await until(() => recordsIn(spec.out).some(([, event, tag]) => event === "start" && tag === "n1"), 15_000);
      const busy = await workersUntil((w) => w[0]?.running.length === 1 && w[0].counters.failed === 2);
      expect(busy[0].counters).to.deep.equal({ processed: 2, failed: 2, retried: 1 });
      const running = await operator("workers", "--running", "--json");
      expect(running.code).to.equal(0);
      expect(running.json().running).to.have.length(1);
      expect(running.json().running[0]).to.include({ id: message.messageId, actor: "nap", queue: s.queue, pid: workerPid });
      expect(running.json().running[0].elapsedMs).to.be.within(0, 10_000);
      const table = await operator("workers", "--running");
      expect(table.stdout).to.match(new RegExp(`${message.messageId}\\s+nap\\s+${s.queue}`));

      const healthy = await operator("health");
      expect([healthy.code, healthy.stdout.trim()]).to.deep.equal([0, "healthy: 1 queue served"]);
      const other = await operator("health", "--queue", s.queue, "--queue", "nobody-consumes-this");
      expect([other.code, other.stdout.trim()]).to.deep.equal([1, "queue nobody-consumes-this: no worker consumes it"]);

      writeFileSync(`${spec.out}.release`, "");
      expect(await run.stop()).to.equal(0);
      const [stopped] = await workersUntil((w) => w.length === 1 && w[0].status === "stopped", 10_000);
      expect(stopped.counters.processed).to.equal(3);
      expect(stopped.running).to.deep.equal([]);
      const after = await operator("health");
      expect(after.code).to.equal(1);
      expect(after.stdout).to.match(new RegExp(`^queue ${s.queue}: no live worker consumes it: the latest, .* pid ${workerPid}, is stopped`));
    });

    it("skips a corrupt record, and shows a SIGKILLed process as dead", async () => {
      const run = start();
      await run.waitFor(isBootLine);
      await workersUntil((w) => w.length === 1);
      await s.corrupt();
      const [only] = await workersUntil(() => true);
      expect(only).to.include({ status: "live" });
      const table = await operator("workers");
      expect(table.code).to.equal(0);
      expect(table.stdout).to.match(/live/);

      run.destroy();
      const [dead] = await workersUntil((w) => w.length === 1 && w[0].status === "dead", 10_000);
      expect(dead.state).to.equal("running");
      const health = await operator("health", "--max-age", "60");
      expect(health.code).to.equal(1);
      expect(health.stdout).to.match(/is dead, last beat \d+s ago/);
    });
  });
}

describe("dramats workers and dramats health, failing", function () {
  this.timeout(30_000);
  it("health exits 1 when no worker has registered and no --queue names one", async () => {
    const server = new URL(await redisUrl());
    server.searchParams.set("namespace", uniqueNamespace("dramats-cli-registry-empty"));
    const run = await runOperator(["health", "--broker", server.href]);
    expect([run.code, run.stdout.trim()]).to.deep.equal([1, "unhealthy: no worker has registered (no queue to check: name them with --queue Q)"]);
  });

  it("exit 3 when the store does not answer", async () => {
    for (const command of ["workers", "health"]) {
      const run = await runOperator([command, "--broker", "memory://", "--store", "redis://127.0.0.1:1", "--timeout", "2000"]);
      expect(run.code, `${command}: ${run.stderr}`).to.equal(3);
      expect(run.stderr).to.match(/Cannot reach the store \(redis:\/\/127\.0\.0\.1:1\)/);
    }
  });

  it("exits 2 and says to pass the store the workers were given", async () => {
    const run = await runOperator(["workers", "--broker", await amqpUrl()]);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.match(/RabbitmqBroker has no store for the worker registry: pass --store URL/);
  });
});
