// Acceptance: the Redis layout parameters of a --broker URL reach the broker the `dramats`
// operator commands build (the worker command builds its broker from the URL the same way,
// lib/connect.ts), and the commands count Dramatiq's delay queue as delayed.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { Message } from "../../lib/index.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "../helpers/redis.ts";
import { runOperator } from "./run-operator.ts";

describe("dramats operator commands on Redis' two layouts", function () {
  this.timeout(30_000);
  let namespace: string;
  let queue: string;
  let url: string;
  let broker: RedisBroker;
  let admin: Redis;

  beforeEach(async () => {
    namespace = uniqueNamespace("dramats-cli-layout");
    queue = `layout_${randomUUID().slice(0, 8)}`;
    url = await redisUrl();
    broker = new RedisBroker({ url, namespace, middleware: [] });
    broker.declareQueue(queue);
    admin = await redisClient();
  });

  afterEach(async () => {
    await broker.close();
    admin.disconnect();
    await deleteNamespace(namespace);
  });

  const brokerUrl = (params: Record<string, string> = {}) => {
    const parsed = new URL(url);
    for (const [key, value] of Object.entries({ namespace, ...params })) parsed.searchParams.set(key, value);
    return parsed.href;
  };

  /** A priority-5 message, dead-lettered. */
  async function deadLetter(): Promise<void> {
    await broker.enqueue(new Message({ queueName: queue, actorName: "layout_noop", args: [], options: { priority: 5 } }));
    const consumer = broker.consume(queue, { prefetch: 1 });
    const [delivery] = await consumer.fetch(1, 2_000);
    await consumer.nack(delivery!, "Error: no");
    await consumer.close();
  }

  it("requeues onto priority levels with ?priorities=levels, onto Dramatiq's list without", async () => {
    await deadLetter();
    const levels = await runOperator(["requeue", queue, "--all", "--broker", brokerUrl({ priorities: "levels" })]);
    expect(levels.code, levels.stderr).to.equal(0);
    expect(await admin.llen(`${namespace}:${queue}:level:5`)).to.equal(1);
    expect(await admin.llen(`${namespace}:${queue}`)).to.equal(0);
    await broker.flush(queue);

    await deadLetter();
    const shared = await runOperator(["requeue", queue, "--all", "--broker", brokerUrl()]);
    expect(shared.code, shared.stderr).to.equal(0);
    expect(await admin.llen(`${namespace}:${queue}`)).to.equal(1);
    expect(await admin.exists(`${namespace}:${queue}:level:5`)).to.equal(0);
  });

  it("counts messages in ns:q.DQ as delayed, on either layout", async () => {
    await broker.enqueue(new Message({ queueName: queue, actorName: "layout_noop", args: [] }), { delay: 60_000 });
    expect(await admin.llen(`${namespace}:${queue}.DQ`)).to.equal(1);
    for (const params of [{}, { delays: "zset", priorities: "levels" }] as Record<string, string>[]) {
      const depths = await runOperator(["queues", "--queue", queue, "--broker", brokerUrl(params), "--json"]);
      expect(depths.code, depths.stderr).to.equal(0);
      expect(depths.json().queues).to.deep.equal([{ queue, ready: 0, delayed: 1, inFlight: 0, dead: 0 }]);
    }
    const bad = await runOperator(["queues", "--queue", queue, "--broker", brokerUrl({ delays: "later" })]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/\?delays=\) must be "dramatiq" or "zset", got "later"/);
  });
});
