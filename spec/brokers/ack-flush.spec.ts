// The bound on finished-but-unacknowledged messages (lib/ack-flush.ts), on the real servers:
// what a crash can make run twice.
import { expect } from "chai";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { SqliteBroker } from "../../brokers/sqlite/index.ts";
import { ACK_FLUSH_COUNT } from "../../lib/ack-flush.ts";
import { actor } from "../../lib/actor.ts";
import type { Broker } from "../../lib/broker.ts";
import { Message } from "../../lib/message.ts";
import { Worker } from "../../lib/worker.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "../helpers/redis.ts";
import { tempDatabase, waitFor } from "../fixtures/sqlite-files.ts";

const FIXTURE = fileURLToPath(new URL("../fixtures/ack-then-die.ts", import.meta.url));
/** Messages the dying consumer finishes in one synchronous run: a whole adaptive window. */
const FINISHED = 1_000;

/** Runs the fixture until it kills itself; resolves with the consumer id it printed. */
function ackThenDie(env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, ["--import", "tsx", FIXTURE], {
    env: { ...process.env, DRAMATS_LOG_LEVEL: "silent", ACK_COUNT: String(FINISHED), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      const id = /^id (\S+)$/m.exec(out)?.[1];
      if (signal !== "SIGKILL" || id === undefined) reject(new Error(`fixture exited with ${code ?? signal}: ${err}`));
      else resolve(id);
    });
  });
}

const messages = (queue: string) => Array.from({ length: FINISHED }, (_, i) => new Message({ queueName: queue, actorName: "ack_noop", args: [i], options: {} }));

/** A worker that finishes `count` messages and then waits on an empty queue far longer than the test. */
async function finishThenIdle(broker: Broker, queue: string, count: number): Promise<Worker> {
  actor(function ack_noop(_n: number) {}, { broker, queueName: queue });
  await broker.enqueueMany(messages(queue).slice(0, count));
  const worker = new Worker(broker, { queues: [queue], fetchTimeout: 600_000 });
  await worker.start();
  return worker;
}

describe("ack flushing", function () {
  this.timeout(30_000);

  describe("on Redis", () => {
    let url: string;
    let namespace: string;
    let queue: string;
    let broker: RedisBroker;
    let admin: Redis;

    before(async () => {
      url = await redisUrl();
    });
    beforeEach(async () => {
      namespace = uniqueNamespace("dramats-ackflush");
      queue = `ackflush_${randomUUID().slice(0, 8)}`;
      broker = new RedisBroker({ url, namespace, middleware: [] });
      broker.declareQueue(queue);
      admin = await redisClient();
      admin.on("error", () => undefined);
    });
    afterEach(async () => {
      await broker.close();
      admin.disconnect();
      await deleteNamespace(namespace);
    });

    it(`leaves fewer than ${ACK_FLUSH_COUNT} finished messages unacknowledged when the process dies mid-turn`, async () => {
      await broker.enqueueMany(messages(queue));
      const id = await ackThenDie({ ACK_BROKER: "redis", REDIS_URL: url, ACK_NAMESPACE: namespace, ACK_QUEUE: queue });
      const unacked = await admin.scard(`${namespace}:__acks__.${id}.${queue}`);
      expect(unacked).to.be.below(ACK_FLUSH_COUNT);
      // Nothing lost: what was not acked is still held, payload and all, for recovery.
      expect(await admin.hlen(`${namespace}:${queue}.msgs`)).to.equal(unacked);
    });

    it("writes the acks of an idle worker without waiting for its next fetch", async () => {
      const worker = await finishThenIdle(broker, queue, 300);
      try {
        await waitFor(async () => (await broker.depths(queue)).inFlight === 0 && worker.processed === 300, 10_000, "every ack to reach Redis");
        expect(await broker.depths(queue)).to.include({ ready: 0, inFlight: 0 });
      } finally {
        await worker.stop({ timeout: 2_000 });
      }
    });
  });

  describe("on SQLite", () => {
    let db: ReturnType<typeof tempDatabase>;
    let broker: SqliteBroker;
    let queue: string;

    beforeEach(() => {
      db = tempDatabase();
      queue = `ackflush_${randomUUID().slice(0, 8)}`;
      broker = new SqliteBroker({ path: db.path, middleware: [] });
      broker.declareQueue(queue);
    });
    afterEach(async () => {
      await broker.close();
      db.cleanup();
    });

    it(`leaves fewer than ${ACK_FLUSH_COUNT} finished messages unacknowledged when the process dies mid-turn`, async () => {
      await broker.enqueueMany(messages(queue));
      await ackThenDie({ ACK_BROKER: "sqlite", SQLITE_PATH: db.path, ACK_QUEUE: queue });
      const { ready, inFlight } = await broker.depths(queue);
      expect(inFlight).to.be.below(ACK_FLUSH_COUNT);
      expect(ready).to.equal(0);
    });

    it("writes the acks of an idle worker without waiting for its next fetch", async () => {
      const worker = await finishThenIdle(broker, queue, 300);
      try {
        await waitFor(async () => (await broker.depths(queue)).inFlight === 0 && worker.processed === 300, 10_000, "every ack to reach the file");
        expect(await broker.depths(queue)).to.include({ ready: 0, inFlight: 0 });
      } finally {
        await worker.stop({ timeout: 2_000 });
      }
    });
  });
});
