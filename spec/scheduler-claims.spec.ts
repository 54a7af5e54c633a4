// Cron ticks are never lost to a failed or interrupted enqueue: on Redis and SQLite the claim
// and the message are one broker step; with a store of another system, a claim left pending
// is sent again after `claimTimeout`.
import Database from "better-sqlite3";
import { expect } from "chai";
import { spawn } from "node:child_process";
import { RedisBroker } from "../brokers/redis/index.ts";
import { SqliteBroker } from "../brokers/sqlite/index.ts";
import { StubBroker } from "../brokers/stub.ts";
import { actor, MemoryKeyValueStore, Message, Middleware, MiddlewareError, Scheduler, Worker, type ActorContext, type Broker } from "../lib/index.ts";
import { tempDatabase, waitFor } from "./fixtures/sqlite-files.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "./helpers/redis.ts";

const DAY = 86_400_000;

/** Fails the first enqueue of each message id it sees with a MiddlewareError (which the chain propagates). */
class FailFirstEnqueue extends Middleware {
  readonly failed: string[] = [];
  readonly #seen = new Set<string>();
  beforeEnqueue(_broker: Broker, message: Message): void {
    const tick = String(message.options.schedule_tick);
    if (this.#seen.has(tick)) return;
    this.#seen.add(tick);
    this.failed.push(tick);
    throw new MiddlewareError(`injected enqueue failure for tick ${tick}`);
  }
}

interface Place {
  /** A new broker on the shared place (the same Redis namespace, the same SQLite file). */
  broker(middleware: Middleware[]): Broker;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

const places: Record<string, () => Promise<Place>> = {
  Redis: async () => {
    const url = await redisUrl();
    const namespace = uniqueNamespace("cron-claims");
    return {
      broker: (middleware) => new RedisBroker({ url, namespace, middleware }),
      env: { REDIS_URL: url, CRON_NAMESPACE: namespace },
      cleanup: async () => void (await deleteNamespace(namespace)),
    };
  },
  SQLite: async () => {
    const db = tempDatabase();
    return {
      broker: (middleware) => new SqliteBroker({ path: db.path, middleware }),
      env: { SQLITE_PATH: db.path },
      cleanup: async () => db.cleanup(),
    };
  },
};

for (const [name, open] of Object.entries(places)) {
  describe(`Scheduler on ${name}: claim and enqueue in one step`, function () {
    this.timeout(30_000);
    let place: Place;
    const closers: (() => Promise<void>)[] = [];
    const runs: number[] = [];

    /** A worker running a daily catch-up actor and a once-a-second actor, both recording their ticks. */
    async function startWorker(middleware: Middleware[]): Promise<Broker> {
      const broker = place.broker([new Scheduler(), ...middleware]);
      function record(this: ActorContext) {
        runs.push(this.message!.options.schedule_tick as number);
      }
      actor(record, { broker, actorName: "daily", schedule: { every: DAY, catchUp: true } });
      actor(record, { broker, actorName: "everySecond", schedule: "* * * * * *" });
      const worker = new Worker(broker, { fetchTimeout: 100 });
      closers.push(async () => {
        await worker.stop({ timeout: 2_000 });
        await broker.close();
      });
      await worker.start();
      return broker;
    }

    beforeEach(async () => {
      place = await open();
      runs.length = 0;
    });

    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
      await place.cleanup();
    });

    it("enqueues a tick whose first enqueue failed exactly once", async () => {
      const faults = new FailFirstEnqueue();
      const broker = await startWorker([faults]);
      const missed = Math.floor(Date.now() / DAY) * DAY;
      await waitFor(() => runs.includes(missed), 10_000, "the caught-up tick to run");
      await broker.join("default");
      expect(faults.failed).to.include(String(missed));
      expect(runs.filter((tick) => tick === missed)).to.have.length(1);
    });

    it("enqueues each tick exactly once when two schedulers race and both fail their first attempts", async () => {
      const [a, b] = [new FailFirstEnqueue(), new FailFirstEnqueue()];
      const brokers = await Promise.all([startWorker([a]), startWorker([b])]);
      const missed = Math.floor(Date.now() / DAY) * DAY;
      await waitFor(() => runs.includes(missed) && runs.filter((tick) => tick !== missed).length >= 3, 15_000, "the caught-up tick and three seconds' ticks");
      for (const broker of brokers) await broker.join("default");
      // Every tick either one failed at least once ran, and ran once (a tick still in flight at the end may be missing).
      const failed = new Set([...a.failed, ...b.failed].map(Number));
      expect(failed.has(missed)).to.equal(true);
      const counts = new Map<number, number>();
      for (const tick of runs) counts.set(tick, (counts.get(tick) ?? 0) + 1);
      expect([...counts.values()].every((n) => n === 1), `ticks ran more than once: ${JSON.stringify([...counts])}`).to.equal(true);
      const seconds = [...counts.keys()].filter((tick) => tick !== missed).sort((x, y) => x - y);
      for (let i = 1; i < seconds.length; i++) expect(seconds[i]! - seconds[i - 1]!, "a tick was lost").to.equal(1_000);
    });

    if (name === "Redis") {
      it("enqueues a tick exactly once when its first write fails in Redis half-way through the script", async () => {
        // A queue key of the wrong type makes the script's message write fail (WRONGTYPE);
        // it is repaired when the tick's second attempt begins.
        const { Redis } = await import("ioredis");
        const redis = new Redis(place.env.REDIS_URL!);
        redis.on("error", () => undefined);
        const corrupt = `${place.env.CRON_NAMESPACE}:default.msgs`;
        await redis.set(corrupt, "not a hash");
        let attempts = 0;
        class RepairOnRetry extends Middleware {
          async beforeEnqueue(): Promise<void> {
            if (++attempts === 2) await redis.del(corrupt);
          }
        }
        closers.push(async () => void redis.disconnect());
        const broker = await startWorker([new RepairOnRetry()]);
        const missed = Math.floor(Date.now() / DAY) * DAY;
        await waitFor(() => runs.includes(missed), 10_000, "the tick to run once the queue is repaired");
        await broker.join("default");
        expect(attempts).to.be.at.least(2);
        expect(runs.filter((tick) => tick === missed)).to.have.length(1);
      });
    }

    if (name === "SQLite") {
      it("enqueues a tick exactly once when its first write finds the file locked past busyTimeout", async () => {
        // Another connection holds the write lock until the tick's second attempt begins.
        const lock = new Database(place.env.SQLITE_PATH!);
        const attempts: number[] = [];
        class UnlockOnRetry extends Middleware {
          beforeEnqueue(): void {
            attempts.push(Date.now());
            if (attempts.length === 2) lock.exec("COMMIT");
          }
        }
        const broker = new SqliteBroker({ path: place.env.SQLITE_PATH!, busyTimeout: 200, middleware: [new Scheduler(), new UnlockOnRetry()] });
        actor(function daily(this: ActorContext) {
          runs.push(this.message!.options.schedule_tick as number);
        }, { broker, schedule: { every: DAY, catchUp: true } });
        const worker = new Worker(broker, { fetchTimeout: 100 });
        closers.push(async () => {
          await worker.stop({ timeout: 2_000 });
          await broker.close();
          if (lock.inTransaction) lock.exec("COMMIT");
          lock.close();
        });
        lock.exec("BEGIN EXCLUSIVE");
        await worker.start();
        const missed = Math.floor(Date.now() / DAY) * DAY;
        await waitFor(() => runs.includes(missed), 10_000, "the tick to run once the lock is gone");
        await broker.join("default");
        expect(attempts.length).to.be.at.least(2);
        expect(runs).to.deep.equal([missed]);
      });
    }

    it("loses no tick when a process is SIGKILLed on its way to enqueue it", async () => {
      const child = spawn(process.execPath, ["--import", "tsx", new URL("./fixtures/cron-killed.ts", import.meta.url).pathname], {
        env: { ...process.env, DRAMATS_LOG_LEVEL: "silent", ...place.env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, sig) => resolve(sig)));
      expect(signal, `the child was to die in its enqueue hook; it said: ${output}`).to.equal("SIGKILL");

      const broker = await startWorker([]);
      const missed = Math.floor(Date.now() / DAY) * DAY;
      await waitFor(() => runs.includes(missed), 10_000, "the tick the killed process was enqueueing to run");
      await broker.join("default");
      expect(runs.filter((tick) => tick === missed)).to.have.length(1);
    });
  });
}

describe("Scheduler with a store of another system: pending claims", function () {
  this.timeout(15_000);
  const closers: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function startWorker(store: MemoryKeyValueStore, runs: number[], middleware: Middleware[]): Promise<StubBroker> {
    const broker = new StubBroker({ middleware: [new Scheduler({ store, claimTimeout: 300 }), ...middleware] });
    actor(function daily(this: ActorContext) {
      runs.push(this.message!.options.schedule_tick as number);
    }, { broker, schedule: { every: DAY, catchUp: true } });
    const worker = new Worker(broker, { fetchTimeout: 50 });
    closers.push(async () => {
      await worker.stop({ timeout: 1_000 });
      await broker.close();
    });
    await worker.start();
    return broker;
  }

  it("does not use a foreign store for a one-step claim, and retries a tick whose enqueue failed", async () => {
    const store = new MemoryKeyValueStore();
    const runs: number[] = [];
    const faults = new FailFirstEnqueue();
    const broker = await startWorker(store, runs, [faults]);
    const missed = Math.floor(Date.now() / DAY) * DAY;
    await waitFor(() => runs.length > 0, 10_000, "the caught-up tick to run");
    await broker.join("default");
    expect(faults.failed).to.deep.equal([String(missed)]);
    expect(runs).to.deep.equal([missed]);
    expect(await store.get(`dramats:schedule:daily:${missed}`)).to.match(/^sent:/);
  });

  it("sends a tick again once a process that claimed it stalls past claimTimeout before enqueueing", async () => {
    const store = new MemoryKeyValueStore();
    const runs: number[] = [];
    // The first process claims the tick, then its enqueue never completes (as if it hung or died).
    let stalled!: () => void;
    const entered = new Promise<void>((resolve) => (stalled = resolve));
    class Stall extends Middleware {
      beforeEnqueue(): Promise<void> {
        stalled();
        return new Promise(() => undefined);
      }
    }
    const first = startWorker(store, runs, [new Stall()]);
    await entered;
    const missed = Math.floor(Date.now() / DAY) * DAY;
    expect(await store.get(`dramats:schedule:daily:${missed}`)).to.match(/^pending:/);
    const second = await startWorker(store, runs, []);
    await waitFor(() => runs.length > 0, 10_000, "the stalled tick to be sent by the second process");
    await second.join("default");
    expect(runs).to.deep.equal([missed]);
    void first;
  });
});
