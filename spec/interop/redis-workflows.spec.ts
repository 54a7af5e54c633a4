// Chords and results shared with Python Dramatiq 2.2 on Redis: what its GroupCallbacks and its
// Redis results backend write, written here byte for byte (each step cites the Dramatiq source
// it mirrors), is read by dramats, and the reverse.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { RedisBroker, RedisRateLimiterBackend, RedisResultBackend } from "../../brokers/redis/index.ts";
import { actor } from "../../lib/actor.ts";
import { group } from "../../lib/composition.ts";
import { ResultTimeout } from "../../lib/errors.ts";
import { Message, type MessageData } from "../../lib/message.ts";
import { sleep } from "../../lib/sleep.ts";
import { Worker } from "../../lib/worker.ts";
import { GroupCallbacks } from "../../middleware/group-callbacks.ts";
import { Results } from "../../middleware/results.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "../helpers/redis.ts";

/** barrier-close.lua's closed value: far from 1, so Python's later arrivals do not clear it. */
const CLOSED = "1000000000000";

/** A message dict as Python's `Message.asdict()` gives it (dramatiq/message.py), compact JSON. */
function pythonMessage(data: MessageData): string {
  const { queue_name, actor_name, args, kwargs, options, message_id, message_timestamp } = data;
  return JSON.stringify({ queue_name, actor_name, args, kwargs, options, message_id, message_timestamp });
}

/**
 * One arrival of a Python member at a barrier: `Barrier.wait(block=False)`
 * (dramatiq/rate_limits/barrier.py:146-149) on the Redis backend: `decr(key, 1, 1, ttl)`
 * (backends/redis.py:65-79, WATCH/GET/SET PX) and, when that fails, `wait_notify`
 * (backends/redis.py:110-114). True when it cleared the barrier (Python then enqueues the
 * callbacks: group_callbacks.py:58-60).
 */
async function pythonArrive(redis: Redis, key: string, ttl: number): Promise<boolean> {
  for (;;) {
    await redis.watch(key);
    const value = Number((await redis.get(key)) ?? "0") - 1;
    if (value < 1) {
      await redis.unwatch();
      await redis.multi().rpush(`${key}@events`, "x").pexpire(`${key}@events`, ttl).exec();
      return true;
    }
    if ((await redis.multi().set(key, value, "PX", ttl).exec()) !== null) return false;
  }
}

describe("Redis interop with Python Dramatiq: chords and results", function () {
  this.timeout(20_000);
  let url: string;
  let namespace: string;
  let queue: string;
  let admin: Redis;
  let python: Redis;
  const barriers: string[] = [];

  before(async () => {
    url = await redisUrl();
  });

  beforeEach(async () => {
    namespace = uniqueNamespace("dramats-interop-wf");
    queue = `interop_${randomUUID().slice(0, 8)}`;
    admin = await redisClient();
    python = await redisClient();
  });

  afterEach(async () => {
    // Dramatiq's barriers are the group's uuid itself, under no prefix.
    for (const id of barriers.splice(0)) await admin.del(id, `${id}@events`, `${id}@dramats`);
    admin.disconnect();
    python.disconnect();
    await deleteNamespace(namespace);
    await deleteNamespace(`${namespace}-limits`);
  });

  describe("chords", () => {
    let limits: RedisRateLimiterBackend;

    beforeEach(() => {
      limits = new RedisRateLimiterBackend({ url, prefix: `${namespace}-limits` });
    });

    afterEach(async () => {
      await limits.close();
    });

    /** A barrier as Python's group.run creates it (composition.py:286-288, backends/redis.py:45-46). */
    async function pythonBarrier(parties: number): Promise<string> {
      const id = randomUUID();
      barriers.push(id);
      expect(await admin.set(id, parties, "PX", 86_400_000, "NX")).to.equal("OK");
      return id;
    }

    it("fires, once, the callback of a chord a Python producer built, run by a Node worker (a member delivered twice)", async () => {
      const broker = new RedisBroker({ url, namespace, middleware: [new GroupCallbacks({ backend: limits })], heartbeatInterval: 100, heartbeatTimeout: 500 });
      let done!: () => void;
      const fired = new Promise<void>((resolve) => (done = resolve));
      let callbacks = 0;
      const ran = new Set<number>();
      let ranWhenFired = 0;
      try {
        broker.declareQueue(queue);
        actor(function interop_member(n: number) {
          ran.add(n);
        }, { broker, queueName: queue });
        actor(function interop_done() {
          callbacks += 1;
          ranWhenFired = ran.size;
          done();
        }, { broker, queueName: queue });
        const id = await pythonBarrier(3);
        const callback = new Message({ queueName: queue, actorName: "interop_done", args: [] }).asData();
        // composition.py:296-313: each member carries the uuid and the callbacks' dicts.
        const options = { group_completion_uuid: id, group_completion_callbacks: [callback] };
        const members = [1, 2, 3].map((n) => new Message({ queueName: queue, actorName: "interop_member", args: [n], options }).asData());
        // Python's enqueue (dispatch.lua:149-150): HSET ns:q.msgs + RPUSH ns:q; member 1 twice
        // in a row (a redelivery: same message id), which Dramatiq would count twice, firing
        // the callback before member 3 ran.
        for (const member of [members[0]!, members[0]!, members[1]!, members[2]!]) {
          const rid = randomUUID();
          await python.hset(`${namespace}:${queue}.msgs`, rid, pythonMessage({ ...member, options: { ...member.options, redis_message_id: rid } }));
          await python.rpush(`${namespace}:${queue}`, rid);
        }
        const worker = new Worker(broker, { queues: [queue], concurrency: 1, fetchTimeout: 200 });
        await worker.start();
        await fired;
        await broker.join(queue, { timeout: 5_000 });
        await worker.stop({ timeout: 2_000 });

        expect(callbacks).to.equal(1);
        expect(ranWhenFired).to.equal(3);
        expect(await admin.lrange(`${id}@events`, 0, -1)).to.deep.equal(["x"]); // as wait_notify leaves it
        expect(await admin.get(id)).to.equal(CLOSED);
        // A Python member redelivered now (barrier.py:146) does not clear it again.
        expect(await pythonArrive(python, id, 86_400_000)).to.equal(false);
      } finally {
        await broker.close();
      }
    });

    it("creates a Node chord's barrier as Dramatiq's Barrier.create, which Python members clear on the last arrival", async () => {
      const broker = new RedisBroker({ url, namespace, middleware: [new GroupCallbacks({ backend: limits, barrierTtl: 60_000 })] });
      try {
        broker.declareQueue(queue);
        const member = actor(function interop_member(_n: number) {}, { broker, queueName: queue });
        const done = actor(function interop_done() {}, { broker, queueName: queue });
        const chord = group([1, 2, 3].map((n) => member.message(n))).addCompletionCallback(done.message());
        await chord.run();
        const id = (chord.children[0] as Message).options.group_completion_uuid as string;
        barriers.push(id);

        expect(await admin.get(id)).to.equal("3");
        expect(await admin.pttl(id)).to.be.within(50_000, 60_000);
        const stored = Object.values(await admin.hgetall(`${namespace}:${queue}.msgs`)).map((raw) => JSON.parse(raw) as MessageData);
        for (const m of stored.filter((s) => s.actor_name === "interop_member")) {
          expect(m.options.group_completion_uuid).to.equal(id);
          expect((m.options.group_completion_callbacks as MessageData[]).map((c) => c.actor_name)).to.deep.equal(["interop_done"]);
        }
        const arrivals = [];
        for (let i = 0; i < 3; i++) arrivals.push(await pythonArrive(python, id, 60_000));
        expect(arrivals).to.deep.equal([false, false, true]);
      } finally {
        await broker.close();
      }
    });

    it("counts Node and Python members on one barrier: the side that clears it fires, the other only before dramats closes it", async () => {
      // Node clears it: Python's later arrivals (redeliveries) find it closed.
      const a = await pythonBarrier(3);
      expect(await limits.arriveAtBarrier(a, "m1")).to.equal(false);
      expect(await pythonArrive(python, a, 86_400_000)).to.equal(false);
      expect(await limits.arriveAtBarrier(a, "m3")).to.equal(true);
      expect(await admin.lrange(`${a}@events`, 0, -1)).to.deep.equal(["x"]);
      await limits.closeBarrier(a);
      expect(await pythonArrive(python, a, 86_400_000)).to.equal(false);
      expect(await limits.arriveAtBarrier(a, "m1")).to.equal(false);

      // Node clears it and has not closed it yet (a crash before its enqueue, or between the
      // enqueue and the close): a Python redelivery finds 1 and fires too.
      const c = await pythonBarrier(1);
      expect(await limits.arriveAtBarrier(c, "m1")).to.equal(true);
      expect(await pythonArrive(python, c, 86_400_000)).to.equal(true);

      // Python clears it: a Node member arriving after that does not fire again.
      const b = await pythonBarrier(2);
      expect(await limits.arriveAtBarrier(b, "m1")).to.equal(false);
      expect(await pythonArrive(python, b, 86_400_000)).to.equal(true);
      expect(await limits.arriveAtBarrier(b, "m1")).to.equal(false);
      expect(await limits.arriveAtBarrier(b, "m3")).to.equal(false);
    });

    it("still counts a barrier written by dramats before Dramatiq's layout", async () => {
      const id = randomUUID();
      const hash = `${namespace}-limits:barrier:${id}`;
      await admin.multi().hset(hash, "parties", 2).pexpire(hash, 60_000).exec();
      expect(await limits.arriveAtBarrier(id, "a")).to.equal(false);
      expect(await limits.arriveAtBarrier(id, "a")).to.equal(false);
      expect(await limits.arriveAtBarrier(id, "b")).to.equal(true);
      await limits.closeBarrier(id);
      expect(await limits.arriveAtBarrier(id, "b")).to.equal(false);
      expect(await admin.exists(id)).to.equal(0); // not recreated under Dramatiq's key
    });
  });

  describe("results", () => {
    let results: RedisResultBackend;

    beforeEach(() => {
      results = new RedisResultBackend({ url, namespace: `${namespace}-results` });
    });

    afterEach(async () => {
      await results.close();
    });

    const source = () => ({ queueName: queue, actorName: "interop_add", messageId: randomUUID() });

    it("wakes a reader waiting on the backend at once when Python's backend stores the result", async () => {
      const message = source();
      const key = results.keyFor(message);
      const started = Date.now();
      const waiting = results.getResult(message, { timeout: 10_000 });
      await sleep(300); // the reader is blocked by now
      // dramatiq/results/backends/redis.py:105-110 (`_store`): DEL, LPUSH, PEXPIRE in a pipeline.
      await python.multi().del(key).lpush(key, '{"sum":3}').pexpire(key, 60_000).exec();

      expect(await waiting).to.deep.equal({ sum: 3 });
      expect(Date.now() - started).to.be.below(3_000); // its timeout is 10 s
      expect(await admin.llen(key)).to.equal(1); // left for other readers, as BRPOPLPUSH key key does
      await admin.del(key);
    });

    it("wakes message.result() when a Python worker stores the result of a message sent from Node", async () => {
      const broker = new RedisBroker({ url, namespace, middleware: [new Results({ backend: results })] });
      try {
        broker.declareQueue(queue);
        const add = actor(function interop_add(a: number, b: number) { return a + b; }, { broker, queueName: queue, storeResults: true });
        const sent = await add.send(1, 2);
        const key = results.keyFor(sent);
        const started = Date.now();
        const waiting = sent.result({ timeout: 10_000 });
        await sleep(300);
        await python.multi().del(key).lpush(key, "3").pexpire(key, 60_000).exec(); // redis.py:105-110
        expect(await waiting).to.equal(3);
        expect(Date.now() - started).to.be.below(3_000);
        await admin.del(key);
      } finally {
        await broker.close();
      }
    });

    it("stores a result as Dramatiq's _store does, which Python's blocking get_result reads", async () => {
      const message = source();
      const key = results.keyFor(message);
      await results.storeResult(message, { sum: 3 }, 60_000);

      expect(await admin.type(key)).to.equal("list");
      expect(await admin.lrange(key, 0, -1)).to.deep.equal(['{"sum":3}']);
      expect(await admin.pttl(key)).to.be.within(50_000, 60_000);
      // redis.py:93: get_result(block=True) is BRPOPLPUSH key key.
      expect(await python.brpoplpush(key, key, 1)).to.equal('{"sum":3}');
      await admin.del(key);
    });

    it("wakes every reader waiting for one result, and times out one waiting for another", async () => {
      const message = source();
      const key = results.keyFor(message);
      const readers = [results.getResult(message, { timeout: 10_000 }), results.getResult(message, { timeout: 10_000 })];
      const started = Date.now();
      const never = results.getResult(source(), { timeout: 400 }).then(() => undefined, (e: unknown) => e);
      await sleep(100);
      await results.storeResult(message, 7, 60_000);

      expect(await Promise.all(readers)).to.deep.equal([7, 7]);
      expect(await never).to.be.instanceOf(ResultTimeout);
      expect(Date.now() - started).to.be.within(390, 3_000);
      await admin.del(key);
    });

    it("waits longer than the command timeout of the client it was given (a broker's shared client)", async () => {
      const client = new Redis(url, { commandTimeout: 200 });
      client.on("error", () => undefined);
      const shared = new RedisResultBackend({ client, namespace: `${namespace}-results` });
      try {
        const message = source();
        const waiting = shared.getResult(message, { timeout: 5_000 });
        await sleep(600);
        await results.storeResult(message, "late", 60_000);
        expect(await waiting).to.equal("late");
        await admin.del(results.keyFor(message));
      } finally {
        await shared.close();
        client.disconnect();
      }
    });
  });
});
