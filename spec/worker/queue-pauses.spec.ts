// Fleet-wide queue pauses with a library Worker on real brokers: once the flag is set no message
// of the queue starts (after the ~1 s the poll may take), what was prefetched is given back and
// shows as ready, and on resume every message runs exactly once.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { PostgresBroker } from "../../brokers/postgres/index.ts";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { SqliteBroker } from "../../brokers/sqlite/index.ts";
import { StubBroker } from "../../brokers/stub.ts";
import { actor, configureLogging, InvalidOptions, MemoryKeyValueStore, Worker, type Broker } from "../../lib/index.ts";
import { pausedQueues, pauseKey, pauseQueue, queuePause, resumeQueue } from "../../lib/queue-pauses.ts";
import { tempDatabase, waitFor } from "../fixtures/sqlite-files.ts";
import { dropSchema, postgresUrl, uniqueSchema } from "../helpers/postgres.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "../helpers/redis.ts";

/** The time the worker's poll may take to see a flag, with room for a loaded machine (ms). */
const GRACE = 1_500;
/** How long the spec watches a paused queue for a message that should not start (ms). */
const WATCH = 1_000;

const places: Record<string, () => Promise<{ broker: () => Broker; cleanup(): Promise<void> }>> = {
  Redis: async () => {
    const url = await redisUrl();
    const namespace = uniqueNamespace("pauses");
    return { broker: () => new RedisBroker({ url, namespace, middleware: [] }), cleanup: async () => void (await deleteNamespace(namespace)) };
  },
  SQLite: async () => {
    const db = tempDatabase();
    return { broker: () => new SqliteBroker({ path: db.path, middleware: [] }), cleanup: async () => db.cleanup() };
  },
  // Its store announces flag changes (NOTIFY): the worker reads on change, not every 500 ms.
  PostgreSQL: async () => {
    const schema = uniqueSchema("pauses");
    return { broker: () => new PostgresBroker({ url: postgresUrl(), schema, middleware: [], poolSize: 3 }), cleanup: () => dropSchema(schema) };
  },
};

for (const [name, open] of Object.entries(places)) {
  describe(`${name} broker: fleet-wide queue pauses with a Worker`, function () {
    this.timeout(60_000);
    let broker: Broker;
    let worker: Worker | undefined;
    let cleanup: () => Promise<void>;
    let queue: string;

    beforeEach(async () => {
      const place = await open();
      broker = place.broker();
      cleanup = place.cleanup;
      queue = `paused_${randomUUID().slice(0, 8)}`;
    });

    afterEach(async () => {
      await worker?.stop();
      worker = undefined;
      await broker.close();
      await cleanup();
    });

    it("starts no message after the flag is set (within the poll), gives back what it held, and runs everything once on resume", async () => {
      const N = 400;
      const starts: { id: string; at: number }[] = [];
      let finished = 0;
      const slow = actor(
        async function pausable(this: { message?: { messageId: string } }) {
          starts.push({ id: this.message!.messageId, at: Date.now() });
          await new Promise((resolve) => setTimeout(resolve, 25));
          finished++;
        },
        { broker, queueName: queue },
      );
      const sent = await slow.sendMany(Array.from({ length: N }, () => []));
      worker = new Worker(broker, { queues: [queue], concurrency: 4 });
      await worker.start();
      await waitFor(() => starts.length >= 40, 20_000, "messages to flow");

      await pauseQueue(broker.store!, queue, { by: "spec" });
      const flagSet = Date.now();
      expect(await pausedQueues(broker.store!, [queue, "not_paused"])).to.deep.equal(new Set([queue]));
      expect((await queuePause(broker.store!, queue))?.by).to.equal("spec");
      await waitFor(
        async () => worker!.pausedQueues.includes(queue) && worker!.inFlight === 0 && (await broker.depths(queue)).ready === N - starts.length,
        10_000,
        "the worker to see the pause, finish what runs and give back the rest",
      );
      const startedBeforePause = starts.length;
      expect(N - startedBeforePause, "messages left for after the resume (else this test proves nothing)").to.be.greaterThan(50);
      await new Promise((resolve) => setTimeout(resolve, WATCH));
      expect(starts.length, "no message started while paused").to.equal(startedBeforePause);
      expect(Math.max(...starts.map((s) => s.at)) - flagSet).to.be.at.most(GRACE);
      const depths = await broker.depths(queue);
      expect(depths.ready).to.equal(N - startedBeforePause);
      expect(depths.inFlight).to.equal(0);

      await resumeQueue(broker.store!, queue);
      expect(await queuePause(broker.store!, queue)).to.equal(undefined);
      await waitFor(() => finished === N, 30_000, "every message to run after the resume");
      expect(worker.pausedQueues).to.deep.equal([]);
      expect(starts.length).to.equal(N);
      expect(new Set(starts.map((s) => s.id))).to.deep.equal(new Set(sent.map((m) => m.messageId)));
      await waitFor(async () => (await broker.depths(queue)).ready === 0 && (await broker.depths(queue)).inFlight === 0, 10_000, "the queue to be empty");
    });

    it("does not start what it prefetched before the pause (slow actors, a deep prefetch)", async () => {
      const N = 16;
      const starts: number[] = [];
      let finished = 0;
      const slow = actor(
        async () => {
          starts.push(Date.now());
          await new Promise((resolve) => setTimeout(resolve, 200));
          finished++;
        },
        { broker, queueName: queue, actorName: "pause_slow" },
      );
      await slow.sendMany(Array.from({ length: N }, () => []));
      // Ten held for each one running: without the give-back they would start one by one over 2 s.
      worker = new Worker(broker, { queues: [queue], concurrency: 1, prefetch: 11 });
      await worker.start();
      await waitFor(() => starts.length >= 2, 20_000, "messages to flow");
      await pauseQueue(broker.store!, queue);
      const flagSet = Date.now();
      await waitFor(async () => worker!.inFlight === 0 && (await broker.depths(queue)).ready === N - starts.length, 10_000, "the held messages to be given back");
      await new Promise((resolve) => setTimeout(resolve, WATCH));
      expect(Math.max(...starts) - flagSet).to.be.at.most(GRACE);
      expect(starts.length).to.be.at.most(8);
      await resumeQueue(broker.store!, queue);
      await waitFor(() => finished === N, 30_000, "every message to run after the resume");
      expect(starts.length).to.equal(N);
    });

    it("starts nothing of a queue paused before it starts; stops gracefully while paused, losing nothing", async () => {
      let ran = 0;
      const task = actor(() => void ran++, { broker, queueName: queue, actorName: "pause_count" });
      await pauseQueue(broker.store!, queue);
      await task.sendMany([[], [], [], [], []]);
      worker = new Worker(broker, { queues: [queue], concurrency: 2 });
      await worker.start();
      expect(worker.pausedQueues).to.deep.equal([queue]);
      await new Promise((resolve) => setTimeout(resolve, WATCH));
      expect(ran).to.equal(0);
      await worker.stop();
      expect(await broker.depths(queue)).to.include({ ready: 5, inFlight: 0 });
      await resumeQueue(broker.store!, queue);
      worker = new Worker(broker, { queues: [queue], concurrency: 2 });
      await worker.start();
      await waitFor(() => ran === 5, 10_000, "the five messages to run");
    });
  });
}

describe("Worker pause options", () => {
  it("ignores the flags with pausePoll 0, and reads them from pauseStore when given one", async () => {
    const broker = new StubBroker({ middleware: [] });
    const elsewhere = new MemoryKeyValueStore();
    const seen: string[] = [];
    const a = actor((tag: string) => void seen.push(tag), { broker, queueName: "pause_opts", actorName: "pause_opts" });
    await pauseQueue(broker.store, "pause_opts");
    const off = new Worker(broker, { pausePoll: 0 });
    const other = new Worker(broker, { pauseStore: elsewhere, pausePoll: 20 });
    try {
      await off.start();
      await a.send("while off");
      await waitFor(() => seen.length === 1, 5_000, "a message to run with polling off");
      await off.stop();
      await pauseQueue(elsewhere, "pause_opts");
      await other.start();
      expect(other.pausedQueues).to.deep.equal(["pause_opts"]);
      await a.send("held");
      await resumeQueue(elsewhere, "pause_opts");
      await waitFor(() => seen.length === 2, 5_000, "the message to run once the other store resumed the queue");
      expect(await broker.store.get(pauseKey("pause_opts")), "the broker's own flag is still set").to.not.equal(undefined);
    } finally {
      await off.stop();
      await other.stop();
      await broker.close();
    }
  });

  it("holds a queue declared after the start until its flag is read: a paused one starts nothing", async () => {
    const broker = new StubBroker({ middleware: [] });
    const worker = new Worker(broker, { pausePoll: 50 });
    const seen: string[] = [];
    try {
      await worker.start();
      await pauseQueue(broker.store, "late_paused");
      const late = actor((tag: string) => void seen.push(tag), { broker, queueName: "late_paused", actorName: "late_paused" });
      const open = actor((tag: string) => void seen.push(tag), { broker, queueName: "late_open", actorName: "late_open" });
      await late.send("paused");
      await open.send("open");
      await waitFor(() => seen.includes("open"), 5_000, "the message of the queue not paused");
      await waitFor(() => worker.pausedQueues.includes("late_paused"), 5_000, "the worker to read the late queue's flag");
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(seen).to.deep.equal(["open"]);
      await resumeQueue(broker.store, "late_paused");
      await waitFor(() => seen.length === 2, 5_000, "the late queue's message after the resume");
    } finally {
      await worker.stop();
      await broker.close();
    }
  });

  it("treats a store that fails as nothing paused, and says so once", async () => {
    const db = tempDatabase();
    const closed = new SqliteBroker({ path: db.path, middleware: [] });
    await closed.close();
    const warnings: string[] = [];
    configureLogging({ level: "warn" }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
    const broker = new StubBroker({ middleware: [] });
    let ran = 0;
    const a = actor(() => void ran++, { broker, queueName: "pause_failing", actorName: "pause_failing" });
    const worker = new Worker(broker, { pauseStore: closed.store, pausePoll: 20 });
    try {
      await worker.start();
      await a.send();
      await waitFor(() => ran === 1, 5_000, "the message to run");
      await waitFor(() => warnings.length > 0, 5_000, "the warning");
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(warnings.filter((w) => w.startsWith("Cannot read queue pause flags"))).to.have.length(1);
    } finally {
      configureLogging();
      await worker.stop();
      await broker.close();
      db.cleanup();
    }
  });

  it("refuses a negative pausePoll and invalid queue names", async () => {
    const broker = new StubBroker({ middleware: [] });
    try {
      expect(() => new Worker(broker, { pausePoll: -1 })).to.throw(InvalidOptions, /pausePoll/);
      let error: unknown;
      await pauseQueue(broker.store, "no spaces").catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(InvalidOptions);
    } finally {
      await broker.close();
    }
  });
});
