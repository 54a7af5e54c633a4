import { expect } from "chai";
import { StubBroker } from "../brokers/stub.ts";
import {
  actor,
  BucketRateLimiter,
  ConcurrentRateLimiter,
  RateLimit,
  RateLimitExceeded,
  Retries,
  StubRateLimiterBackend,
  WindowRateLimiter,
  Worker,
} from "../lib/index.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("rate limiters (stub backend)", () => {
  it("ConcurrentRateLimiter never lets more than `limit` calls overlap", async () => {
    const limiter = new ConcurrentRateLimiter(new StubRateLimiterBackend(), "sem", { limit: 2 });
    const spans: [number, number][] = [];
    await Promise.all(
      Array.from({ length: 8 }, () =>
        limiter.acquire(async () => {
          const start = performance.now();
          await sleep(10);
          spans.push([start, performance.now()]);
        }, { wait: 5_000 }),
      ),
    );
    expect(spans).to.have.length(8);
    for (const [start] of spans) {
      const overlapping = spans.filter(([s, e]) => s <= start && start < e).length;
      expect(overlapping).to.be.at.most(2);
    }
  });

  it("ConcurrentRateLimiter throws RateLimitExceeded when full and not asked to wait, and frees slots of dead holders after ttl", async () => {
    const backend = new StubRateLimiterBackend();
    const limiter = new ConcurrentRateLimiter(backend, "mutex", { limit: 1, ttl: 50 });
    expect(await backend.acquireSlot("mutex", "dead-holder", 1, 50)).to.equal(true);
    const error = await limiter.acquire(() => 1).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(RateLimitExceeded);
    expect(await limiter.acquire(() => "ran", { wait: 1_000 })).to.equal("ran");
  });

  it("WindowRateLimiter admits `limit` calls per sliding window", async () => {
    const limiter = new WindowRateLimiter(new StubRateLimiterBackend(), "win", { limit: 3, window: 200 });
    const results = await Promise.all(Array.from({ length: 5 }, () => limiter.acquire(() => true).catch(() => false)));
    expect(results.filter(Boolean)).to.have.length(3);
    await sleep(220);
    expect(await limiter.acquire(() => true)).to.equal(true);
  });

  it("BucketRateLimiter allows a burst of `capacity`, then refills over time", async () => {
    const limiter = new BucketRateLimiter(new StubRateLimiterBackend(), "bucket", { capacity: 2, period: 100 });
    const burst = await Promise.all(Array.from({ length: 3 }, () => limiter.acquire(() => true).catch(() => false)));
    expect(burst.filter(Boolean)).to.have.length(2);
    await sleep(60);
    expect(await limiter.acquire(() => true)).to.equal(true);
  });

  it("validates its options", () => {
    expect(() => new WindowRateLimiter(new StubRateLimiterBackend(), "w", { limit: 0, window: 1 })).to.throw(RangeError, "limit");
    expect(() => new BucketRateLimiter(new StubRateLimiterBackend(), "b", { capacity: 1, period: Infinity })).to.throw(RangeError, "period");
    expect(() => new ConcurrentRateLimiter(new StubRateLimiterBackend(), "")).to.throw(RangeError, "key");
  });

  it("keeps its options as fields, with the concurrent limiter's defaults", () => {
    const backend = new StubRateLimiterBackend();
    expect(new ConcurrentRateLimiter(backend, "c")).to.include({ backend, key: "c", limit: 1, ttl: 900_000 });
    expect(new WindowRateLimiter(backend, "w", { limit: 3, window: 200 })).to.include({ limit: 3, window: 200 });
    expect(new BucketRateLimiter(backend, "b", { capacity: 2, period: 100 })).to.include({ capacity: 2, period: 100 });
  });
});

describe("RateLimit middleware", () => {
  it("holds an actor to its rateLimit by requeueing, without using up retries", async () => {
    const broker = new StubBroker({ middleware: [new RateLimit({ backend: new StubRateLimiterBackend() }), new Retries({ maxRetries: 0 })] });
    const runs: number[] = [];
    const limited = actor(function limitedActor(n: number) { runs.push(Date.now()); return n; }, { broker, rateLimit: { limit: 5, window: 200 } });
    const worker = new Worker(broker, { fetchTimeout: 50, concurrency: 8 });
    await worker.start();
    for (let i = 0; i < 12; i++) await limited.send(i);
    await broker.join("default", { timeout: 5_000 });
    await worker.stop();
    expect(runs).to.have.length(12);
    expect((await broker.depths("default")).dead).to.equal(0);
    runs.sort((a, b) => a - b);
    for (let i = 5; i < runs.length; i++) expect(runs[i]! - runs[i - 5]!).to.be.at.least(195);
  });
});
