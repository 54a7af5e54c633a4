// Fault specs against the real Redis server: killed workers, killed connections, poison.
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { actor } from "../../lib/actor.ts";
import { ConnectionError } from "../../lib/errors.ts";
import { sleep } from "../../lib/sleep.ts";
import { Worker } from "../../lib/worker.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "../helpers/redis.ts";
import { RedisProxy } from "../helpers/redis-proxy.ts";

const FIXTURE = fileURLToPath(new URL("../fixtures/redis-worker.ts", import.meta.url));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function until(condition: () => boolean | Promise<boolean>, timeout: number, what: string): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe("RedisBroker under faults", function () {
  this.timeout(30_000);
  let url: string;
  let namespace: string;
  let queue: string;
  let admin: Redis;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    url = await redisUrl();
  });

  beforeEach(async () => {
    namespace = uniqueNamespace("dramats-fault");
    queue = `fault_${randomUUID().slice(0, 8)}`;
    admin = await redisClient();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    admin.disconnect();
    await deleteNamespace(namespace);
  });

  function newBroker(through = url): RedisBroker {
    const broker = new RedisBroker({ url: through, namespace, middleware: [], heartbeatInterval: 100, heartbeatTimeout: 500 });
    broker.declareQueue(queue);
    cleanups.push(() => broker.close());
    return broker;
  }

  async function startWorker(broker: RedisBroker, concurrency: number): Promise<Worker> {
    const worker = new Worker(broker, { queues: [queue], concurrency, fetchTimeout: 200 });
    cleanups.push(() => worker.stop({ timeout: 2_000 }));
    await worker.start();
    return worker;
  }

  it("gives a SIGKILLed worker process's unacknowledged messages to another worker", async () => {
    const broker = newBroker();
    const parentDone = new Set<number>();
    const work = actor(async function fault_slow(n: number) {
      parentDone.add(n);
    }, { broker, queueName: queue });
    await Promise.all(range(0, 200).map((i) => work.send(i)));

    // Given a worker process in the middle of its batches
    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", FIXTURE], {
      env: { ...process.env, REDIS_URL: url, FAULT_NAMESPACE: namespace, FAULT_QUEUE: queue, DRAMATS_LOG_LEVEL: "silent" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    cleanups.push(async () => child.kill("SIGKILL"));
    const childDone = new Set<number>();
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const [event, n] = line.split(" ");
      if (event === "done") childDone.add(Number(n));
    });
    await until(() => childDone.size >= 20, 15_000, "the child to process 20 messages");

    // When it is killed without any chance to clean up
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    const heldAtKill = (await broker.depths(queue)).inFlight;
    expect(heldAtKill, "the child held unacknowledged messages").to.be.greaterThan(0);

    // Then another worker runs everything the child did not finish
    await startWorker(broker, 10);
    await broker.join(queue, { timeout: 15_000 });
    const all = new Set([...childDone, ...parentDone]);
    expect([...all].sort((a, b) => a - b)).to.deep.equal(range(0, 200));
    for (const n of range(0, 200)) if (!childDone.has(n)) expect(parentDone.has(n), `message ${n}`).to.equal(true);
    // Reruns are limited to what the child had fetched and not acked.
    const rerun = [...childDone].filter((n) => parentDone.has(n)).length;
    expect(rerun).to.be.at.most(heldAtKill);
    expect(await broker.depths(queue)).to.deep.include({ ready: 0, delayed: 0, inFlight: 0, dead: 0 });
  });

  it("loses nothing when the broker's connections are cut mid-run", async () => {
    // Through a proxy of its own, so this cuts exactly this broker's connections (no CLIENT KILL, an admin command).
    const proxy = await RedisProxy.start(url);
    cleanups.unshift(() => proxy.close());
    const broker = newBroker(proxy.url);
    const done = new Set<number>();
    const work = actor(async function fault_work(n: number) {
      await sleep(2);
      done.add(n);
    }, { broker, queueName: queue });
    await Promise.all(range(0, 1500).map((i) => work.send(i)));
    await startWorker(broker, 10);

    // Producers keep sending while connections die: a send either resolves or rejects with a
    // ConnectionError (and then may or may not have landed); the caller retries.
    const accepted = new Set<number>(range(0, 1500));
    const producer = (async () => {
      for (const n of range(1500, 1800)) {
        for (;;) {
          try {
            await work.send(n);
            accepted.add(n);
            break;
          } catch (error) {
            expect(error).to.be.instanceOf(ConnectionError);
            await sleep(20);
          }
        }
        await sleep(1);
      }
    })();

    const killAll = async () => proxy.dropConnections();
    let killed = 0;
    let doneAtFirstKill = -1;
    for (let round = 0; round < 3; round++) {
      await sleep(150);
      // Each round cuts connections the broker has made again since the last one.
      await until(() => proxy.connections > 0, 10_000, "the broker to reconnect");
      killed += await killAll();
      if (doneAtFirstKill < 0) doneAtFirstKill = done.size;
    }
    expect(killed, "connections killed").to.be.greaterThan(2);
    expect(doneAtFirstKill, "the first kill hit a running worker").to.be.below(1500);
    await producer;
    await broker.join(queue, { timeout: 20_000 });
    for (const n of accepted) expect(done.has(n), `message ${n}`).to.equal(true);
    expect(await broker.depths(queue)).to.deep.include({ ready: 0, inFlight: 0, dead: 0 });

    // An idle worker whose blocking wait is killed too keeps consuming.
    await until(() => proxy.connections > 1, 10_000, "the idle worker's command and wait connections");
    expect(await killAll(), "idle connections killed").to.be.greaterThan(1);
    await work.send(5000);
    await broker.join(queue, { timeout: 10_000 });
    expect(done.has(5000)).to.equal(true);
  });

  it("dead-letters poison pushed straight into the queue and keeps working", async () => {
    const broker = newBroker();
    const done: string[] = [];
    const work = actor(function fault_ok(tag: string) {
      done.push(tag);
    }, { broker, queueName: queue });
    const msgs = `${namespace}:${queue}.msgs`;
    const list = `${namespace}:${queue}`;
    await work.send("before");
    await admin
      .multi()
      .hset(msgs, "poison-json", "{not json at all")
      .rpush(list, "poison-json")
      .hset(msgs, "poison-shape", JSON.stringify({ queue_name: queue, actor_name: 42 }))
      .rpush(list, "poison-shape")
      .rpush(list, "no-payload") // an id whose payload vanished (Dramatiq #266)
      .exec();
    await work.send("after");

    await startWorker(broker, 2);
    await broker.join(queue, { timeout: 10_000, failFast: false });

    expect(done).to.deep.equal(["before", "after"]);
    const dead = await broker.deadLetters(queue);
    expect(dead.map((d) => d.rid).sort()).to.deep.equal(["poison-json", "poison-shape"]);
    for (const letter of dead) expect(letter.reason).to.match(/^DecodeError: /);
    expect(await admin.zcard(`${namespace}:${queue}.XQ`)).to.equal(2);
    expect(await admin.hget(`${namespace}:${queue}.XQ.msgs`, "poison-json")).to.equal("{not json at all");
    expect(await broker.depths(queue)).to.deep.include({ ready: 0, inFlight: 0, dead: 2 });
  });
});
