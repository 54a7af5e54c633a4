// Sharing queues with Python Dramatiq's RedisBroker: its messages are processed here, and ours
// sit where, and as, Dramatiq reads them.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { actor, type ActorContext } from "../../lib/actor.ts";
import { Message } from "../../lib/message.ts";
import { Worker } from "../../lib/worker.ts";
import { pythonDelayedRetry, pythonEnqueued } from "../fixtures/redis-dramatiq-messages.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "../helpers/redis.ts";

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
