import { expect } from "chai";
import { StubBroker } from "../../brokers/stub.ts";
import { actor, Worker } from "../../lib/index.ts";
import { IDLE_RESET_MS, MAX_ADAPTIVE, PrefetchWindow } from "../../lib/worker/prefetch-window.ts";

describe("PrefetchWindow", () => {
  it("is pinned at the given prefetch", () => {
    const window = new PrefetchWindow({ concurrency: 4, prefetch: 3 });
    window.finished(0, 0);
    expect([window.adaptive, window.floor, window.size(1, 1)]).to.deep.equal([false, 3, 3]);
  });

  it("starts at 2 x concurrency, grows for quick messages up to its cap, and stays at the floor for slow ones", () => {
    const quick = new PrefetchWindow({ concurrency: 4 });
    expect(quick.size(0, 0)).to.equal(8);
    for (let t = 0; t < 100; t++) quick.finished(0, t * 0.01);
    expect(quick.size(4, 1)).to.equal(MAX_ADAPTIVE);

    const medium = new PrefetchWindow({ concurrency: 4 });
    for (let t = 0; t < 100; t++) medium.finished(1, t);
    // 4 running plus 10 ms of 1 ms messages on 4 slots: 4 x (1 + 10 / 1) = 44.
    expect(medium.size(4, 100)).to.equal(44);

    const slow = new PrefetchWindow({ concurrency: 4 });
    for (let t = 0; t < 100; t++) slow.finished(50, t * 50);
    expect(slow.size(4, 4950)).to.equal(8);
  });

  it("decays where it is read: a long wait for a finish shrinks it before the slow message ends", () => {
    const window = new PrefetchWindow({ concurrency: 4 });
    for (let t = 0; t < 100; t++) window.finished(0, t * 0.01);
    expect(window.size(4, 1)).to.equal(MAX_ADAPTIVE);
    // Nothing has finished for 20 ms while four run: a message takes at least that long now.
    expect(window.size(4, 21)).to.equal(8);
  });

  it("forgets its estimate after an idle spell, and counts a lone start into an idle worker from that start", () => {
    const window = new PrefetchWindow({ concurrency: 2 });
    for (let t = 0; t < 100; t++) window.finished(0, t * 0.01);
    expect(window.size(0, 2)).to.equal(MAX_ADAPTIVE);
    expect(window.size(0, 2 + IDLE_RESET_MS)).to.equal(4);
    for (let t = 0; t < 100; t++) window.finished(0, 1_000 + t * 0.01);
    window.started(1, 1_050);
    // 0.5 ms after the start, not 49 ms after the last finish.
    expect(window.size(1, 1_050.5)).to.be.greaterThan(4);
  });
});

describe("Adaptive prefetch across workers", function () {
  this.timeout(30_000);

  /** Two workers on one broker; each run is recorded with the worker that ran it. */
  function twoWorkers() {
    const broker = new StubBroker();
    const runs: string[] = [];
    const quick = actor(function quick() {}, { broker });
    const slow = actor(
      async function slow(tag: string) {
        runs.push(tag);
        await new Promise((resolve) => setTimeout(resolve, 10));
      },
      { broker, priority: 5 },
    );
    const urgent = actor(function urgent(tag: string) { runs.push(tag); }, { broker, priority: 0 });
    const a = new Worker(broker, { concurrency: 4, fetchTimeout: 100 });
    const b = new Worker(broker, { concurrency: 4, fetchTimeout: 100 });
    return { broker, runs, quick, slow, urgent, a, b };
  }

  it("does not hoard slow messages after a burst of quick ones: both workers share the slow tail, and an urgent message does not wait behind it", async () => {
    const w = twoWorkers();
    try {
      await w.a.start();
      await w.broker.enqueueMany(Array.from({ length: 5_000 }, () => w.quick.message()));
      await w.broker.join("default");
      await w.b.start();
      const before = { a: w.a.processed, b: w.b.processed };
      await w.broker.enqueueMany(Array.from({ length: 200 }, (_, i) => w.slow.message(`slow-${i}`)));
      // Let the slow tail begin, then send one urgent message: it runs ahead of nearly all of it.
      while (w.runs.length < 10) await new Promise((resolve) => setTimeout(resolve, 5));
      await w.urgent.send("urgent");
      await w.broker.join("default");
      const shareA = w.a.processed - before.a;
      const shareB = w.b.processed - before.b;
      expect(shareA + shareB).to.equal(201);
      // Pinned at 2 x concurrency the split is about even; a hoarding worker took nearly all.
      expect(Math.min(shareA, shareB)).to.be.greaterThan(201 * 0.3);
      const urgentAt = w.runs.indexOf("urgent");
      // Ahead of it: what was running or held within two windows (2 workers x 8), not the tail.
      expect(urgentAt).to.be.lessThan(10 + 2 * 8 + 8);
    } finally {
      await w.a.stop({ timeout: 1_000 });
      await w.b.stop({ timeout: 1_000 });
      await w.broker.close();
    }
  });
});
