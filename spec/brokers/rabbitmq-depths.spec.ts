import { expect } from "chai";
import { RabbitmqBroker } from "../../brokers/rabbitmq/index.ts";
import { actor } from "../../lib/actor.ts";
import { QueueJoinTimeout } from "../../lib/errors.ts";
import { Worker } from "../../lib/worker.ts";
import { amqpUrl, deleteQueues, uniqueQueue, waitFor } from "../helpers/amqp.ts";

/**
 * A producer and a worker on brokers of their own (their own connections, as two processes
 * have): the producer's `depths` and `join` see the message the worker is running.
 */
describe("RabbitMQ depths and join across processes", function () {
  this.timeout(30_000);
  let url: string;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    url = await amqpUrl();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  function newBroker(): RabbitmqBroker {
    const broker = new RabbitmqBroker({ url, middleware: [], heartbeat: 2_000 });
    cleanups.push(() => broker.close());
    return broker;
  }

  it("counts a message another process's worker holds as in flight, and join waits for it", async () => {
    const queue = uniqueQueue("rmq_depths");
    cleanups.push(() => deleteQueues(url, [queue]));
    const producer = newBroker();
    const elsewhere = newBroker();
    let started = false;
    let finished = false;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const body = async function rmqDepthsHeld() {
      started = true;
      await gate;
      finished = true;
    };
    const send = actor(body, { broker: producer, queueName: queue });
    actor(body, { broker: elsewhere, queueName: queue });
    const worker = new Worker(elsewhere, { concurrency: 2, fetchTimeout: 100 });
    cleanups.push(() => worker.stop({ timeout: 2_000 }));
    await worker.start();

    await send.send();
    await waitFor(() => started, 10_000, "the worker to start the message");
    const held = await producer.depths(queue);
    expect(held).to.deep.include({ ready: 0, delayed: 0, dead: 0 });
    expect(held.inFlight).to.equal(1);
    // The queue is empty, but a worker elsewhere still runs its message: join must not return.
    const early = await producer.join(queue, { timeout: 300 }).then(() => "joined", (error: unknown) => error);
    expect(early).to.be.instanceOf(QueueJoinTimeout);
    expect(finished).to.equal(false);

    release();
    await producer.join(queue, { timeout: 10_000 });
    expect(finished).to.equal(true);
    // An idle worker, still consuming the queue, holds nothing.
    await waitFor(async () => (await producer.depths(queue)).inFlight === 0, 5_000, "the worker to go idle");
    expect(await producer.depths(queue)).to.deep.include({ ready: 0, delayed: 0, inFlight: 0, dead: 0 });
  });

  it("counts deliveries prefetched by another process's consumer, and not its own consumers twice", async () => {
    const queue = uniqueQueue("rmq_depths_held");
    cleanups.push(() => deleteQueues(url, [queue]));
    const producer = newBroker();
    const elsewhere = newBroker();
    producer.declareQueue(queue);
    elsewhere.declareQueue(queue);
    const send = actor(function rmqDepthsPrefetched() {}, { broker: producer, queueName: queue });
    for (let i = 0; i < 5; i++) await send.send();
    // A consumer that prefetches but never fetches: what it holds is in flight for everyone else.
    const holder = elsewhere.consume(queue, { prefetch: 3 });
    cleanups.push(() => holder.close());
    await waitFor(async () => (await producer.depths(queue)).ready === 2, 5_000, "three messages to be prefetched elsewhere");
    expect(await producer.depths(queue)).to.deep.include({ ready: 2, inFlight: 1 });
    // Seen from its own broker, the three are prefetched (ready), none in flight.
    expect(await elsewhere.depths(queue)).to.deep.include({ ready: 5, inFlight: 0 });
  });
});
