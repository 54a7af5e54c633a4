// The overview's warning badges: only when something is wrong, each on its own condition.
import { expect } from "chai";
import { StubBroker } from "../../brokers/stub.ts";
import { OverviewBuilder } from "../../lib/dashboard/overview.ts";
import type { Sparkline } from "../../lib/dashboard/history.ts";
import { actor, Message } from "../../lib/index.ts";
import type { WorkerRecord } from "../../lib/worker-registry.ts";

const MINUTE = 60_000;

function record(queues: string[], lastBeat: number): WorkerRecord {
  return {
    version: 1, id: `host/1/${lastBeat}`, host: "host", pid: 1, supervisorPid: null, dramatsVersion: "0", nodeVersion: "v20",
    queues, concurrency: 8, startedAt: lastBeat - MINUTE, lastBeat, interval: 60_000, ttl: 600_000, state: "running",
    rss: 1, cpu: 0, eventLoopLag: 0, counters: { processed: 0, failed: 0, retried: 0 }, running: [], runningCount: 0,
  };
}

describe("dashboard overview warnings", () => {
  let broker: StubBroker;
  let workers: WorkerRecord[];
  let lines: Map<string, Sparkline>;
  let builder: OverviewBuilder;
  const codes = async (now: number) => (await builder.build(now)).queues.find((q) => q.name === "ov")!.warnings.map((w) => w.code);
  const enqueue = async (n: number) => {
    for (let i = 0; i < n; i++) await broker.enqueue(new Message({ queueName: "ov", actorName: "ov_job", args: [i] }));
  };

  beforeEach(() => {
    broker = new StubBroker({ middleware: [] });
    actor(function ov_job(_n: number) {}, { broker, queueName: "ov" });
    workers = [];
    lines = new Map();
    builder = new OverviewBuilder({ broker, workers: async () => workers, sparklines: async () => lines });
  });
  afterEach(() => broker.close());

  it("shows none for a served queue that keeps up, and none for an empty queue without consumers", async () => {
    const now = Date.now();
    expect(await codes(now)).to.deep.equal([]);
    workers = [record(["ov"], now)];
    await enqueue(3);
    expect(await codes(now)).to.deep.equal([]);
  });

  it("warns when messages wait and no live worker consumes the queue (a dead one does not count)", async () => {
    const now = Date.now();
    workers = [record(["ov"], now - 10 * MINUTE)];
    expect(await codes(now), "no message waits").to.deep.equal([]);
    await enqueue(1);
    expect(await codes(now)).to.deep.equal(["no_consumers"]);
    workers = [record(["ov"], now)];
    expect(await codes(now)).to.deep.equal([]);
  });

  it("warns of a growing backlog only against a reading a minute or more old, and of new dead letters", async () => {
    const now = Date.now();
    workers = [record(["ov"], now)];
    await enqueue(5);
    expect(await codes(now)).to.deep.equal([]);
    await enqueue(20);
    expect(await codes(now + 30_000), "30 s is too soon to call it growth").to.deep.equal([]);
    workers = [record(["ov"], now + MINUTE)];
    expect(await codes(now + MINUTE)).to.deep.equal(["backlog_growing"]);

    const consumer = broker.consume("ov", { prefetch: 1 });
    const [delivery] = await consumer.fetch(1, 1_000);
    await consumer.nack(delivery!, "Boom");
    await consumer.close();
    workers = [record(["ov"], now + 2 * MINUTE)];
    expect(await codes(now + 2 * MINUTE)).to.include("dead_letters_growing");
  });

  it("warns of a stall: consumers connected, nothing processed for 3 minutes, the oldest ready message over 2 minutes old", async () => {
    await enqueue(1);
    // Five minutes later, as the overview sees it.
    const now = Date.now() + 5 * MINUTE;
    workers = [record(["ov"], now)];
    lines.set("ov", { processed: [...Array(57).fill(4), 0, 0, 0], failed: Array(60).fill(0) });
    const oldest = (await builder.build(now)).queues[0]!.oldestAge;
    expect(oldest, "the stub reports the oldest ready message's age").to.be.greaterThan(2 * MINUTE);
    expect(await codes(now)).to.deep.equal(["stalled"]);
    lines.set("ov", { processed: [...Array(57).fill(4), 0, 1, 0], failed: Array(60).fill(0) });
    expect(await codes(now), "one message in the last 3 minutes: not stalled").to.deep.equal([]);
  });

  it("shows a paused queue as paused, not as unserved", async () => {
    builder = new OverviewBuilder({ broker, workers: async () => [], paused: async () => new Set(["ov"]) });
    await enqueue(2);
    expect(await codes(Date.now())).to.deep.equal(["paused"]);
  });
});
