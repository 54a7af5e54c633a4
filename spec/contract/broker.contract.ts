/**
 * The broker contract: behaviour every adapter (stub, Redis, RabbitMQ, ...) must show.
 * Each adapter's spec calls `brokerContract` with a factory for fresh brokers.
 */
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import {
  actor,
  Message,
  QueueJoinTimeout,
  Retries,
  TimeLimit,
  Worker,
  type Broker,
  type Consumer,
  type Delivery,
  type Middleware,
} from "../../lib/index.ts";

export interface ContractFixture {
  broker: Broker;
  /** Writes bytes straight onto a queue, as a broken or foreign producer would. */
  enqueueRaw(queueName: string, body: string): Promise<void>;
  /**
   * Makes `consumer` disappear the way a killed worker does (no cleanup run on its side);
   * resolves once the broker has handed its unacknowledged messages back to the queue.
   */
  crash(consumer: Consumer): Promise<void>;
  /** For brokers whose consumers have a `recoveryId`: makes `consumer` vanish as a killed process's does, at once. */
  abandon?(consumer: Consumer): void;
  /** For the same brokers: true when the broker keeps nothing of consumer `id` that heartbeats or leases would recover again. */
  forgotten?(id: string): Promise<boolean>;
  /** For brokers shared between processes: another broker on the same store, as another process has (closed by `close`). */
  peer?(): Broker;
  /**
   * True when the broker keeps priorities out of its queues, as Dramatiq's Redis broker does
   * (Redis' default `priorities: "dramatiq"`): it hands messages out in arrival order, and
   * priority only orders what a worker prefetched.
   */
  fifoPriorities?: boolean;
  close(): Promise<void>;
}

export type ContractFactory = (options: { middleware?: Middleware[] }) => Promise<ContractFixture>;

const uniqueQueue = () => `contract_${randomUUID().slice(0, 8)}`;

async function fetchAtLeast(consumer: Consumer, count: number, timeout = 5_000): Promise<Delivery[]> {
  const got: Delivery[] = [];
  const deadline = Date.now() + timeout;
  while (got.length < count && Date.now() < deadline) {
    got.push(...(await consumer.fetch(count - got.length, Math.max(1, Math.min(500, deadline - Date.now())))));
  }
  return got;
}

export function brokerContract(name: string, factory: ContractFactory): void {
  describe(`broker contract: ${name}`, function () {
    this.timeout(20_000);
    let fixture: ContractFixture;
    let broker: Broker;
    let queue: string;
    const workers: Worker[] = [];

    const startWorker = async (options: { concurrency?: number } = {}) => {
      const worker = new Worker(broker, { queues: [queue], fetchTimeout: 200, ...options });
      workers.push(worker);
      await worker.start();
      return worker;
    };

    beforeEach(async () => {
      fixture = await factory({ middleware: [new TimeLimit(), new Retries({ minBackoff: 10, maxBackoff: 50, maxRetries: 2 })] });
      broker = fixture.broker;
      queue = uniqueQueue();
      broker.declareQueue(queue);
    });

    afterEach(async () => {
      for (const worker of workers.splice(0)) await worker.stop({ timeout: 2_000 });
      await broker.flush(queue);
      await fixture.close();
    });

    const message = (args: unknown[] = [], options: Record<string, unknown> = {}) =>
      new Message({ queueName: queue, actorName: "contract_noop", args, options });

    it("hands an enqueued message to a consumer and forgets it once acked", async () => {
      const sent = await broker.enqueue(message([1, "two"]));
      const consumer = broker.consume(queue, { prefetch: 10 });
      const [delivery] = await fetchAtLeast(consumer, 1);
      const received = broker.decode(delivery!.body);
      expect(received.messageId).to.equal(sent.messageId);
      expect(received.args).to.deep.equal([1, "two"]);
      expect((await broker.depths(queue)).inFlight).to.equal(1);
      await consumer.ack(delivery!);
      expect(await broker.depths(queue)).to.deep.include({ ready: 0, delayed: 0, inFlight: 0, dead: 0 });
      await consumer.close();
    });

    it("fetches many messages in one call, up to the requested count", async () => {
      for (let i = 0; i < 10; i++) await broker.enqueue(message([i]));
      const consumer = broker.consume(queue, { prefetch: 10 });
      const first = await consumer.fetch(6, 1_000);
      expect(first.length).to.be.within(1, 6);
      const rest = await fetchAtLeast(consumer, 10 - first.length);
      const all = [...first, ...rest].map((d) => broker.decode(d.body).args[0]);
      expect(all.sort((a, b) => (a as number) - (b as number))).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      for (const d of [...first, ...rest]) await consumer.ack(d);
      await consumer.close();
    });

    it("stores a bulk send (enqueueMany) whole: every message once, each with its own id", async () => {
      const sent = await broker.enqueueMany(Array.from({ length: 25 }, (_, i) => message([i])));
      expect(sent.map((m) => m.args[0])).to.deep.equal([...Array(25).keys()]);
      expect((await broker.depths(queue)).ready).to.equal(25);
      const consumer = broker.consume(queue, { prefetch: 25 });
      const got = await fetchAtLeast(consumer, 25);
      const ids = got.map((d) => broker.decode(d.body).messageId).sort();
      expect(ids).to.deep.equal(sent.map((m) => m.messageId).sort());
      for (const d of got) await consumer.ack(d);
      expect(await broker.depths(queue)).to.deep.include({ ready: 0, inFlight: 0 });
      await consumer.close();
    });

    it("wakes a waiting fetch when a message arrives instead of waiting out its timeout", async () => {
      const consumer = broker.consume(queue, { prefetch: 1 });
      const started = Date.now();
      const pending = consumer.fetch(1, 8_000);
      setTimeout(() => void broker.enqueue(message(["late"])), 100);
      const got = await pending;
      expect(got).to.have.length(1);
      expect(Date.now() - started).to.be.below(4_000);
      await consumer.ack(got[0]!);
      await consumer.close();
    });

    it("runs every message through a worker and joins when drained", async () => {
      const seen: number[] = [];
      const record = actor(async function contract_record(n: number) { seen.push(n); }, { broker, queueName: queue });
      await startWorker({ concurrency: 4 });
      for (let i = 0; i < 100; i++) await record.send(i);
      await broker.join(queue, { timeout: 10_000 });
      expect(seen.sort((a, b) => a - b)).to.deep.equal([...Array(100).keys()]);
    });

    it("dead-letters a nacked message with its reason", async () => {
      const sent = await broker.enqueue(message());
      const consumer = broker.consume(queue, { prefetch: 1 });
      const [delivery] = await fetchAtLeast(consumer, 1);
      await consumer.nack(delivery!, "Boom: it broke");
      const dead = await broker.deadLetters(queue);
      expect(dead).to.have.length(1);
      expect(dead[0]!.id).to.equal(sent.messageId);
      expect(dead[0]!.reason).to.equal("Boom: it broke");
      expect(broker.decode(dead[0]!.body).messageId).to.equal(sent.messageId);
      expect(await broker.depths(queue)).to.deep.include({ ready: 0, inFlight: 0, dead: 1 });
      await consumer.close();
    });

    it("keeps a delayed message away from consumers until its eta", async () => {
      const sentAt = Date.now();
      await broker.enqueue(message(["later"]), { delay: 400 });
      expect((await broker.depths(queue)).delayed).to.equal(1);
      const consumer = broker.consume(queue, { prefetch: 1 });
      expect(await consumer.fetch(1, 150)).to.have.length(0);
      const [delivery] = await fetchAtLeast(consumer, 1);
      expect(Date.now() - sentAt).to.be.at.least(400);
      expect(broker.decode(delivery!.body).args).to.deep.equal(["later"]);
      await consumer.ack(delivery!);
      await consumer.close();
    });

    it("runs delayed messages in eta order", async () => {
      const order: string[] = [];
      const record = actor(function contract_eta(tag: string) { order.push(tag); }, { broker, queueName: queue });
      await record.sendWithOptions({ args: ["third"], delay: 450 });
      await record.sendWithOptions({ args: ["first"], delay: 50 });
      await record.sendWithOptions({ args: ["second"], delay: 250 });
      await startWorker({ concurrency: 1 });
      await broker.join(queue, { timeout: 5_000 });
      expect(order).to.deep.equal(["first", "second", "third"]);
    });

    it("hands out waiting messages with a lower priority number first (or, keeping priorities out of its queues, in arrival order)", async () => {
      await broker.enqueue(message(["low"], { priority: 5 }));
      await broker.enqueue(message(["high"], { priority: 0 }));
      await broker.enqueue(message(["middle"], { priority: 2 }));
      const consumer = broker.consume(queue, { prefetch: 1 });
      const order: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        const [d] = await fetchAtLeast(consumer, 1);
        order.push(broker.decode(d!.body).args[0]);
        await consumer.ack(d!);
      }
      expect(order).to.deep.equal(fixture.fifoPriorities === true ? ["low", "high", "middle"] : ["high", "middle", "low"]);
      await consumer.close();
    });

    it("gives requeued messages back to the queue", async () => {
      await broker.enqueue(message(["a"]));
      await broker.enqueue(message(["b"]));
      const consumer = broker.consume(queue, { prefetch: 2 });
      const got = await fetchAtLeast(consumer, 2);
      await consumer.requeue(got);
      expect((await broker.depths(queue)).inFlight).to.equal(0);
      const again = await fetchAtLeast(consumer, 2);
      expect(again.map((d) => broker.decode(d.body).args[0]).sort()).to.deep.equal(["a", "b"]);
      for (const d of again) await consumer.ack(d);
      await consumer.close();
    });

    it("redelivers the unacknowledged messages of a consumer that died", async () => {
      for (let i = 0; i < 3; i++) await broker.enqueue(message([i]));
      const doomed = broker.consume(queue, { prefetch: 3 });
      expect(await fetchAtLeast(doomed, 3)).to.have.length(3);
      await fixture.crash(doomed);
      const survivor = broker.consume(queue, { prefetch: 3 });
      const again = await fetchAtLeast(survivor, 3);
      expect(again.map((d) => broker.decode(d.body).args[0]).sort()).to.deep.equal([0, 1, 2]);
      for (const d of again) await survivor.ack(d);
      await survivor.close();
    });

    it("gives a dead consumer's messages back at once when told its recoveryId (recoverConsumer), or needs no telling", async () => {
      for (let i = 0; i < 3; i++) await broker.enqueue(message([i]));
      const doomed = broker.consume(queue, { prefetch: 3 });
      expect(await fetchAtLeast(doomed, 3)).to.have.length(3);
      const id = doomed.recoveryId;
      if (id === undefined) {
        // RabbitMQ requeues a closed connection's deliveries itself; the stub's die with their process.
        expect(broker.recoveryAddress()).to.equal(undefined);
        expect(await broker.recoverConsumer("no-such-consumer")).to.equal(0);
        await doomed.close();
        return;
      }
      expect(broker.recoveryAddress()).to.be.an("object");
      fixture.abandon!(doomed);
      expect(await broker.recoverConsumer(id)).to.equal(3);
      expect(await broker.depths(queue)).to.include({ ready: 3, inFlight: 0 });
      // Once given back, nothing is left for the heartbeat or lease path to give back a second time.
      expect(await broker.recoverConsumer(id)).to.equal(0);
      expect(await fixture.forgotten!(id)).to.equal(true);
      const survivor = broker.consume(queue, { prefetch: 3 });
      const again = await fetchAtLeast(survivor, 3);
      expect(again.map((d) => broker.decode(d.body).args[0]).sort()).to.deep.equal([0, 1, 2]);
      for (const d of again) await survivor.ack(d);
      await survivor.close();
    });

    it("leaves a dead consumer's retried messages delayed when giving back what it held (recoverConsumer)", async () => {
      await broker.enqueue(message(["held"]));
      await broker.enqueue(message(["retried"]));
      const doomed = broker.consume(queue, { prefetch: 2 });
      const both = await fetchAtLeast(doomed, 2);
      const retried = both.find((d) => broker.decode(d.body).args[0] === "retried")!;
      await doomed.retry(retried, broker.decode(retried.body), 60_000);
      const id = doomed.recoveryId;
      if (id === undefined) return void (await doomed.close());
      fixture.abandon!(doomed);
      expect(await broker.recoverConsumer(id)).to.equal(1);
      expect(await broker.depths(queue)).to.include({ ready: 1, delayed: 1, inFlight: 0 });
    });

    it("replaces a delivery by its retry in one step", async () => {
      await broker.enqueue(message(["try"]));
      const consumer = broker.consume(queue, { prefetch: 1 });
      const [delivery] = await fetchAtLeast(consumer, 1);
      const next = broker.decode(delivery!.body).copy({ options: { retries: 1 } });
      await consumer.retry(delivery!, next, 300);
      expect(await broker.depths(queue)).to.deep.include({ ready: 0, delayed: 1, inFlight: 0, dead: 0 });
      const [retried] = await fetchAtLeast(consumer, 1);
      const decoded = broker.decode(retried!.body);
      expect(decoded.messageId).to.equal(next.messageId);
      expect(decoded.options.retries).to.equal(1);
      await consumer.ack(retried!);
      await consumer.close();
    });

    it("retries a failing actor, then dead-letters it with the error as reason", async () => {
      let attempts = 0;
      const flaky = actor(function contract_flaky() {
        attempts++;
        throw new Error("always fails");
      }, { broker, queueName: queue });
      const sent = await flaky.send();
      await startWorker();
      await broker.join(queue, { timeout: 5_000, failFast: false });
      expect(attempts).to.equal(3); // the first run and maxRetries = 2
      const [dead] = await broker.deadLetters(queue);
      expect(dead!.id).to.equal(sent.messageId);
      expect(dead!.reason).to.equal("Error: always fails");
      expect(broker.decode(dead!.body).options.retries).to.equal(2); // the body as last delivered
    });

    it("rejects join as soon as a message is dead-lettered when failFast is on", async () => {
      const doomed = actor(function contract_doomed() { throw new TypeError("bad input"); }, { broker, queueName: queue, maxRetries: 0 });
      await startWorker();
      await doomed.send();
      const error = await broker.join(queue, { timeout: 5_000 }).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(Error);
      expect((error as Error).message).to.contain("bad input");
    });

    it("rejects join with QueueJoinTimeout when the queue does not drain", async () => {
      await broker.enqueue(message());
      const error = await broker.join(queue, { timeout: 100 }).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(QueueJoinTimeout);
    });

    it("dead-letters a malformed message and keeps working", async () => {
      const seen: string[] = [];
      const ok = actor(function contract_ok(s: string) { seen.push(s); }, { broker, queueName: queue });
      await fixture.enqueueRaw(queue, "{this is not json");
      await ok.send("after");
      await startWorker();
      await broker.join(queue, { timeout: 5_000, failFast: false });
      expect(seen).to.deep.equal(["after"]);
      const dead = await broker.deadLetters(queue);
      expect(dead).to.have.length(1);
      expect(dead[0]!.body).to.equal("{this is not json");
      expect(dead[0]!.reason).to.match(/^DecodeError: Message is not valid JSON/);
    });

    it("dead-letters a message for an unknown actor", async () => {
      await broker.enqueue(message([], {}));
      await startWorker();
      await broker.join(queue, { timeout: 5_000, failFast: false });
      const [dead] = await broker.deadLetters(queue);
      expect(dead!.reason).to.equal('ActorNotFound: Actor "contract_noop" is not declared on this broker');
    });

    it("requeues dead letters, which then run", async () => {
      // Failures each tag has left: the first 3 attempts (1 + maxRetries) of all of them fail;
      // a and b fail once more after the requeue, which only a reset retry count survives.
      const failures = new Map([["a", 4], ["b", 4], ["c", 3]]);
      const done: string[] = [];
      const phoenix = actor(function contract_phoenix(tag: string) {
        const left = failures.get(tag)!;
        failures.set(tag, left - 1);
        if (left > 0) throw new Error(`not yet: ${tag}`);
        done.push(tag);
      }, { broker, queueName: queue });
      const sent = new Map<string, string>();
      for (const tag of ["a", "b", "c"]) sent.set(tag, (await phoenix.send(tag)).messageId);
      await startWorker();
      await broker.join(queue, { timeout: 5_000, failFast: false });
      expect((await broker.deadLetters(queue)).map((d) => d.id).sort()).to.deep.equal([...sent.values()].sort());

      // By id (unknown ids are ignored), then all the rest.
      expect(await broker.requeueDeadLetters(queue, [sent.get("a")!, "no-such-message"])).to.equal(1);
      await broker.join(queue, { timeout: 5_000, failFast: false });
      expect(done).to.deep.equal(["a"]);
      expect((await broker.deadLetters(queue)).map((d) => d.id).sort()).to.deep.equal([sent.get("b"), sent.get("c")].sort());
      expect(await broker.requeueDeadLetters(queue)).to.equal(2);
      await broker.join(queue, { timeout: 5_000, failFast: false });
      expect(done.sort()).to.deep.equal(["a", "b", "c"]);
      expect(await broker.depths(queue)).to.deep.include({ ready: 0, delayed: 0, inFlight: 0, dead: 0 });
      expect(await broker.requeueDeadLetters(queue)).to.equal(0);
    });

    it("flushes ready, delayed and dead messages", async () => {
      await broker.enqueue(message());
      await broker.enqueue(message(), { delay: 60_000 });
      const consumer = broker.consume(queue, { prefetch: 1 });
      const [d] = await fetchAtLeast(consumer, 1);
      await consumer.nack(d!, "x");
      await broker.enqueue(message());
      await broker.flush(queue);
      expect(await broker.depths(queue)).to.deep.include({ ready: 0, delayed: 0, dead: 0 });
      await consumer.close();
    });

    it("lets a stopped worker give its unstarted messages back, losing nothing", async () => {
      const done: number[] = [];
      const slow = actor(async function contract_slow(n: number) {
        await new Promise((r) => setTimeout(r, 30));
        done.push(n);
      }, { broker, queueName: queue });
      for (let i = 0; i < 20; i++) await slow.send(i);
      const worker = await startWorker({ concurrency: 2 });
      while (done.length < 2) await new Promise((r) => setTimeout(r, 5));
      await worker.stop({ timeout: 5_000 });
      const afterStop = await broker.depths(queue);
      expect(afterStop.inFlight).to.equal(0);
      expect(afterStop.ready + done.length).to.equal(20);
      await startWorker({ concurrency: 4 });
      await broker.join(queue, { timeout: 10_000 });
      expect(done.sort((a, b) => a - b)).to.deep.equal([...Array(20).keys()]);
    });
  });
}
