// Redis recovery with a heartbeats set shared with Python Dramatiq: every Python process writes
// its id there on each command (dramatiq/brokers/redis/dispatch.lua:58), with its host's clock
// (dramatiq/brokers/redis.py:266), and only Dramatiq's own maintenance removes it
// (dispatch.lua:126-131). Maintenance passes stay bounded and get past them.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import type { RedisDelivery } from "../../brokers/redis/index.ts";
import { MAINTENANCE_LIMIT } from "../../brokers/redis/maintenance.ts";
import { abandonConsumer } from "../../brokers/redis/testing.ts";
import { Message } from "../../lib/message.ts";
import { sleep } from "../../lib/sleep.ts";
import { pythonEnqueued } from "../fixtures/redis-dramatiq-messages.ts";
import { redisBrokerFixture } from "../helpers/redis-broker-fixture.ts";

const TIMEOUT = 500;
/** Maintenance interval of brokers whose passes a spec runs by hand (its timer's first pass is at a random point of it). */
const HOUR = 3_600_000;

describe("RedisBroker maintenance beside Python heartbeats", function () {
  this.timeout(30_000);
  const redis = redisBrokerFixture("dramats-maint", { heartbeatInterval: 100, heartbeatTimeout: TIMEOUT, maintenanceInterval: 100 });
  const newBroker = redis.broker;

  const heartbeats = () => `${redis.namespace}:__heartbeats__`;

  /** `count` Python producers that ran once, long ago, and left their heartbeat (no acks set). */
  async function staleProducers(count: number, at: number): Promise<void> {
    const entries: (string | number)[] = [];
    for (let i = 0; i < count; i++) entries.push(at + i, `python-producer-${at}-${i}`);
    await redis.admin.zadd(heartbeats(), ...entries);
  }

  /** What a Python worker holds: the payload in ns:q.msgs, its id in its acks set (dispatch.lua:160-166). */
  async function pythonHolds(worker: string): Promise<string> {
    const rid = randomUUID();
    await redis.admin.hset(`${redis.namespace}:${redis.queue}.msgs`, rid, pythonEnqueued(redis.queue, rid, randomUUID(), Date.now()));
    await redis.admin.sadd(`${redis.namespace}:__acks__.${worker}.${redis.queue}`, rid);
    return rid;
  }

  it("recovers a dead consumer's messages within the heartbeat timeout and a few passes, past 2,000 older stale Python heartbeats", async () => {
    await staleProducers(2_000, Date.now() - 3_600_000);
    const broker = newBroker();
    for (let i = 0; i < 3; i++) await broker.enqueue(new Message({ queueName: redis.queue, actorName: "redis_noop", args: [i] }));
    const doomed = broker.consume(redis.queue, { prefetch: 3 });
    expect(await doomed.fetch(3, 1_000)).to.have.length(3);
    abandonConsumer(doomed);
    const died = Date.now();

    const survivor = newBroker();
    const consumer = survivor.consume(redis.queue, { prefetch: 3 }); // starts its maintenance timer
    const got: RedisDelivery[] = [];
    const deadline = died + 10_000;
    while (got.length < 3 && Date.now() < deadline) got.push(...(await consumer.fetch(3 - got.length, 200)));

    expect(got.map((d) => broker.decode(d.body).args[0]).sort()).to.deep.equal([0, 1, 2]);
    // The timeout, then a pass every 100 ms: a few passes' worth of slack for a loaded machine.
    expect(Date.now() - died).to.be.below(TIMEOUT + 2_500);
    expect(await redis.admin.zscore(heartbeats(), doomed.id)).to.equal(null);
    for (const d of got) await consumer.ack(d);
    await consumer.close();
  });

  it("visits foreign heartbeats in turn, a bounded number per pass, and recovers a dead Python worker among 2,000", async () => {
    await staleProducers(1_000, Date.now() - 7_200_000);
    await redis.admin.zadd(heartbeats(), Date.now() - 3_600_000, "python-worker");
    await staleProducers(1_000, Date.now() - 1_800_000);
    const rid = await pythonHolds("python-worker");
    const broker = newBroker({ maintenanceInterval: HOUR }); // passes run by hand below
    const consumer = broker.consume(redis.queue, { prefetch: 1 });

    const started = Date.now();
    let passes = 0;
    let requeued = 0;
    while (requeued === 0 && passes < 100) {
      passes += 1;
      requeued = (await broker.runMaintenance()).requeued;
      if (requeued === 0) await sleep(100);
    }
    expect(requeued).to.equal(1);
    // 2,002 ids (with our consumer's), MAINTENANCE_LIMIT a pass: it is first seen within one
    // round, and judged on its next visit once the timeout passed on Redis's clock, the next.
    const round = Math.ceil(2_002 / MAINTENANCE_LIMIT);
    expect(passes).to.be.at.most(2 * round + 1);
    expect(Date.now() - started).to.be.at.least(TIMEOUT);
    expect(await redis.admin.lrange(`${redis.namespace}:${redis.queue}`, 0, -1)).to.deep.equal([rid]);
    await consumer.close();
  });

  it("never takes a live Python worker whose clock is 90 s behind Redis's for dead, and recovers it once it stops", async () => {
    const rid = await pythonHolds("python-behind");
    const beat = () => redis.admin.zadd(heartbeats(), Date.now() - 90_000, "python-behind");
    await beat();
    const pythonAlive = setInterval(() => void beat().catch(() => undefined), 50);
    const broker = newBroker({ maintenanceInterval: HOUR });
    const consumer = broker.consume(redis.queue, { prefetch: 1 });
    try {
      // Three timeouts of passes: its score is always 90 s old, but it keeps moving.
      const until = Date.now() + 3 * TIMEOUT;
      while (Date.now() < until) {
        expect((await broker.runMaintenance()).requeued).to.equal(0);
        await sleep(100);
      }
    } finally {
      clearInterval(pythonAlive);
    }
    expect(await redis.admin.sismember(`${redis.namespace}:__acks__.python-behind.${redis.queue}`, rid)).to.equal(1);

    // Killed: the score stops moving; after the timeout on Redis's clock, it is dead.
    await broker.runMaintenance();
    await sleep(TIMEOUT + 100);
    expect((await broker.runMaintenance()).requeued).to.equal(1);
    expect(await redis.admin.lrange(`${redis.namespace}:${redis.queue}`, 0, -1)).to.deep.equal([rid]);
    await consumer.close();
  });

  it("reports a Python heartbeat ahead of Redis's clock", async () => {
    await redis.admin.zadd(heartbeats(), Date.now() + 90_000, "python-ahead");
    const broker = newBroker({ maintenanceInterval: HOUR });
    const consumer = broker.consume(redis.queue, { prefetch: 1 });
    const { foreignClockAhead } = await broker.runMaintenance();
    expect(foreignClockAhead).to.be.within(85_000, 95_000);
    await consumer.close();
  });

  it("removes a foreign heartbeat dead for longer than the dead-message TTL, and its record", async () => {
    await redis.admin.zadd(heartbeats(), Date.now() - 60_000, "python-gone");
    const broker = newBroker({ maintenanceInterval: HOUR, deadMessageTtl: 1_000 });
    const consumer = broker.consume(redis.queue, { prefetch: 1 });
    expect((await broker.runMaintenance()).forgotten).to.equal(0);
    expect(await redis.admin.hexists(`${redis.namespace}:__dramats_seen__`, "python-gone")).to.equal(1);
    await sleep(1_100);
    expect((await broker.runMaintenance()).forgotten).to.equal(1);
    expect(await redis.admin.zscore(heartbeats(), "python-gone")).to.equal(null);
    expect(await redis.admin.hexists(`${redis.namespace}:__dramats_seen__`, "python-gone")).to.equal(0);
    await consumer.close();
  });

  it("drops the record of a foreign heartbeat that Dramatiq's maintenance removed", async () => {
    await redis.admin.zadd(heartbeats(), Date.now() - 60_000, "python-cleaned");
    const broker = newBroker({ maintenanceInterval: HOUR });
    const consumer = broker.consume(redis.queue, { prefetch: 1 });
    await broker.runMaintenance();
    expect(await redis.admin.hexists(`${redis.namespace}:__dramats_seen__`, "python-cleaned")).to.equal(1);
    await redis.admin.zrem(heartbeats(), "python-cleaned"); // dispatch.lua:129-130
    await broker.runMaintenance();
    expect(await redis.admin.hexists(`${redis.namespace}:__dramats_seen__`, "python-cleaned")).to.equal(0);
    await consumer.close();
  });
});
