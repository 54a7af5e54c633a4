// Pipelines, callbacks and chord callbacks bound for queues and actors this process did not
// declare (issue 18 item 5): sent anyway, never dropped; dead-lettered with a reason when the
// callback's queue cannot be known.
import { expect } from "chai";
import { RedisBroker } from "../brokers/redis/index.ts";
import { RedisRateLimiterBackend } from "../brokers/redis/rate-limiter-backend.ts";
import { StubBroker } from "../brokers/stub.ts";
import {
  actor,
  Callbacks,
  group,
  GroupCallbacks,
  Message,
  Pipelines,
  Retries,
  StubRateLimiterBackend,
  Worker,
  type Broker,
  type MessageData,
  type Middleware,
} from "../lib/index.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "./helpers/redis.ts";

/**
 * This process (`broker`, with a worker that has no queue filter) and "another process" that
 * declares the missing actors: on Redis a second broker on the same namespace with a worker of
 * its own; on the stub, which lives in one process, the same broker declaring them later.
 */
interface Place {
  broker: Broker;
  worker: Worker;
  /** Declares `fn` as actor `name` on `queueName` in the other process and runs that queue there. */
  elsewhere(name: string, queueName: string, fn: (...args: unknown[]) => void): Promise<Broker>;
  close(): Promise<void>;
}

function chain(backend: GroupCallbacks["backend"]): Middleware[] {
  return [new Callbacks(), new Pipelines(), new Retries({ maxRetries: 3, minBackoff: 1, maxBackoff: 2 }), new GroupCallbacks({ backend })];
}

const places: Record<string, () => Promise<Place>> = {
  stub: async () => {
    const broker = new StubBroker({ middleware: chain(new StubRateLimiterBackend()) });
    const worker = new Worker(broker, { fetchTimeout: 50 });
    await worker.start();
    return {
      broker,
      worker,
      elsewhere: async (name, queueName, fn) => {
        actor(fn, { broker, actorName: name, queueName });
        return broker;
      },
      close: async () => {
        await worker.stop({ timeout: 2_000 });
        await broker.close();
      },
    };
  },
  redis: async () => {
    const url = await redisUrl();
    const namespace = uniqueNamespace("undeclared");
    const broker = new RedisBroker({ url, namespace, middleware: chain(new RedisRateLimiterBackend({ url, prefix: `${namespace}-limits` })) });
    const worker = new Worker(broker, { fetchTimeout: 50 });
    await worker.start();
    const others: { broker: RedisBroker; worker: Worker }[] = [];
    return {
      broker,
      worker,
      elsewhere: async (name, queueName, fn) => {
        const other = new RedisBroker({ url, namespace, middleware: [] });
        actor(fn, { broker: other, actorName: name, queueName });
        const otherWorker = new Worker(other, { queues: [queueName], fetchTimeout: 50 });
        others.push({ broker: other, worker: otherWorker });
        await otherWorker.start();
        return other;
      },
      close: async () => {
        for (const o of others) await o.worker.stop({ timeout: 2_000 });
        for (const o of others) await o.broker.close();
        await worker.stop({ timeout: 2_000 });
        await broker.close();
        for (const prefix of [namespace, `${namespace}-limits`]) await deleteNamespace(prefix);
      },
    };
  },
};

for (const [name, open] of Object.entries(places)) {
  describe(`sends to queues and actors this process did not declare (${name})`, function () {
    this.timeout(20_000);
    let place: Place;
    let n = 0;
    let q: (label: string) => string;

    beforeEach(async () => {
      place = await open();
      n++;
      q = (label) => `undeclared_${label}_${n}`;
    });

    afterEach(async () => {
      await place.close();
    });

    it("enqueues a pipeline's next step on the undeclared queue, declared there without consuming it, for the process that runs it", async () => {
      const { broker, worker } = place;
      const first = actor(function undeclaredFirst(x: number) { return x * 10; }, { broker, queueName: q("a") });
      const next = new Message({ queueName: q("b"), actorName: "undeclared_next", args: [1], kwargs: {}, options: {} });
      await broker.enqueue(first.message(4).copy({ options: { pipe_target: next.asData() } }));
      await broker.join(q("a"), { timeout: 10_000 });
      expect(broker.declaredBySend(q("b"))).to.equal(true);
      expect(worker.queues).to.not.include(q("b"));
      expect((await broker.depths(q("b"))).ready).to.equal(1);

      const seen: unknown[][] = [];
      const other = await place.elsewhere("undeclared_next", q("b"), (...args) => void seen.push(args));
      await other.join(q("b"), { timeout: 10_000 });
      expect(seen).to.deep.equal([[1, 40]]);
    });

    it("sends onSuccess given as an actor this process did not declare to that actor's queue (carried as on_success_queue)", async () => {
      const { broker } = place;
      // The producer's Actor for a callback the worker process never imports.
      const producer = new StubBroker({ middleware: [] });
      const producerSide = actor(function undeclared_done(_m: MessageData, _r: unknown) {}, { broker: producer, queueName: q("done") });
      await producer.close();
      const job = actor(function undeclaredJob(x: number) { return x + 1; }, { broker, queueName: q("a") });
      const sent = await broker.enqueue(job.messageWithOptions({ args: [1], onSuccess: producerSide }));
      expect(sent.options).to.include({ on_success: "undeclared_done", on_success_queue: q("done") });
      await broker.join(q("a"), { timeout: 10_000 });

      const seen: unknown[][] = [];
      const other = await place.elsewhere("undeclared_done", q("done"), (...args) => void seen.push(args));
      await other.join(q("done"), { timeout: 10_000 });
      expect(seen).to.have.length(1);
      expect((seen[0]![0] as MessageData).message_id).to.equal(sent.messageId);
      expect(seen[0]![1]).to.equal(2);
    });

    it("dead-letters a succeeded message whose onSuccess names an undeclared actor and no queue, saying why", async () => {
      const { broker } = place;
      const job = actor(function undeclaredOk() { return 1; }, { broker, queueName: q("a") });
      const sent = await broker.enqueue(job.messageWithOptions({ args: [], options: { on_success: "nowhere" } }));
      await broker.join(q("a"), { timeout: 10_000, failFast: false });
      const [dead] = await broker.deadLetters(q("a"));
      expect(dead?.id).to.equal(sent.messageId);
      expect(dead!.reason).to.contain('Callbacks: the actor succeeded; onSuccess names actor "nowhere", which this process did not declare');
      expect(dead!.reason).to.contain("on_success_queue");
    });

    it("dead-letters at the first failure, without retrying, when onFailure names an undeclared actor and no queue", async () => {
      const { broker } = place;
      let runs = 0;
      const job = actor(function undeclaredBoom() { runs++; throw new Error("boom"); }, { broker, queueName: q("a"), onFailure: "nobody" });
      await job.send();
      await broker.join(q("a"), { timeout: 10_000, failFast: false });
      expect(runs).to.equal(1);
      const [dead] = await broker.deadLetters(q("a"));
      expect(dead!.reason).to.contain("Callbacks: the run failed with Error: boom; onFailure names actor \"nobody\"");
    });

    it("says in the dead letter's reason when onRetryExhausted names an undeclared actor and no queue", async () => {
      const { broker } = place;
      const job = actor(function undeclaredSpent() { throw new Error("spent"); }, { broker, queueName: q("a"), maxRetries: 0, onRetryExhausted: "gone" });
      await job.send();
      await broker.join(q("a"), { timeout: 10_000, failFast: false });
      const [dead] = await broker.deadLetters(q("a"));
      expect(dead!.reason).to.contain('Error: spent; onRetryExhausted names actor "gone", which this process did not declare');
    });

    it("enqueues a chord's callback on a queue this process did not declare", async () => {
      const { broker } = place;
      const member = actor(function undeclaredMember(x: number) { return x; }, { broker, queueName: q("a") });
      const callback = new Message({ queueName: q("chord"), actorName: "undeclared_chord_done", args: ["all"], kwargs: {}, options: {} });
      await group([member.message(1), member.message(2)]).addCompletionCallback(callback).run();
      await broker.join(q("a"), { timeout: 10_000 });
      expect(broker.declaredBySend(q("chord"))).to.equal(true);

      const seen: unknown[][] = [];
      const other = await place.elsewhere("undeclared_chord_done", q("chord"), (...args) => void seen.push(args));
      await other.join(q("chord"), { timeout: 10_000 });
      expect(seen).to.deep.equal([["all"]]);
    });
  });
}
