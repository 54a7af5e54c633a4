import { expect } from "chai";
import { StubBroker } from "../brokers/stub.ts";
import { actor, JsonEncoder, Message, Retries, Worker } from "../lib/index.ts";
import { deferred, stubWorld } from "./helpers/stub.ts";

describe("Worker", () => {
  it("runs waiting messages by priority, lower numbers first", async () => {
    const world = await stubWorld({ worker: { concurrency: 1 }, start: false });
    try {
      const order: string[] = [];
      const job = actor(function prioritized(tag: string) { order.push(tag); }, { broker: world.broker });
      await job.sendWithOptions({ args: ["p10-a"], priority: 10 });
      await job.sendWithOptions({ args: ["p0-a"], priority: 0 });
      await job.sendWithOptions({ args: ["p5"], priority: 5 });
      await job.sendWithOptions({ args: ["p0-b"], priority: 0 });
      await job.sendWithOptions({ args: ["p10-b"], priority: 10 });
      await world.worker.start();
      await world.broker.join("default");
      expect(order).to.deep.equal(["p0-a", "p0-b", "p5", "p10-a", "p10-b"]);
    } finally {
      await world.teardown();
    }
  });

  it("uses the actor's priority for messages that carry none", async () => {
    const world = await stubWorld({ worker: { concurrency: 1 }, start: false });
    try {
      const order: string[] = [];
      const routine = actor(function routine() { order.push("routine"); }, { broker: world.broker, priority: 50 });
      const urgent = actor(function urgent() { order.push("urgent"); }, { broker: world.broker, priority: -1 });
      await routine.send();
      await urgent.send();
      await world.worker.start();
      await world.broker.join("default");
      expect(order).to.deep.equal(["urgent", "routine"]);
    } finally {
      await world.teardown();
    }
  });

  it("runs no more than `concurrency` actors at once", async () => {
    const world = await stubWorld({ worker: { concurrency: 3 } });
    try {
      let running = 0;
      let peak = 0;
      const job = actor(async function bounded() {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
      }, { broker: world.broker });
      for (let i = 0; i < 30; i++) await job.send();
      await world.broker.join("default");
      expect(peak).to.equal(3);
    } finally {
      await world.teardown();
    }
  });

  it("holds work while paused and resumes it", async () => {
    const world = await stubWorld();
    try {
      const ran: number[] = [];
      const job = actor(function pausable(n: number) { ran.push(n); }, { broker: world.broker });
      world.worker.pause();
      await job.send(1);
      await new Promise((r) => setTimeout(r, 150));
      expect(ran).to.deep.equal([]);
      world.worker.resume();
      await world.broker.join("default");
      expect(ran).to.deep.equal([1]);
    } finally {
      await world.teardown();
    }
  });

  it("consumes only the queues it is given", async () => {
    const broker = new StubBroker();
    const ran: string[] = [];
    const a = actor(function onA() { ran.push("a"); }, { broker, queueName: "a" });
    const b = actor(function onB() { ran.push("b"); }, { broker, queueName: "b" });
    const worker = new Worker(broker, { queues: ["a"], fetchTimeout: 50 });
    await worker.start();
    await a.send();
    await b.send();
    await broker.join("a");
    expect(worker.queues).to.deep.equal(["a"]);
    expect(ran).to.deep.equal(["a"]);
    expect((await broker.depths("b")).ready).to.equal(1);
    await worker.stop();
  });

  it("starts consuming queues declared after it started", async () => {
    const world = await stubWorld();
    try {
      const ran: string[] = [];
      const late = actor(function lateQueue() { ran.push("late"); }, { broker: world.broker, queueName: "declared_later" });
      await late.send();
      await world.broker.join("declared_later");
      expect(ran).to.deep.equal(["late"]);
    } finally {
      await world.teardown();
    }
  });

  it("dead-letters an oversized message with its reason and keeps going", async () => {
    const broker = new StubBroker({ encoder: new JsonEncoder({ maxSize: 500 }) });
    const ran: string[] = [];
    const job = actor(function sized(s: string) { ran.push(s); }, { broker });
    const worker = new Worker(broker, { fetchTimeout: 50 });
    await worker.start();
    const huge = new JsonEncoder().encode(new Message({ queueName: "default", actorName: "sized", args: ["x".repeat(1_000)] }).asData());
    broker.enqueueRaw("default", huge);
    await job.send("small");
    await broker.join("default", { failFast: false });
    await worker.stop();
    expect(ran).to.deep.equal(["small"]);
    const [dead] = await broker.deadLetters("default");
    expect(dead!.body).to.equal(huge);
    expect(dead!.reason).to.match(/^MessageTooLarge: Message of \d+ bytes exceeds the limit of 500 bytes/);
  });

  it("loses nothing on stop: running actors finish, unstarted messages go back", async () => {
    const broker = new StubBroker({ middleware: [new Retries()] });
    const gate = deferred();
    const finished: number[] = [];
    const job = actor(async function gated(n: number) {
      await gate.promise;
      finished.push(n);
    }, { broker });
    const worker = new Worker(broker, { concurrency: 2, prefetch: 10, fetchTimeout: 50 });
    await worker.start();
    for (let i = 0; i < 10; i++) await job.send(i);
    while (worker.inFlight < 2) await new Promise((r) => setTimeout(r, 5));
    const stopping = worker.stop({ timeout: 5_000 });
    setTimeout(() => gate.resolve(), 50);
    await stopping;
    expect(finished).to.have.length(2);
    expect(await broker.depths("default")).to.deep.include({ ready: 8, inFlight: 0, dead: 0 });
  });

  it("leaves actors that overrun the stop timeout unacknowledged, so they are redelivered", async () => {
    const broker = new StubBroker({ middleware: [] });
    const job = actor(function forever() { return new Promise<void>(() => {}); }, { broker });
    const worker = new Worker(broker, { concurrency: 1, fetchTimeout: 50 });
    await worker.start();
    await job.send();
    while (worker.inFlight < 1) await new Promise((r) => setTimeout(r, 5));
    await worker.stop({ timeout: 50 });
    expect(await broker.depths("default")).to.deep.include({ ready: 1, inFlight: 0 });
  });

  describe("prefetch", () => {
    /** A stub world whose consumers record the `max` of every fetch the worker makes. */
    async function recordingWorld(worker: { concurrency: number; prefetch?: number }) {
      const world = await stubWorld({ worker, start: false });
      const sizes: number[] = [];
      const consume = world.broker.consume.bind(world.broker);
      world.broker.consume = (queueName, options) => {
        const consumer = consume(queueName, options);
        const fetch = consumer.fetch.bind(consumer);
        consumer.fetch = (max, timeout) => {
          sizes.push(max);
          return fetch(max, timeout);
        };
        return consumer;
      };
      return { world, sizes };
    }

    it("grows past 2 x concurrency while quick messages keep coming, up to 1024", async () => {
      const { world, sizes } = await recordingWorld({ concurrency: 1 });
      try {
        let ran = 0;
        const quick = actor(function quickPrefetch(_n: number) { ran++; }, { broker: world.broker });
        await quick.sendMany(Array.from({ length: 5_000 }, (_, i) => [i] as [number]));
        await world.worker.start();
        await world.broker.join("default");
        expect(ran).to.equal(5_000);
        expect(Math.max(...sizes)).to.be.above(16).and.at.most(1024);
      } finally {
        await world.teardown();
      }
    });

    it("stays at 2 x concurrency for slow messages, and at the given prefetch when one is given", async () => {
      const slow = await recordingWorld({ concurrency: 2 });
      const fixed = await recordingWorld({ concurrency: 1, prefetch: 3 });
      try {
        const nap = actor(async function slowPrefetch(_n: number) { await new Promise((r) => setTimeout(r, 20)); }, { broker: slow.world.broker });
        const quick = actor(function fixedPrefetch(_n: number) {}, { broker: fixed.world.broker });
        await nap.sendMany(Array.from({ length: 12 }, (_, i) => [i] as [number]));
        await quick.sendMany(Array.from({ length: 2_000 }, (_, i) => [i] as [number]));
        await Promise.all([slow.world.worker.start(), fixed.world.worker.start()]);
        await Promise.all([slow.world.broker.join("default"), fixed.world.broker.join("default")]);
        expect(Math.max(...slow.sizes)).to.equal(4);
        expect(Math.max(...fixed.sizes)).to.equal(3);
      } finally {
        await slow.world.teardown();
        await fixed.world.teardown();
      }
    });
  });

  it("lets timers run while it works through a long backlog of quick, synchronous actors", async () => {
    const world = await stubWorld({ worker: { concurrency: 8 }, start: false });
    try {
      let ran = 0;
      const quick = actor(function quickCount(_n: number) { ran++; }, { broker: world.broker });
      await quick.sendMany(Array.from({ length: 20_000 }, (_, i) => [i] as [number]));
      // Heartbeats and time limits are timers: they must fire while messages keep coming.
      const ranWhenTimerFired = new Promise<number>((resolve) => setTimeout(() => resolve(ran), 1));
      await world.worker.start();
      expect(await ranWhenTimerFired).to.be.below(20_000);
      await world.broker.join("default");
      expect(ran).to.equal(20_000);
    } finally {
      await world.teardown();
    }
  });

  it("stops while paused, with its consumer loops idle", async () => {
    const broker = new StubBroker({ middleware: [] });
    broker.declareQueue("default");
    const worker = new Worker(broker, { fetchTimeout: 20 });
    await worker.start();
    worker.pause();
    await new Promise((r) => setTimeout(r, 60)); // Each loop is now waiting to be resumed.
    const stopped = worker.stop({ timeout: 100 }).then(() => "stopped");
    const stuck = new Promise((r) => setTimeout(() => r("stuck"), 2_000));
    expect(await Promise.race([stopped, stuck])).to.equal("stopped");
  });
});
