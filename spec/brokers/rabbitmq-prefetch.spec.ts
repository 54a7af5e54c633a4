import { expect } from "chai";
import type { Channel } from "amqplib";
import { ChannelLimit, GlobalQosRefused, GlobalQosSupport } from "../../brokers/rabbitmq/channel-limit.ts";
import { RabbitmqBroker } from "../../brokers/rabbitmq/index.ts";
import { actor } from "../../lib/actor.ts";
import { sleep } from "../../lib/sleep.ts";
import { Worker } from "../../lib/worker.ts";
import { amqpUrl, deleteQueues, rawChannel, uniqueQueue, waitFor } from "../helpers/amqp.ts";

/**
 * The channel's prefetch limit follows the worker's adaptive window. "Held" below is what
 * RabbitMQ handed the worker and the worker has not finished: sent, minus what still waits in
 * `q`, minus what the actor finished (read after `q`, so it never overstates what is held).
 */
describe("RabbitMQ prefetch follows the worker's window", function () {
  this.timeout(60_000);
  let url: string;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    url = await amqpUrl();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  async function setup(prefix: string, maxPriority: number | null = 10) {
    // Broker priorities (opt-in) unless told: the urgent message must overtake the slow tail in the queue.
    const broker = new RabbitmqBroker({ url, middleware: [], heartbeat: 2_000, maxPriority });
    const queue = uniqueQueue(prefix);
    broker.declareQueue(queue);
    const raw = await rawChannel(url);
    const workers: Worker[] = [];
    cleanups.push(async () => {
      for (const worker of workers) await worker.stop({ timeout: 2_000 });
      await raw.close();
      await broker.close();
      await deleteQueues(url, [queue]);
    });
    const ready = async (name = queue) => (await raw.channel.checkQueue(name)).messageCount;
    const newWorker = (options: { concurrency: number; prefetch?: number }) => {
      const worker = new Worker(broker, { ...options, fetchTimeout: 100 });
      workers.push(worker);
      return worker;
    };
    return { broker, queue, ready, newWorker };
  }

  it("holds more than 2 x concurrency for quick messages", async () => {
    const { broker, queue, ready, newWorker } = await setup("rmq_window_quick");
    let finished = 0;
    const worker = newWorker({ concurrency: 2 });
    const quick = actor(
      function rmqWindowQuick() {
        // Fetching stops here; RabbitMQ goes on filling the channel up to its limit.
        if (++finished === 500) worker.pause();
      },
      { broker, queueName: queue },
    );
    const total = 3_000;
    await broker.enqueueMany(Array.from({ length: total }, () => quick.message()));
    await worker.start();
    let held = 0;
    await waitFor(
      async () => {
        const waiting = await ready();
        held = total - waiting - finished;
        return held > 2 * worker.concurrency * 4;
      },
      10_000,
      "the worker to hold more than the fixed prefetch",
    );
    expect(held).to.be.above(2 * worker.concurrency);
  });

  it("holds no more than a pinned prefetch, nor more than 2 x concurrency for slow messages", async () => {
    const { broker, queue, ready, newWorker } = await setup("rmq_window_slow");
    let finished = 0;
    let slowFinished = 0;
    const pinned = newWorker({ concurrency: 2, prefetch: 3 });
    const adaptive = newWorker({ concurrency: 2 });
    const quick = actor(function rmqPinnedQuick() { finished++; }, { broker, queueName: queue });
    const slow = actor(
      async function rmqWindowSlow() {
        await sleep(30);
        slowFinished++;
      },
      { broker, queueName: `${queue}_slow` },
    );
    cleanups.push(() => deleteQueues(url, [`${queue}_slow`]));

    const total = 1_000;
    await broker.enqueueMany(Array.from({ length: total }, () => quick.message()));
    await pinned.start();
    let most = 0;
    while (finished < total) {
      const waiting = await ready();
      most = Math.max(most, total - waiting - finished);
      await sleep(2);
    }
    expect(most).to.be.at.most(3);
    await pinned.stop();

    const slowTotal = 40;
    await broker.enqueueMany(Array.from({ length: slowTotal }, () => slow.message()));
    await adaptive.start();
    most = 0;
    while (slowFinished < slowTotal) {
      const waiting = await ready(`${queue}_slow`);
      most = Math.max(most, slowTotal - waiting - slowFinished);
      await sleep(5);
    }
    expect(most).to.be.above(0);
    expect(most).to.be.at.most(2 * adaptive.concurrency);
  });

  it("without broker priorities (the default), still runs a worker's prefetched messages lower priority first", async () => {
    const { broker, queue, newWorker } = await setup("rmq_local_priority", null);
    const runs: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const first = actor(async function rmqLocalGate() { runs.push("gate"); await gate; }, { broker, queueName: queue });
    const low = actor(function rmqLocalLow(n: number) { runs.push(`low-${n}`); }, { broker, queueName: queue, priority: 5 });
    const high = actor(function rmqLocalHigh() { runs.push("high"); }, { broker, queueName: queue, priority: 0 });
    await first.send();
    await broker.enqueueMany([0, 1, 2].map((n) => low.message(n)));
    await high.send();
    const worker = newWorker({ concurrency: 1, prefetch: 10 });
    await worker.start();
    // The gate runs; the rest, in the queue's arrival order, all reach the worker (fetched: in its work queue).
    await waitFor(async () => {
      const depths = await broker.depths(queue);
      return runs.length === 1 && depths.ready === 0 && depths.inFlight === 5;
    }, 10_000, "every message to be fetched");
    open();
    await broker.join(queue, { timeout: 10_000 });
    expect(runs).to.deep.equal(["gate", "high", "low-0", "low-1", "low-2"]);
  });

  it("does not hoard slow messages after a burst of quick ones: both workers share the slow tail, and an urgent message does not wait behind it", async () => {
    const { broker, queue, newWorker } = await setup("rmq_window_tail");
    const runs: string[] = [];
    const quick = actor(function rmqTailQuick() {}, { broker, queueName: queue });
    const slow = actor(
      async function rmqTailSlow(tag: string) {
        runs.push(tag);
        await sleep(10);
      },
      { broker, queueName: queue, priority: 5 },
    );
    const urgent = actor(function rmqTailUrgent(tag: string) { runs.push(tag); }, { broker, queueName: queue, priority: 0 });
    const a = newWorker({ concurrency: 4 });
    const b = newWorker({ concurrency: 4 });
    await a.start();
    await broker.enqueueMany(Array.from({ length: 3_000 }, () => quick.message()));
    await broker.join(queue);
    await b.start();
    const before = { a: a.processed, b: b.processed };
    await broker.enqueueMany(Array.from({ length: 200 }, (_, i) => slow.message(`slow-${i}`)));
    await waitFor(() => runs.length >= 10, 10_000, "the slow tail to begin");
    await urgent.send("urgent");
    // From here the urgent message is in the queue (its publish is confirmed); the slow tail
    // kept running while the wait above polled and the send was confirmed.
    const queuedAt = runs.length;
    await broker.join(queue);
    await waitFor(() => a.processed + b.processed - before.a - before.b === 201, 10_000, "every message to be counted");
    const shareA = a.processed - before.a;
    const shareB = b.processed - before.b;
    // Pinned at 2 x concurrency the split is about even; a hoarding worker took nearly all.
    expect(Math.min(shareA, shareB)).to.be.greaterThan(201 * 0.3);
    // Ahead of it: what was running or held within two windows (2 workers x 8), not the tail.
    expect(runs.indexOf("urgent") - queuedAt).to.be.lessThan(2 * 8 + 8);
  });
});

describe("ChannelLimit", () => {
  /** A channel that records each basic.qos; `refuseGlobal` makes it fail channel-wide ones with that message. */
  function fakeChannel(refuseGlobal?: string) {
    const sent: [number, boolean][] = [];
    const channel = {
      prefetch(count: number, global: boolean) {
        sent.push([count, global]);
        return refuseGlobal !== undefined && global ? Promise.reject(new Error(refuseGlobal)) : Promise.resolve({});
      },
    } as unknown as Channel;
    return { channel, sent };
  }

  it("moves a channel-wide limit by steps, always back to the floor, one basic.qos at a time", async () => {
    const { channel, sent } = fakeChannel();
    const applied: number[] = [];
    const limit = new ChannelLimit(channel, 8, new GlobalQosSupport(), (n) => applied.push(n));
    await limit.start();
    limit.want(10); // within a step (half the floor): no basic.qos
    limit.want(100);
    limit.want(400); // while the first is on its way: sent after it
    await limit.settled();
    limit.want(420); // within an eighth of 400
    limit.want(4); // back to the floor
    await limit.settled();
    expect(sent).to.deep.equal([[8, true], [100, true], [400, true], [8, true]]);
    expect(applied).to.deep.equal([100, 400, 8]);
  });

  it("keeps a fixed per-consumer limit once the server refuses channel-wide ones (RabbitMQ 4.3 denies global_qos)", async () => {
    const named = new GlobalQosSupport();
    const refusing = fakeChannel("Channel closed by server: 541 (INTERNAL-ERROR) with message \"INTERNAL_ERROR - Feature `global_qos` is deprecated.\"");
    const first = await new ChannelLimit(refusing.channel, 8, named, () => {}).start().then(() => undefined, (error: unknown) => error);
    expect(first).to.be.instanceOf(GlobalQosRefused);
    const { channel, sent } = fakeChannel();
    const limit = new ChannelLimit(channel, 8, named, () => {});
    await limit.start();
    limit.want(500);
    await limit.lower(8);
    expect(sent).to.deep.equal([[8, false]]);
    expect(limit.fixed).to.equal(true);

    // An error that does not say why: given up on after repeated failures, not after one.
    const unnamed = new GlobalQosSupport();
    const vague = fakeChannel("Channel ended, no reply will be forthcoming");
    const once = await new ChannelLimit(vague.channel, 8, unnamed, () => {}).start().then(() => undefined, (error: unknown) => error);
    expect(once).to.not.be.instanceOf(GlobalQosRefused);
    expect(unnamed.denied).to.equal(false);
    const twice = await new ChannelLimit(vague.channel, 8, unnamed, () => {}).start().then(() => undefined, (error: unknown) => error);
    expect(twice).to.be.instanceOf(GlobalQosRefused);
  });
});
