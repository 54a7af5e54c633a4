// Redis-only behaviour: configuration, heartbeats and maintenance, wake-ups, delays, reconnection.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { MessageDeadLettered, parseRedisUrl, RedisBroker, type RedisConsumer, type RedisDelivery } from "../../brokers/redis/index.ts";
import { resolveRedisOptions } from "../../brokers/redis/options.ts";
import { Scripts } from "../../brokers/redis/scripts.ts";
import { ConnectionError, ConnectionFailed } from "../../lib/errors.ts";
import { Message } from "../../lib/message.ts";
import { JsonEncoder } from "../../lib/encoder.ts";
import { sleep } from "../../lib/sleep.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "../helpers/redis.ts";
import { abandonConsumer } from "../../brokers/redis/testing.ts";
import { acceptCredentials, credentialsAt, RedisProxy, type ProxiedCommand } from "../helpers/redis-proxy.ts";

describe("RedisBroker", function () {
  this.timeout(15_000);
  let url: string;
  let namespace: string;
  let queue: string;
  let admin: Redis;
  const brokers: RedisBroker[] = [];
  let proxied: RedisProxy | undefined;

  /** A proxy in front of the server for this test, recording what passes through it. */
  async function proxy(): Promise<RedisProxy> {
    proxied ??= await RedisProxy.start(url);
    return proxied;
  }

  before(async () => {
    url = await redisUrl();
  });

  beforeEach(async () => {
    namespace = uniqueNamespace("dramats-redis");
    queue = `q_${randomUUID().slice(0, 8)}`;
    admin = await redisClient();
  });

  afterEach(async () => {
    for (const broker of brokers.splice(0)) await broker.close();
    await proxied?.close();
    proxied = undefined;
    admin.disconnect();
    await deleteNamespace(namespace);
  });

  function newBroker(options: ConstructorParameters<typeof RedisBroker>[0] = {}): RedisBroker {
    const broker = new RedisBroker({ url, namespace, middleware: [], heartbeatInterval: 100, heartbeatTimeout: 500, ...options });
    broker.declareQueue(queue);
    brokers.push(broker);
    return broker;
  }

  const message = (args: unknown[] = [], options: Record<string, unknown> = {}) =>
    new Message({ queueName: queue, actorName: "redis_noop", args, options });

  describe("configuration", () => {
    it("reads host, port, credentials, database and TLS from the URL", () => {
      expect(parseRedisUrl("redis://user:p%40ss@example.com:6380/3")).to.deep.equal({
        host: "example.com",
        port: 6380,
        username: "user",
        password: "p@ss",
        db: 3,
      });
      expect(parseRedisUrl("rediss://:secret@10.0.0.1")).to.deep.include({ host: "10.0.0.1", port: 6379, password: "secret", tls: {} });
    });

    it("rejects malformed URLs and options with errors that name them", () => {
      expect(() => parseRedisUrl("http://localhost")).to.throw(TypeError, /redis:\/\/ or rediss:\/\//);
      expect(() => parseRedisUrl("redis://localhost/x")).to.throw(TypeError, /database "x"/);
      expect(() => new RedisBroker({ namespace: "" })).to.throw(TypeError, /options.namespace/);
      expect(() => new RedisBroker({ heartbeatInterval: 500, heartbeatTimeout: 500 })).to.throw(RangeError, /heartbeatTimeout/);
      expect(() => new RedisBroker({ deadMessageTtl: -1 })).to.throw(RangeError, /deadMessageTtl/);
    });

    it("takes the heartbeat timeout from the URL's heartbeat_timeout (ms) unless the option gives one, heartbeating three times per timeout", () => {
      const fromUrl = resolveRedisOptions({ url: "redis://h:1/2?heartbeat_timeout=9000" });
      expect(fromUrl).to.include({ heartbeatTimeout: 9_000, heartbeatInterval: 3_000 });
      expect(fromUrl.connection).to.include({ host: "h", port: 1, db: 2 });
      expect(resolveRedisOptions({ url: "redis://h?heartbeat_timeout=120000" })).to.include({ heartbeatTimeout: 120_000, heartbeatInterval: 5_000 });
      expect(resolveRedisOptions({ url: "redis://h?heartbeat_timeout=9000", heartbeatTimeout: 20_000 })).to.include({ heartbeatTimeout: 20_000 });
      expect(resolveRedisOptions({ url: "redis://h" })).to.include({ heartbeatTimeout: 60_000, heartbeatInterval: 5_000 });
    });

    it("refuses a heartbeat timeout that is not a whole number of ms, is under 1000 ms from a URL, or is under twice the interval", () => {
      for (const bad of ["0", "-5", "abc", "", "1.5", "60", "NaN", "1e4"]) {
        expect(() => resolveRedisOptions({ url: `redis://h?heartbeat_timeout=${bad}` }), bad).to.throw(RangeError, /heartbeat_timeout must be a whole number of milliseconds, at least 1000/);
      }
      expect(() => resolveRedisOptions({ url: "redis://h?heartbeat_timeout=9000", heartbeatInterval: 5_000 })).to.throw(RangeError, /at least twice options.heartbeatInterval \(5000\)/);
      expect(() => resolveRedisOptions({ heartbeatTimeout: Number.NaN })).to.throw(RangeError, /heartbeatTimeout/);
      expect(() => resolveRedisOptions({ heartbeatTimeout: -1 })).to.throw(RangeError, /heartbeatTimeout/);
    });

    it("authenticates with the URL's user and password and selects its database, on every connection", async () => {
      // The proxy records what the broker sends, then swaps in the spec server's own credentials
      // and database: no user to create (ACL SETUSER is an admin command), no other database used.
      const ownDatabase = new URL(url).pathname.slice(1) || "0";
      const db = String(1 + Math.floor(Math.random() * 15)); // never reaches the server
      const login = acceptCredentials(url, "spec-user", "s3cret");
      proxied = await RedisProxy.start(url, (args) => (args[0]!.toUpperCase() === "SELECT" ? ["SELECT", ownDatabase] : login(args)));
      const target = new URL(proxied.url);
      target.username = "spec-user";
      target.password = "s3cret";
      target.pathname = `/${db}`;
      const broker = newBroker({ url: target.href });
      await broker.enqueue(message(["secured"]));
      expect(await admin.llen(`${namespace}:${queue}`)).to.equal(1);
      const consumer = broker.consume(queue, { prefetch: 1 });
      expect(await consumer.fetch(1, 1_000)).to.have.length(1);
      expect(await consumer.fetch(1, 50), "waits on its own connection").to.deep.equal([]);
      await consumer.close();

      // What each connection sent to log in and choose its database.
      const connections = new Map<number, string[]>();
      for (const { connection, args } of proxied.commands) {
        const at = credentialsAt(args);
        const sent = at >= 0 ? `credentials ${args[at]}:${args[at + 1]}` : args[0]!.toUpperCase() === "SELECT" ? `database ${args[1]}` : undefined;
        if (sent !== undefined) connections.set(connection, [...(connections.get(connection) ?? []), sent]);
      }
      expect(connections.size, "the command connection and the consumer's wait connection").to.be.at.least(2);
      for (const sent of connections.values()) expect(sent).to.deep.equal(["credentials spec-user:s3cret", `database ${db}`]);
    });

    it("rejects an enqueue with a typed error instead of hanging when Redis is unreachable", async () => {
      const broker = newBroker({ url: "redis://127.0.0.1:1" });
      const started = Date.now();
      const error = await broker.enqueue(message()).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(ConnectionFailed);
      expect((error as ConnectionError).code).to.equal("DRAMATS_ERR_CONNECTION_FAILED");
      expect(Date.now() - started).to.be.below(10_000);
    });
  });

  describe("wake-ups and delays", () => {
    it("wakes an idle consumer within milliseconds of an enqueue", async () => {
      const broker = newBroker();
      const consumer = broker.consume(queue, { prefetch: 1 });
      await consumer.fetch(1, 50); // connections up and idle
      const pending = consumer.fetch(1, 5_000);
      await sleep(100);
      const sentAt = performance.now();
      await broker.enqueue(message(["now"]));
      const [delivery] = await pending;
      const latency = performance.now() - sentAt;
      expect(delivery).to.not.equal(undefined);
      expect(latency).to.be.below(500); // typically 1-3 ms; far below the 5 s fetch timeout
      await consumer.close();
    });

    it("delivers a delayed message close to its eta, even to a consumer already asleep", async () => {
      const broker = newBroker();
      const consumer = broker.consume(queue, { prefetch: 1 });
      await consumer.fetch(1, 50);
      const pending = consumer.fetch(1, 5_000);
      await sleep(50);
      const sentAt = Date.now();
      await broker.enqueue(message(["later"]), { delay: 300 });
      const [delivery] = await pending;
      const late = Date.now() - sentAt - 300;
      expect(late).to.be.within(0, 150); // about 100 ms precision is the promise; usually ~2 ms
      expect(broker.decode(delivery!.body).args).to.deep.equal(["later"]);
      await consumer.close();
    });

    it("ends a sleep at a delayed message's eta, and is woken again after it, with no admin command (no CLIENT UNBLOCK)", async () => {
      const broker = newBroker({ url: (await proxy()).url });
      const consumer = broker.consume(queue, { prefetch: 1 });
      await consumer.fetch(1, 50);
      const pending = consumer.fetch(1, 5_000);
      await sleep(50);
      await broker.enqueue(message(["later"]), { delay: 300 });
      const [due] = await pending;
      expect(broker.decode(due!.body).args).to.deep.equal(["later"]);
      await consumer.ack(due!);
      // Asleep again on the same wait connection: an enqueue still wakes it.
      const next = consumer.fetch(1, 5_000);
      await sleep(50);
      await broker.enqueue(message(["now"]));
      const [woken] = await next;
      expect(broker.decode(woken!.body).args).to.deep.equal(["now"]);
      await consumer.close();
      const admin = proxied!.commands.map(({ args }) => args.slice(0, 2).join(" ").toUpperCase()).filter(isAdminCommand);
      expect(admin, "admin commands sent").to.deep.equal([]);
    });

    it("keeps an idle fleet quiet: blocking waits, not polling", async () => {
      // Every connection of this broker goes through the proxy, so it counts our commands only.
      const broker = newBroker({ url: (await proxy()).url, heartbeatInterval: 1_000, heartbeatTimeout: 5_000 });
      const consumers = [0, 1, 2].map(() => broker.consume(queue, { prefetch: 5 }));
      const loops = consumers.map(async (c) => {
        while (!c.closed) await c.fetch(5, 1_000);
      });
      await sleep(200);
      const mark = proxied!.commands.length;
      await sleep(1_500); // the idle period measured
      const commands = proxied!.since(mark).length;
      for (const c of consumers) await c.close();
      await Promise.all(loops);
      // Per consumer and second: a fetch, a blocking wait; plus the broker's heartbeat and
      // maintenance. A polling loop would issue thousands.
      expect(commands, "commands sent by the idle consumers' broker").to.be.within(3, 40);
    });
  });

  describe("acks", () => {
    it("sends the acks of a turn along with the fetch that follows them, in one script call", async () => {
      // Maintenance every 20 ms: its script calls land amid the ones counted, and must not count.
      const broker = newBroker({ url: (await proxy()).url, maintenanceInterval: 20 });
      for (let i = 0; i < 4; i++) await broker.enqueue(message([i]));
      const consumer = broker.consume(queue, { prefetch: 4 });
      const first = await consumer.fetch(2, 1_000);
      expect(first).to.have.length(2);
      // The queue's own scripts (fetch: 4 keys, ack: 2), told apart by their first key from the
      // heartbeat and maintenance scripts, which may run at any moment.
      const queueScripts = (mark: number) => proxied!.since(mark).filter(isQueueScript(`${namespace}:${queue}`)).map((c) => Number(c.args[2]));
      let mark = proxied!.commands.length;
      const acked = Promise.all(first.map((d) => consumer.ack(d)));
      const next = await consumer.fetch(2, 1_000);
      await acked;
      expect(queueScripts(mark), "script calls (by number of keys)").to.deep.equal([4]);
      expect(next).to.have.length(2);
      expect((await broker.depths(queue)).inFlight, "the first two are gone").to.equal(2);
      // Alone, acks go out by themselves by the end of the loop iteration.
      mark = proxied!.commands.length;
      await Promise.all(next.map((d) => consumer.ack(d)));
      expect(queueScripts(mark)).to.deep.equal([2]);
      expect(await broker.depths(queue)).to.deep.include({ ready: 0, inFlight: 0 });
      await consumer.close();
    });
  });

  describe("heartbeats and recovery", () => {
    it("beats on a timer while a consumer is busy and fetches nothing", async () => {
      const broker = newBroker();
      const consumer = broker.consume(queue, { prefetch: 1 });
      await sleep(150);
      const first = Number(await admin.zscore(`${namespace}:__heartbeats__`, consumer.id));
      await sleep(300);
      const later = Number(await admin.zscore(`${namespace}:__heartbeats__`, consumer.id));
      expect(first).to.be.greaterThan(0);
      expect(later).to.be.greaterThan(first);
      await consumer.close();
    });

    it("does not take a live consumer holding a message longer than the heartbeat timeout for dead", async () => {
      const broker = newBroker();
      const other = newBroker();
      await broker.enqueue(message(["long"]));
      const consumer = broker.consume(queue, { prefetch: 1 });
      const [held] = await consumer.fetch(1, 1_000);
      await sleep(800); // > heartbeatTimeout (500)
      await other.runMaintenance();
      expect((await broker.depths(queue)).inFlight).to.equal(1);
      await consumer.ack(held!);
      await consumer.close();
    });

    it("requeues a dead consumer's messages from another broker's scheduled maintenance", async () => {
      const broker = newBroker();
      for (let i = 0; i < 3; i++) await broker.enqueue(message([i]));
      const doomed = broker.consume(queue, { prefetch: 3 });
      expect(await doomed.fetch(3, 1_000)).to.have.length(3);
      abandonConsumer(doomed);
      const survivor = newBroker({ maintenanceInterval: 100 });
      const consumer = survivor.consume(queue, { prefetch: 3 }); // starts the maintenance timer
      const got: RedisDelivery[] = [];
      const deadline = Date.now() + 5_000;
      while (got.length < 3 && Date.now() < deadline) got.push(...(await consumer.fetch(3 - got.length, 200)));
      expect(got.map((d) => broker.decode(d.body).args[0]).sort()).to.deep.equal([0, 1, 2]);
      expect(await admin.hexists(`${namespace}:__dramats_consumers__`, doomed.id)).to.equal(0);
      expect(await admin.zscore(`${namespace}:__heartbeats__`, doomed.id)).to.equal(null);
      for (const d of got) await consumer.ack(d);
      await consumer.close();
    });

    it("gives back what a consumer holds when it closes, and unregisters it", async () => {
      const broker = newBroker();
      await broker.enqueue(message(["a"]));
      const consumer = broker.consume(queue, { prefetch: 1 });
      expect(await consumer.fetch(1, 1_000)).to.have.length(1);
      await consumer.close();
      expect(await broker.depths(queue)).to.deep.include({ ready: 1, inFlight: 0 });
      expect(await admin.exists(`${namespace}:__acks__.${consumer.id}.${queue}`)).to.equal(0);
      expect(await admin.zscore(`${namespace}:__heartbeats__`, consumer.id)).to.equal(null);
    });

    it("after a reconnection, gives back ids a fetch took whose reply was lost", async () => {
      const broker = newBroker();
      await broker.enqueue(message(["lost"]));
      const consumer: RedisConsumer = broker.consume(queue, { prefetch: 1 });
      // What a fetch whose reply never arrived leaves behind: the id in our acks set only.
      const rid = await admin.lpop(`${namespace}:${queue}`);
      await admin.sadd(`${namespace}:__acks__.${consumer.id}.${queue}`, rid!);
      consumer.markReconnected();
      const [again] = await consumer.fetch(1, 1_000);
      expect(again?.rid).to.equal(rid);
      await consumer.ack(again!);
      expect(await broker.depths(queue)).to.deep.include({ ready: 0, inFlight: 0 });
      await consumer.close();
    });
  });

  describe("join", () => {
    it("fails fast with the stored reason when another process dead-lettered a message", async () => {
      const worker = newBroker();
      const watcher = newBroker();
      const sent = await worker.enqueue(message());
      const consumer = worker.consume(queue, { prefetch: 1 });
      const [d] = await consumer.fetch(1, 1_000);
      const joined = watcher.join(queue, { timeout: 5_000 }).then(() => undefined, (e: unknown) => e);
      await sleep(50);
      await consumer.nack(d!, "TypeError: bad input", new TypeError("bad input"));
      const error = await joined;
      expect(error).to.be.instanceOf(MessageDeadLettered);
      expect(error).to.deep.include({ code: "DRAMATS_ERR_DEAD_LETTERED", messageId: sent.messageId, reason: "TypeError: bad input" });
      await consumer.close();
    });
  });

  describe("scripts", () => {
    it("are idempotent when ioredis re-sends them after a reconnection", async () => {
      const scripts = new Scripts(admin);
      const base = `${namespace}:${queue}`;
      const acks = `${namespace}:__acks__.c1.${queue}`;
      const body = JSON.stringify(message(["once"]).asData());
      expect(await scripts.enqueue(base, ["r1", body, 0, 0, "0", ""])).to.equal(1);
      expect(await scripts.enqueue(base, ["r1", body, 0, 0, "0", ""])).to.equal(0);
      expect(await admin.llen(base)).to.equal(1);
      const heartbeats = `${namespace}:__heartbeats__`;
      const registry = `${namespace}:__dramats_consumers__`;
      await scripts.fetch(base, acks, heartbeats, registry, 1, "c1", queue, 100, { maxSize: 0, deadTtl: 60_000, hold: -1, holdBodies: false });
      expect(await scripts.retry(base, acks, "r1", ["r2", body, 0, 1_000, "0", ""])).to.equal(1);
      expect(await scripts.retry(base, acks, "r1", ["r2", body, 0, 1_000, "0", ""])).to.equal(0);
      expect(await admin.zcard(`${base}:delayed`)).to.equal(1);
      expect(await admin.hkeys(`${base}.msgs`)).to.deep.equal(["r2"]);
      // Into Dramatiq's delay queue (the default layout): a re-sent call writes nothing twice either.
      expect(await scripts.enqueue(base, ["r3", '{"a":', 0, 1_000, "2", "}"])).to.equal(1);
      expect(await scripts.enqueue(base, ["r3", '{"a":', 0, 1_000, "2", "}"])).to.equal(0);
      expect(await admin.lrange(`${base}.DQ`, 0, -1)).to.deep.equal(["r3"]);
    });

    it("fetch dead-letters a body over the encoder's size limit, never handing it to the consumer", async () => {
      const broker = newBroker({ encoder: new JsonEncoder({ maxSize: 64 * 1024 }) });
      const huge = JSON.stringify({ ...message(["x".repeat(200_000)]).asData(), message_id: "huge" });
      // As a raw or Python producer writes it: Dramatiq's list and payload hash.
      await admin.multi().hset(`${namespace}:${queue}.msgs`, "huge", huge).rpush(`${namespace}:${queue}`, "huge").exec();
      await broker.enqueue(message(["small"]));
      const consumer = broker.consume(queue, { prefetch: 8 });
      const got = await consumer.fetch(8, 1_000);
      expect(got.map((d) => JSON.parse(d.body).args)).to.deep.equal([["small"]]);
      const [dead] = await broker.deadLetters(queue);
      expect(dead!.reason).to.match(/^MessageTooLarge: Message of \d+ bytes exceeds the limit of 65536 bytes$/);
      expect(dead!.body.length).to.be.greaterThan(200_000);
      await consumer.ack(got[0]!);
      await consumer.close();
    });

    it("trim dead letters older than the dead-message TTL on schedule", async () => {
      const broker = newBroker({ deadMessageTtl: 200 });
      await broker.enqueue(message());
      const consumer = broker.consume(queue, { prefetch: 1 });
      const [d] = await consumer.fetch(1, 1_000);
      await consumer.nack(d!, "Error: gone soon");
      expect((await broker.depths(queue)).dead).to.equal(1);
      // The scheduled maintenance (every heartbeat interval here) trims it.
      await sleep(400);
      expect((await broker.depths(queue)).dead).to.equal(0);
      expect(await admin.hlen(`${namespace}:${queue}:reasons`)).to.equal(0);
      await consumer.close();
    });
  });
});

/** Commands a managed or shared server may refuse to an application user (ACL category @admin), and KEYS. */
function isAdminCommand(nameAndFirstArg: string): boolean {
  return /^(CLIENT (KILL|LIST|UNBLOCK|PAUSE|NO-EVICT)|CONFIG|ACL|DEBUG|MONITOR|FLUSHALL|FLUSHDB|KEYS|SHUTDOWN|SAVE|BGSAVE|REPLICAOF|SLAVEOF|FAILOVER|SCRIPT FLUSH|FUNCTION FLUSH)\b/.test(nameAndFirstArg);
}

/** A script call (EVAL or EVALSHA) of the queue whose base key is `base`, other than its depths' (1 key). */
function isQueueScript(base: string): (command: ProxiedCommand) => boolean {
  return ({ args }) => /^eval(sha)?$/i.test(args[0] ?? "") && args[3] === base && args[2] !== "1";
}
