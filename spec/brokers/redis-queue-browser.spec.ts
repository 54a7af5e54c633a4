// The Redis queue browser on a 100,000-message queue: a page deep in it comes back from a
// handful of bounded commands (LLEN + LRANGE of the page + one HMGET of its payloads; ZREVRANGE
// of the page for dead letters), never a read of the whole queue. Checked by recording every
// command the broker's connection sends (a spy on ioredis' sendCommand: the commands still run),
// not by timing, and not by INFO commandstats (other processes share the server).
import { expect } from "chai";
import type { Redis } from "ioredis";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { Message } from "../../lib/index.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "../helpers/redis.ts";

const SIZE = 100_000;
const FILL_CHUNK = 5_000;

interface Sent {
  name: string;
  args: unknown[];
  reply: Promise<unknown>;
}

/** Records the commands `client` sends while `run` runs. */
async function recording<T>(client: Redis, run: () => Promise<T>): Promise<{ result: T; sent: Sent[] }> {
  const sent: Sent[] = [];
  const original = client.sendCommand;
  client.sendCommand = function (this: Redis, ...params: Parameters<Redis["sendCommand"]>) {
    const [command] = params;
    sent.push({ name: command.name.toLowerCase(), args: [...command.args], reply: command.promise.then((r) => r, () => undefined) });
    return original.apply(this, params);
  } as Redis["sendCommand"];
  try {
    return { result: await run(), sent };
  } finally {
    client.sendCommand = original;
  }
}

/** Elements a reply holds (a flat array's length; 1 for a scalar). */
async function replySize(sent: Sent): Promise<number> {
  const reply = await sent.reply;
  return Array.isArray(reply) ? reply.length : 1;
}

describe("Redis queue browser on a queue of 100,000 messages", function () {
  this.timeout(60_000);
  let broker: RedisBroker;
  let namespace: string;
  const queue = "big";
  const ids: string[] = [];

  before(async () => {
    namespace = uniqueNamespace("dramats-browse-big");
    broker = new RedisBroker({ url: await redisUrl(), namespace, middleware: [] });
    broker.declareQueue(queue);
    // Pipelined writes, as a producer's: payloads under their rids, rids on the list, and as
    // many dead letters (scored 1..SIZE ms, so newest first is known).
    const client = await redisClient();
    try {
      for (let from = 0; from < SIZE; from += FILL_CHUNK) {
        const pipeline = client.pipeline();
        const payloads: string[] = [];
        const rids: string[] = [];
        const dead: (string | number)[] = [];
        for (let i = from; i < from + FILL_CHUNK; i++) {
          const message = new Message({ queueName: queue, actorName: "big_noop", args: [i], options: {} });
          ids.push(message.messageId);
          const body = broker.encode(message);
          payloads.push(`r${i}`, body);
          rids.push(`r${i}`);
          dead.push(i + 1, `x${i}`);
        }
        pipeline.hset(`${namespace}:${queue}.msgs`, ...payloads).rpush(`${namespace}:${queue}`, ...rids);
        pipeline.hset(`${namespace}:${queue}.XQ.msgs`, ...payloads.map((v, j) => (j % 2 === 0 ? `x${v.slice(1)}` : v)));
        pipeline.zadd(`${namespace}:${queue}.XQ`, ...dead);
        const replies = await pipeline.exec();
        for (const [error] of replies ?? []) if (error) throw error;
      }
    } finally {
      client.disconnect();
    }
    expect(await broker.depths(queue)).to.deep.include({ ready: SIZE, dead: SIZE });
  });

  after(async () => {
    await broker.close();
    await deleteNamespace(namespace);
  });

  it("returns the ready page at offset 50,000 from a few bounded commands", async () => {
    await broker.client.ping(); // connected before recording
    const { result: page, sent } = await recording(broker.client, () => broker.queueBrowser.browse(queue, { state: "ready", offset: 50_000, limit: 50 }));
    expect(page.total).to.equal(SIZE);
    expect(page.messages.map((m) => m.id)).to.deep.equal(ids.slice(50_000, 50_050));
    expect(broker.decode(page.messages[0]!.body).args).to.deep.equal([50_000]);
    expect(sent.map((s) => s.name).sort()).to.deep.equal(["hmget", "llen", "lrange", "zrange"]);
    const lrange = sent.find((s) => s.name === "lrange")!;
    expect(lrange.args.slice(1).map(Number)).to.deep.equal([50_000, 50_049]);
    for (const s of sent) expect(await replySize(s), `${s.name}'s reply`).to.be.at.most(50);
  });

  it("returns the dead page at offset 50,000, newest first, from a few bounded commands", async () => {
    await broker.client.ping();
    const { result: page, sent } = await recording(broker.client, () => broker.queueBrowser.browse(queue, { state: "dead", offset: 50_000, limit: 20 }));
    expect(page.total).to.equal(SIZE);
    // Newest first: scores SIZE..1, so offset 50,000 is message SIZE - 50,001.
    expect(page.messages.map((m) => m.id)).to.deep.equal(ids.slice(SIZE - 50_020, SIZE - 50_000).reverse());
    expect(page.messages[0]!.deadAt).to.equal(SIZE - 50_000);
    expect(sent.length).to.be.at.most(4);
    for (const s of sent) expect(await replySize(s), `${s.name}'s reply`).to.be.at.most(40);
  });

  it("finds a message by message id, and deletes a dead letter by message id, across the whole queue", async () => {
    const deep = ids[SIZE - 7]!;
    expect(await broker.queueBrowser.find(queue, deep)).to.deep.include({ state: "ready" });
    expect((await broker.queueBrowser.find(queue, deep))?.message.id).to.equal(deep);
    expect(await broker.queueBrowser.deleteDeadLetters(queue, [ids[3]!, "x9", "x9"])).to.equal(2);
    expect(await broker.depths(queue)).to.deep.include({ ready: SIZE, dead: SIZE - 2 });
    const found = await broker.queueBrowser.find(queue, ids[3]!);
    expect(found?.state, "the ready copy of message 3 stays").to.equal("ready");
  });
});

describe("Redis queue browser: delayed messages in both places at once", function () {
  this.timeout(20_000);
  let broker: RedisBroker;
  let namespace: string;

  beforeEach(async () => {
    namespace = uniqueNamespace("dramats-browse-mixed");
    broker = new RedisBroker({ url: await redisUrl(), namespace, delays: "zset", middleware: [] });
    broker.declareQueue("q");
  });

  afterEach(async () => {
    await broker.close();
    await deleteNamespace(namespace);
  });

  it("merges the sorted set and Python's delay queue by eta, a payload without a readable eta first", async () => {
    const message = (n: number) => new Message({ queueName: "q", actorName: "mixed_noop", args: [n], options: {} });
    const soon = await broker.enqueue(message(1), { delay: 10_000 });
    const late = await broker.enqueue(message(3), { delay: 50_000 });
    // What Python Dramatiq's producer writes for a delay: `q.DQ`, `eta` in the options.
    const python = message(2);
    const eta = Date.now() + 30_000;
    const body = JSON.stringify({ ...python.asData(), queue_name: "q.DQ", options: { redis_message_id: "py-1", eta } });
    const client = await redisClient();
    try {
      await client.multi().hset(`${namespace}:q.DQ.msgs`, "py-1", body, "py-2", "garbage").rpush(`${namespace}:q.DQ`, "py-1", "py-2").exec();
    } finally {
      client.disconnect();
    }
    const page = await broker.queueBrowser.browse("q", { state: "delayed", offset: 0, limit: 10 });
    expect(page.total).to.equal(4);
    expect(page.messages.map((m) => m.id)).to.deep.equal(["py-2", soon.messageId, python.messageId, late.messageId]);
    expect(page.messages[0]).to.deep.equal({ id: "py-2", body: "garbage" });
    expect(page.messages[2]!.eta).to.equal(eta);
    const second = await broker.queueBrowser.browse("q", { state: "delayed", offset: 2, limit: 1 });
    expect(second.messages.map((m) => m.id)).to.deep.equal([python.messageId]);
    expect(await broker.queueBrowser.find("q", python.messageId)).to.deep.equal({ state: "delayed", message: { id: python.messageId, body, eta } });
    expect(await broker.queueBrowser.find("q", "py-2")).to.deep.equal({ state: "delayed", message: { id: "py-2", body: "garbage" } });
    expect((await broker.depths("q")).delayed).to.equal(4);
  });
});
