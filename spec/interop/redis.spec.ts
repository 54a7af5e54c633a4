// Sharing queues with Python Dramatiq's RedisBroker: its messages are processed here, and ours
// sit where, and as, Dramatiq reads them.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { abandonConsumer } from "../../brokers/redis/testing.ts";
import { actor, type ActorContext } from "../../lib/actor.ts";
import { Message } from "../../lib/message.ts";
import { Worker } from "../../lib/worker.ts";
import { pythonDelayedRetry, pythonEnqueued } from "../fixtures/redis-dramatiq-messages.ts";
import { deleteNamespace, redisClient, redisUrl, scanKeys, uniqueNamespace } from "../helpers/redis.ts";

const DRAMATIQ_FIELDS = ["queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp"];

describe("Redis interop with Python Dramatiq", function () {
  this.timeout(15_000);
  let namespace: string;
  let queue: string;
  let admin: Redis;
  let broker: RedisBroker;
  let worker: Worker | undefined;

  beforeEach(async () => {
    namespace = uniqueNamespace("dramats-interop");
    queue = `interop_${randomUUID().slice(0, 8)}`;
    admin = await redisClient();
    broker = new RedisBroker({ url: await redisUrl(), namespace, middleware: [], heartbeatInterval: 100, heartbeatTimeout: 500 });
    broker.declareQueue(queue);
  });

  afterEach(async () => {
    await worker?.stop({ timeout: 2_000 });
    worker = undefined;
    await broker.close();
    admin.disconnect();
    await deleteNamespace(namespace);
  });

  const key = (suffix: string) => `${namespace}:${queue}${suffix}`;

  async function startWorker(): Promise<void> {
    worker = new Worker(broker, { queues: [queue], concurrency: 2, fetchTimeout: 200 });
    await worker.start();
  }

  it("processes a message a Python producer enqueued (HSET ns:q.msgs + RPUSH ns:q)", async () => {
    const calls: unknown[][] = [];
    actor(function interop_add(a: number, b: number, kwargs: { scale: number }) {
      calls.push([a, b, kwargs]);
    }, { broker, queueName: queue });
    const rid = randomUUID();
    await admin.hset(key(".msgs"), rid, pythonEnqueued(queue, rid, randomUUID(), Date.now()));
    await admin.rpush(key(""), rid);

    await startWorker();
    await broker.join(queue, { timeout: 5_000 });

    expect(calls).to.deep.equal([[1, 2, { scale: 10 }]]); // kwargs arrive as one trailing object
    expect(await admin.hlen(key(".msgs"))).to.equal(0);
  });

  it("processes a delayed message a Python producer put on ns:q.DQ, at its eta", async () => {
    let seen: { at: number; message: Message } | undefined;
    actor(function interop_greet(this: ActorContext, _id: number, _kwargs: unknown) {
      seen = { at: Date.now(), message: this.message! };
    }, { broker, queueName: queue });
    const rid = randomUUID();
    const messageId = randomUUID();
    const eta = Date.now() + 400;
    await admin.hset(key(".DQ.msgs"), rid, pythonDelayedRetry(queue, rid, messageId, eta));
    await admin.rpush(key(".DQ"), rid);

    await startWorker();
    await broker.join(queue, { timeout: 5_000 });

    expect(seen, "the actor ran").to.not.equal(undefined);
    expect(seen!.at).to.be.at.least(eta);
    expect(seen!.message.messageId).to.equal(messageId);
    expect(seen!.message.queueName).to.equal(queue);
    expect(seen!.message.options).to.not.have.property("eta");
    expect(seen!.message.options.retries).to.equal(2);
    expect(await admin.exists(key(".DQ"), key(".DQ.msgs"), key(".msgs"))).to.equal(0);
    expect(await scanKeys(`${namespace}:__acks__.*`), "nothing held after its run").to.deep.equal([]);
  });

  it("writes what Dramatiq's fetch reads: the id on ns:q, the payload in ns:q.msgs with redis_message_id", async () => {
    const sent = await broker.enqueue(new Message({ queueName: queue, actorName: "interop_add", args: [1, 2], options: { max_retries: 3 } }));
    const ids = await admin.lrange(key(""), 0, -1);
    expect(ids).to.have.length(1);
    const rid = ids[0]!;
    const payload = (await admin.hget(key(".msgs"), rid))!;
    const data = JSON.parse(payload) as Record<string, unknown>;
    expect(Object.keys(data)).to.deep.equal(DRAMATIQ_FIELDS);
    expect(payload).to.not.match(/": /); // compact separators, as Dramatiq writes
    expect(data).to.deep.include({ queue_name: queue, actor_name: "interop_add", args: [1, 2], kwargs: {}, message_id: sent.messageId });
    expect(data.options).to.deep.equal({ max_retries: 3, redis_message_id: rid });
    expect(Number.isInteger(data.message_timestamp)).to.equal(true);

    // Dramatiq's own fetch and ack, step by step, on our data.
    const pythonAcks = `${namespace}:__acks__.python-worker.${queue}`;
    const popped = await admin.lpop(key(""));
    await admin.sadd(pythonAcks, popped!);
    const [body] = await admin.hmget(key(".msgs"), popped!);
    const ackId = (JSON.parse(body!) as { options: { redis_message_id: string } }).options.redis_message_id;
    expect(await admin.srem(pythonAcks, ackId)).to.equal(1);
    await admin.hdel(key(".msgs"), ackId);
    expect(await broker.depths(queue)).to.deep.equal({ ready: 0, delayed: 0, inFlight: 0, dead: 0 });
  });

  /** The server's clock, in ms: our scripts stamp etas with it. */
  async function serverNow(): Promise<number> {
    const [seconds, micros] = await admin.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  describe("delays and priorities, by default where Python looks", () => {
    it("writes a delayed message as RedisBroker.enqueue does: RPUSH ns:q.DQ, HSET ns:q.DQ.msgs, queue_name q.DQ, eta last", async () => {
      const before = await serverNow();
      const sent = await broker.enqueue(new Message({ queueName: queue, actorName: "interop_add", args: [1, 2], options: { max_retries: 3 } }), { delay: 5_000 });
      const after = await serverNow();
      // dispatch.lua:145-150 with queue_name = dq_name(q) (redis.py:172-184): the id on the list ns:q.DQ ...
      const ids = await admin.lrange(key(".DQ"), 0, -1);
      expect(ids).to.have.length(1);
      const rid = ids[0]!;
      // ... and the payload in the hash ns:q.DQ.msgs, as Message.encode writes it (compact JSON, dataclass order).
      const payload = (await admin.hget(key(".DQ.msgs"), rid))!;
      expect(payload).to.not.match(/": /);
      const data = JSON.parse(payload) as { queue_name: string; message_id: string; options: Record<string, unknown> };
      expect(Object.keys(data)).to.deep.equal(DRAMATIQ_FIELDS);
      // redis.py:175-180: message.copy(queue_name=dq_name(q), options={"eta": current_millis() + delay}),
      // after redis.py:166-170's redis_message_id: Message.copy merges, so eta comes last.
      expect(data.queue_name).to.equal(`${queue}.DQ`);
      expect(data.message_id).to.equal(sent.messageId);
      expect(Object.keys(data.options)).to.deep.equal(["max_retries", "redis_message_id", "eta"]);
      expect(data.options.redis_message_id).to.equal(rid);
      // An integer of epoch ms (worker.py:369-378 takes int or float), by the server's clock here.
      expect(Number.isInteger(data.options.eta)).to.equal(true);
      expect(data.options.eta).to.be.within(before + 5_000, after + 5_000);
      // Nothing where only dramats would look.
      expect(await admin.exists(key(""), key(".msgs"), key(":delayed"), key(":prio"))).to.equal(0);
      expect(await broker.depths(queue)).to.deep.equal({ ready: 0, delayed: 1, inFlight: 0, dead: 0 });
    });

    it("writes a retry with backoff to ns:q.DQ too, as Retries' broker.enqueue(message, delay=...) does (retries.py:148)", async () => {
      await broker.enqueue(new Message({ queueName: queue, actorName: "interop_add", args: [1] }));
      const consumer = broker.consume(queue, { prefetch: 1 });
      const [delivery] = await consumer.fetch(1, 1_000);
      const next = broker.decode(delivery!.body).copy({ options: { retries: 1 } });
      await consumer.retry(delivery!, next, 60_000);
      expect(await admin.exists(key(""), key(".msgs"), key(":delayed"))).to.equal(0);
      const [rid] = await admin.lrange(key(".DQ"), 0, -1);
      const data = JSON.parse((await admin.hget(key(".DQ.msgs"), rid!))!) as { queue_name: string; message_id: string; options: Record<string, unknown> };
      expect(data.queue_name).to.equal(`${queue}.DQ`);
      expect(data.message_id).to.equal(next.messageId);
      expect(data.options).to.include({ retries: 1, redis_message_id: rid });
      expect(Object.keys(data.options).at(-1)).to.equal("eta");
      expect(await admin.scard(`${namespace}:__acks__.${consumer.id}.${queue}`)).to.equal(0);
      await consumer.close();
    });

    it("puts every priority on Dramatiq's list ns:q, in arrival order (Dramatiq 2.2 has no priorities on Redis)", async () => {
      for (const priority of [5, 0, -3]) await broker.enqueue(new Message({ queueName: queue, actorName: "interop_add", args: [priority], options: { priority } }));
      const ids = await admin.lrange(key(""), 0, -1);
      const args = await Promise.all(ids.map(async (id) => (JSON.parse((await admin.hget(key(".msgs"), id))!) as { args: number[] }).args[0]));
      expect(args).to.deep.equal([5, 0, -3]);
      expect(await admin.exists(key(":levels"), key(":prio"), key(":level:5"), key(":level:-3"))).to.equal(0);
    });

    it("holds a delayed message in Dramatiq's acks set for ns:q.DQ until its eta, and gives it back to ns:q.DQ when it dies or closes", async () => {
      const rid = randomUUID();
      await admin.hset(key(".DQ.msgs"), rid, pythonDelayedRetry(queue, rid, randomUUID(), Date.now() + 60_000));
      await admin.rpush(key(".DQ"), rid);
      const doomed = broker.consume(queue, { prefetch: 1 });
      expect(await doomed.fetch(1, 100)).to.deep.equal([]);
      // A Dramatiq worker's delay-queue consumer holds it the same way (dispatch.lua:154-175 on q.DQ).
      expect(await admin.smembers(`${namespace}:__acks__.${doomed.id}.${queue}.DQ`)).to.deep.equal([rid]);
      expect(await admin.llen(key(".DQ"))).to.equal(0);
      expect(await broker.depths(queue)).to.deep.equal({ ready: 0, delayed: 1, inFlight: 0, dead: 0 });

      abandonConsumer(doomed);
      const survivor = broker.consume(queue, { prefetch: 1 });
      await admin.zadd(`${namespace}:__heartbeats__`, (await serverNow()) - 60_000, doomed.id);
      await broker.runMaintenance();
      // Back where any worker, Python's too, takes delayed messages from (dispatch.lua:110-127 does the same).
      expect(await admin.lrange(key(".DQ"), 0, -1)).to.deep.equal([rid]);
      expect(await admin.exists(`${namespace}:__acks__.${doomed.id}.${queue}.DQ`)).to.equal(0);

      expect(await survivor.fetch(1, 100)).to.deep.equal([]);
      expect(await admin.llen(key(".DQ"))).to.equal(0);
      await survivor.close();
      expect(await admin.lrange(key(".DQ"), 0, -1)).to.deep.equal([rid]);
      expect(await admin.exists(`${namespace}:__acks__.${survivor.id}.${queue}.DQ`)).to.equal(0);

      // A process the supervisor saw die: recoverConsumer gives them back at once, still delayed.
      const killed = broker.consume(queue, { prefetch: 1 });
      expect(await killed.fetch(1, 100)).to.deep.equal([]);
      abandonConsumer(killed);
      expect(await broker.recoverConsumer(killed.id)).to.equal(0); // nothing became ready
      expect(await admin.lrange(key(".DQ"), 0, -1)).to.deep.equal([rid]);
      expect(await broker.depths(queue)).to.deep.equal({ ready: 0, delayed: 1, inFlight: 0, dead: 0 });
    });

    it("moves a held message to ns:q at its eta under the same id, without eta, as a message of q (worker.py:346-362)", async () => {
      // A nested message (a pipeline's next step) and an argument with an "eta" of their own stay untouched.
      const next = new Message({ queueName: queue, actorName: "interop_next", args: [], options: { eta: 1 } }).asData();
      const sent = await broker.enqueue(new Message({ queueName: queue, actorName: "interop_add", args: [{ eta: 7 }], options: { pipe_target: next } }), { delay: 300 });
      const consumer = broker.consume(queue, { prefetch: 1 });
      const [rid] = await admin.lrange(key(".DQ"), 0, -1);
      const [delivery] = await consumer.fetch(1, 5_000);
      expect(delivery!.rid).to.equal(rid);
      const data = JSON.parse(delivery!.body) as { queue_name: string; args: unknown[]; message_id: string; options: Record<string, unknown> };
      expect(data.queue_name).to.equal(queue);
      expect(data.message_id).to.equal(sent.messageId);
      expect(data.args).to.deep.equal([{ eta: 7 }]);
      expect(data.options).to.deep.equal({ pipe_target: next, redis_message_id: rid });
      // Byte for byte what Dramatiq's worker enqueues at the eta (worker.py:356-358), but for keeping the id.
      expect(delivery!.body).to.equal(broker.encoder.encode({ ...sent.asData(), options: { ...sent.options, redis_message_id: rid } }));
      expect(await admin.exists(key(".DQ"), key(".DQ.msgs"), `${namespace}:__acks__.${consumer.id}.${queue}.DQ`)).to.equal(0);
      await consumer.ack(delivery!);
      await consumer.close();
    });

    it("keeps the fast path on request: ?delays=zset&priorities=levels writes ns:q:delayed and ns:q:level:<p>, never read by Python", async () => {
      const fast = new RedisBroker({ url: `${await redisUrl()}?delays=zset&priorities=levels`, namespace, middleware: [] });
      try {
        fast.declareQueue(queue);
        await fast.enqueue(new Message({ queueName: queue, actorName: "interop_add", args: [] }), { delay: 60_000 });
        await fast.enqueue(new Message({ queueName: queue, actorName: "interop_add", args: [], options: { priority: 5 } }));
        expect(await admin.zcard(key(":delayed"))).to.equal(1);
        expect(await admin.llen(key(":level:5"))).to.equal(1);
        expect(await admin.exists(key(""), key(".DQ"), key(".DQ.msgs"))).to.equal(0);
      } finally {
        await fast.close();
      }
    });
  });

  it("keeps in-flight and dead messages under Dramatiq's heartbeat, acks and XQ keys", async () => {
    const sent = await broker.enqueue(new Message({ queueName: queue, actorName: "interop_x", args: [] }));
    const consumer = broker.consume(queue, { prefetch: 1 });
    const [delivery] = await consumer.fetch(1, 1_000);
    expect(await admin.zscore(`${namespace}:__heartbeats__`, consumer.id)).to.not.equal(null);
    expect(await admin.smembers(`${namespace}:__acks__.${consumer.id}.${queue}`)).to.deep.equal([delivery!.rid]);

    await consumer.nack(delivery!, "Error: no");
    expect(await admin.zrange(key(".XQ"), 0, "-1")).to.deep.equal([delivery!.rid]);
    const dead = JSON.parse((await admin.hget(key(".XQ.msgs"), delivery!.rid))!) as { message_id: string };
    expect(dead.message_id).to.equal(sent.messageId);
    await consumer.close();
  });

  it("requeues what a dead Python worker held on our queues once its heartbeat stood still for the timeout, leaving the heartbeat to Dramatiq", async () => {
    // dispatch.lua:58 writes the heartbeat (the Python host's clock, redis.py:266); :166 the acks set.
    const rid = randomUUID();
    await admin.hset(key(".msgs"), rid, pythonEnqueued(queue, rid, randomUUID(), Date.now()));
    await admin.zadd(`${namespace}:__heartbeats__`, Date.now() - 60_000, "python-worker");
    await admin.sadd(`${namespace}:__acks__.python-worker.${queue}`, rid);

    const started = Date.now();
    const consumer = broker.consume(queue, { prefetch: 1 });
    // First sight: a score 60 s old may be a live host whose clock is 60 s behind.
    expect((await broker.runMaintenance()).requeued).to.equal(0);
    // The broker's passes (every 100 ms) requeue it once its score stood still for the
    // heartbeat timeout (500 ms) on Redis's clock; the requeue wakes this fetch.
    const [delivery] = await consumer.fetch(1, 5_000);

    expect(delivery?.rid).to.equal(rid);
    expect(Date.now() - started).to.be.at.least(500);
    expect(await admin.exists(`${namespace}:__acks__.python-worker.${queue}`)).to.equal(0);
    expect(await admin.zscore(`${namespace}:__heartbeats__`, "python-worker")).to.not.equal(null);
    await consumer.close();
  });
});
