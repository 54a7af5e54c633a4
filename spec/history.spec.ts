// The fleet history: the log-scale duration histogram (bounds, percentile accuracy, merging),
// the FleetHistory middleware counting real messages run by a real Worker on the stub broker
// (minute rollover by an injected clock, shutdown write, writes that never hold up messages),
// bounded buckets, and readHistory / sparklines merging worker processes.
import { expect } from "chai";
import { StubBroker } from "../brokers/stub.ts";
import { actor } from "../lib/actor.ts";
import { historyFor } from "../lib/cli/history.ts";
import { readHistory, sparklines } from "../lib/dashboard/history.ts";
import { bucketLower, bucketOf, bucketUpper, HISTOGRAM_BUCKETS, mergeCounts, percentile, toSparse, addSparse } from "../lib/duration-histogram.ts";
import { InvalidOptions, MessageCancelled } from "../lib/errors.ts";
import { HISTORY_STEP, MAX_PAIRS, MemoryHistoryStore, OTHER, type HistoryBucket, type HistoryStore, type StoredBucket } from "../lib/history-store.ts";
import { Worker } from "../lib/worker.ts";
import { FleetHistory } from "../middleware/history.ts";

/** Dense counts of `values`. */
function histogramOf(values: readonly number[]): number[] {
  const counts = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
  for (const v of values) counts[bucketOf(v)]!++;
  return counts;
}

/** The exact `q` quantile by the same rank rule (the smallest value with at least q·n at or below it). */
function exact(sorted: readonly number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

/** A deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function expectWithinBucket(estimate: number | null, truth: number, what: string): void {
  const i = bucketOf(truth);
  const width = bucketUpper(i) - bucketLower(i);
  expect(estimate, what).to.be.a("number");
  expect(Math.abs(estimate! - truth), `${what}: ${estimate} vs ${truth} (bucket width ${width})`).to.be.at.most(width);
}

/** Polls `check` until it returns true or `ms` pass. */
async function until(check: () => Promise<boolean> | boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sum = (sparse: number[]): number => sparse.filter((_, i) => i % 2 === 1).reduce((a, b) => a + b, 0);

describe("the duration histogram", () => {
  it("has 40 log-scale buckets from 1 ms, 1 h inside the last finite one", () => {
    expect([bucketOf(0), bucketOf(1), bucketOf(-3), bucketOf(NaN), bucketOf(1.2), bucketOf(1.5), bucketOf(1.6)]).to.deep.equal([0, 0, 0, 0, 1, 1, 2]);
    expect(bucketOf(3_600_000)).to.equal(38);
    expect(bucketOf(1e10)).to.equal(39);
    for (let i = 1; i < 39; i++) expect(bucketOf(bucketUpper(i) * 0.999), `bucket ${i}`).to.equal(i);
  });

  it("reads percentiles within a bucket's width on known distributions", () => {
    const uniform = Array.from({ length: 10_000 }, (_, i) => i + 1);
    const next = random(7);
    const exponential = Array.from({ length: 20_000 }, () => -Math.log(1 - next()) * 200);
    const bimodal = [...Array.from({ length: 900 }, () => 5 + next() * 5), ...Array.from({ length: 100 }, () => 60_000 + next() * 60_000)];
    for (const [name, values] of Object.entries({ uniform, exponential, bimodal })) {
      const counts = histogramOf(values);
      const sorted = [...values].sort((a, b) => a - b);
      for (const q of [0.5, 0.95, 0.99]) expectWithinBucket(percentile(counts, q), exact(sorted, q), `${name} p${q * 100}`);
    }
    expect(percentile(new Array(HISTOGRAM_BUCKETS).fill(0), 0.5)).to.equal(null);
  });

  it("merges: two workers' counts added read as one histogram of all the values", () => {
    const next = random(3);
    const a = Array.from({ length: 3_000 }, () => next() * 50);
    const b = Array.from({ length: 1_000 }, () => 1_000 + next() * 9_000);
    const merged = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
    mergeCounts(merged, histogramOf(a));
    expect(addSparse(merged, toSparse(histogramOf(b)))).to.equal(true);
    expect(merged).to.deep.equal(histogramOf([...a, ...b]));
    const sorted = [...a, ...b].sort((x, y) => x - y);
    expectWithinBucket(percentile(merged, 0.5), exact(sorted, 0.5), "p50");
    expectWithinBucket(percentile(merged, 0.95), exact(sorted, 0.95), "p95");
    expect(addSparse(merged, [1, 2, 3]), "odd length").to.equal(false);
    expect(addSparse(merged, [40, 1]), "past the last bucket").to.equal(false);
  });
});

describe("the FleetHistory middleware", function () {
  this.timeout(15_000);
  let broker: StubBroker;
  afterEach(() => broker.close());

  it("counts a real worker's messages per queue, actor and minute, rolled over by the clock, the message after, and the shutdown", async () => {
    broker = new StubBroker();
    const store = broker.historyStore;
    const m0 = Math.floor(Date.now() / HISTORY_STEP) * HISTORY_STEP - 10 * HISTORY_STEP;
    let now = m0 + 1_000;
    const history = new FleetHistory({ store, workerId: "w1", clock: () => now });
    broker.addMiddleware(history);
    const ok = actor(async function hist_ok() {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }, { queueName: "hist-a", broker });
    const flop = actor(function hist_flop() {
      throw new Error("flop");
    }, { queueName: "hist-a", broker, maxRetries: 0 });
    const cancelled = actor(function hist_cancelled() {
      throw new MessageCancelled("cancelled");
    }, { queueName: "hist-b", broker, maxRetries: 0 });
    const late = actor(function hist_late() {}, { queueName: "hist-b", broker });
    const worker = new Worker(broker, { queues: ["hist-a", "hist-b"] });
    await worker.start();
    for (let i = 0; i < 5; i++) await ok.send();
    await flop.send();
    await flop.send();
    await cancelled.send();
    await late.sendWithOptions({ args: [], delay: 300 });
    await broker.join("hist-a", { failFast: false });
    await broker.join("hist-b", { failFast: false });

    // The timer's tick once the minute ended: minute m0 is written.
    now = m0 + HISTORY_STEP + 1_000;
    history.tick();
    await until(async () => (await store.read(m0, m0)).length === 1);
    const [first] = await store.read(m0, m0);
    expect(first!.workerId).to.equal("w1");
    const pairs = new Map(first!.bucket.pairs.map((p) => [`${p.queue}/${p.actor}`, p]));
    expect([...pairs.keys()].sort()).to.deep.equal(["hist-a/hist_flop", "hist-a/hist_ok", "hist-b/hist_late"]);
    expect(pairs.get("hist-a/hist_ok")).to.include({ processed: 5, failed: 0 });
    expect(pairs.get("hist-a/hist_flop")).to.include({ processed: 2, failed: 2 });
    const okRun = pairs.get("hist-a/hist_ok")!.run;
    expect(sum(okRun)).to.equal(5);
    const dense = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
    addSparse(dense, okRun);
    expect(percentile(dense, 0.5)).to.be.within(13, 60);
    // The delayed message waited from its eta (300 ms after its enqueue), not from its enqueue.
    const lateWait = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
    addSparse(lateWait, pairs.get("hist-b/hist_late")!.wait);
    expect(percentile(lateWait, 0.99)).to.be.below(250);

    // Minute m0+1: the first message past its end rolls it over, no tick needed.
    for (let i = 0; i < 3; i++) await ok.send();
    await broker.join("hist-a");
    now = m0 + 2 * HISTORY_STEP + 1_000;
    await ok.send();
    await broker.join("hist-a");
    await until(async () => (await store.read(m0 + HISTORY_STEP, m0 + HISTORY_STEP)).length === 1);
    expect((await store.read(m0 + HISTORY_STEP, m0 + HISTORY_STEP))[0]!.bucket.pairs).to.have.length(1).and.to.have.nested.property("[0].processed", 3);

    // The shutdown writes the partial minute m0+2.
    await worker.stop();
    const last = await store.read(m0 + 2 * HISTORY_STEP, m0 + 2 * HISTORY_STEP);
    expect(last.map((b) => b.bucket.pairs.map((p) => [p.actor, p.processed]))).to.deep.equal([[["hist_ok", 1]]]);
  });

  it("never waits for a store that does not answer, and keeps failed minutes for the next write", async () => {
    let now = Math.floor(Date.now() / HISTORY_STEP) * HISTORY_STEP - 30 * HISTORY_STEP;
    let calls = 0;
    const hung: HistoryStore = { write: () => (calls++, new Promise(() => {})), read: async () => [] };
    broker = new StubBroker({ middleware: [] });
    const history = new FleetHistory({ store: hung, clock: () => now });
    broker.addMiddleware(history);
    let ran = 0;
    const bump = actor(function hist_bump() {
      ran++;
    }, { queueName: "hist-hung", broker });
    const worker = new Worker(broker, { queues: ["hist-hung"] });
    await worker.start();
    for (let minute = 0; minute < 5; minute++) {
      for (let i = 0; i < 10; i++) await bump.send();
      await broker.join("hist-hung");
      now += HISTORY_STEP;
      history.tick();
    }
    expect(ran).to.equal(50);
    expect(calls, "one write pending, the later minutes waiting").to.equal(1);
    const started = Date.now();
    await worker.stop();
    expect(Date.now() - started).to.be.below(4_000);

    // A store that fails once: the failed minute is written with the next one.
    const written: number[] = [];
    let fail = true;
    const flaky: HistoryStore = {
      write: async (minute) => {
        if (fail) throw new Error("store down");
        written.push(minute);
      },
      read: async () => [],
    };
    const other = new FleetHistory({ store: flaky, clock: () => now });
    const m = now - (now % HISTORY_STEP);
    other.afterSkipMessage(broker, { queueName: "q", actorName: "a", failed: true } as never);
    now += HISTORY_STEP;
    await other.flush();
    fail = false;
    other.afterSkipMessage(broker, { queueName: "q", actorName: "a", failed: true } as never);
    now += HISTORY_STEP;
    await other.flush();
    expect(written).to.deep.equal([m, m + HISTORY_STEP]);
    await other.close();
  });

  it("keeps buckets bounded: past 200 pairs, the least busy are summed under (other)", async () => {
    broker = new StubBroker();
    const store = broker.historyStore;
    let now = Math.floor(Date.now() / HISTORY_STEP) * HISTORY_STEP - 20 * HISTORY_STEP;
    const m = now;
    const history = new FleetHistory({ store, clock: () => now });
    broker.addMiddleware(history);
    const actors = Array.from({ length: 300 }, (_, i) => actor(function () {}, { actorName: `hist_many_${i}`, queueName: "hist-many", broker }));
    const worker = new Worker(broker, { queues: ["hist-many"] });
    await worker.start();
    for (const a of actors) await a.send();
    await actors[0]!.send(); // the busiest: kept
    await broker.join("hist-many");
    now += HISTORY_STEP;
    await history.flush();
    await worker.stop();
    const [bucket] = await store.read(m, m);
    const pairs = bucket!.bucket.pairs;
    expect(pairs).to.have.length(MAX_PAIRS);
    expect(pairs.find((p) => p.actor === "hist_many_0")!.processed).to.equal(2);
    const other = pairs.find((p) => p.queue === OTHER && p.actor === OTHER)!;
    expect(other.processed).to.equal(300 - (MAX_PAIRS - 1));
    expect(sum(other.run)).to.equal(other.processed);
    expect(pairs.reduce((n, p) => n + p.processed, 0)).to.equal(301);
  });

  it("is added by the CLI with the worker registry, into the broker's own store, and not with --registry-interval 0", async () => {
    broker = new StubBroker({ middleware: [] });
    expect(historyFor(broker, { store: undefined, registryInterval: 0 }, undefined)).to.equal(undefined);
    const history = historyFor(broker, { store: undefined, registryInterval: 5_000 }, "host/1/abc")!;
    expect(history).to.be.instanceOf(FleetHistory);
    expect(history.workerId).to.equal("host/1/abc");
    expect(historyFor({ constructor: { name: "X" }, middleware: [] } as never, { store: undefined, registryInterval: 5_000 }, undefined)).to.equal(undefined);
    broker.addMiddleware(history);
    expect(historyFor(broker, { store: undefined, registryInterval: 5_000 }, undefined), "the modules' own is kept").to.equal(undefined);
  });
});

function bucket(pairs: [queue: string, actor: string, processed: number, failed: number, waitMs: number, runMs: number][]): HistoryBucket {
  return {
    pairs: pairs.map(([queue, actor, processed, failed, waitMs, runMs]) => ({ queue, actor, processed, failed, wait: [bucketOf(waitMs), processed], run: [bucketOf(runMs), processed] })),
  };
}

describe("readHistory and sparklines", () => {
  const now = Math.floor(Date.now() / HISTORY_STEP) * HISTORY_STEP + 30_000;
  const last = now - (now % HISTORY_STEP) - HISTORY_STEP; // the last finished minute
  let store: MemoryHistoryStore;
  beforeEach(async () => {
    store = new MemoryHistoryStore();
    await store.write(last, "w1", bucket([["q1", "a", 90, 1, 10, 100]]));
    await store.write(last, "w2", bucket([["q1", "a", 10, 2, 2_000, 100], ["q2", "b", 4, 0, 10, 5_000]]));
    await store.write(last - 59 * HISTORY_STEP, "w1", bucket([["q1", "a", 7, 0, 10, 10]]));
    await store.write(last - 60 * HISTORY_STEP, "w1", bucket([["q1", "a", 1_000, 0, 10, 10]])); // outside the hour
    await store.write(last + HISTORY_STEP, "w1", bucket([["q1", "a", 1_000, 0, 10, 10]])); // the current minute
  });

  it("merges workers and pairs into one point per finished minute, oldest first", async () => {
    const h = await readHistory(store, { minutes: 60, now });
    expect(h).to.include({ minutes: 60, step: 60_000, queue: null, actor: null });
    expect(h.points).to.have.length(60);
    expect(h.points[0]!.t).to.equal(last - 59 * HISTORY_STEP);
    expect(h.points.at(-1)!.t).to.equal(last);
    expect(h.points[0]!.processed).to.equal(7);
    expect(h.points.at(-1)).to.deep.include({ processed: 104, failed: 3 });
    expect(h.points[1]).to.deep.equal({ t: last - 58 * HISTORY_STEP, processed: 0, failed: 0, wait: { p50: null, p95: null, p99: null }, run: { p50: null, p95: null, p99: null } });
    const wait = h.points.at(-1)!.wait;
    expectWithinBucket(wait.p50, 10, "merged wait p50"); // 94 of 104 waited 10 ms
    expectWithinBucket(wait.p95, 2_000, "merged wait p95");
    expect(h.queues).to.deep.equal(["q1", "q2"]);
    expect(h.actors).to.deep.equal(["a", "b"]);
  });

  it("filters by queue and actor, and refuses a window it cannot read", async () => {
    const q1 = await readHistory(store, { minutes: 60, queue: "q1", now });
    expect(q1.points.at(-1)).to.deep.include({ processed: 100, failed: 3 });
    expect(q1.actors).to.deep.equal(["a"]);
    const b = await readHistory(store, { minutes: 1440, actor: "b", now });
    expect(b.points).to.have.length(1440);
    expect(b.points.at(-1)!.processed).to.equal(4);
    expectWithinBucket(b.points.at(-1)!.run.p99, 5_000, "run p99");
    expect(b.points.reduce((n, p) => n + p.processed, 0)).to.equal(4);
    for (const minutes of [0, 1441, 1.5]) await readHistory(store, { minutes, now }).then(() => expect.fail(`${minutes}`), (e: unknown) => expect(e).to.be.instanceOf(InvalidOptions));
  });

  it("gives the overview's per-queue sparklines from one read", async () => {
    let reads = 0;
    const counting: HistoryStore = { write: (...a) => store.write(...a), read: (from, to): Promise<StoredBucket[]> => (reads++, store.read(from, to)) };
    const lines = await sparklines(counting, now);
    expect(reads).to.equal(1);
    expect([...lines.keys()].sort()).to.deep.equal(["q1", "q2"]);
    expect(lines.get("q1")!.processed).to.have.length(60);
    expect(lines.get("q1")!.processed[0]).to.equal(7);
    expect(lines.get("q1")!.processed[59]).to.equal(100);
    expect(lines.get("q1")!.failed[59]).to.equal(3);
    expect(lines.get("q2")!.processed.reduce((a, b) => a + b)).to.equal(4);
  });
});
