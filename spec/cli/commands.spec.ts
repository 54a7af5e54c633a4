// Acceptance: the operator commands (`dramats queues`, `purge`, `schedules`, `cancel`) through
// the real command, against the real Redis server; usage errors, exit codes and redaction.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { RedisBroker, RedisCancellationBackend } from "../../brokers/redis/index.ts";
import { actor, Cancellation, Message, Retries, Scheduler, Worker } from "../../lib/index.ts";
import { amqpUrl, deleteQueues } from "../helpers/amqp.ts";
import { deleteNamespace, redisUrl } from "../helpers/redis.ts";
import { runOperator } from "./run-operator.ts";

const APP = "spec/fixtures/cli-ops-app.ts";

describe("dramats operator commands on Redis", function () {
  this.timeout(30_000);
  let url: string;
  let ns: string;
  let env: NodeJS.ProcessEnv;
  let broker: RedisBroker;

  before(async () => {
    url = await redisUrl();
  });
  beforeEach(() => {
    ns = `dramats-ops-${randomUUID().slice(0, 8)}`;
    env = { REDIS_URL: url, OPS_NS: ns };
    broker = new RedisBroker({ url, namespace: ns, middleware: [new Retries({ maxRetries: 0 })] });
    broker.declareQueue("ops-a");
  });
  afterEach(async () => {
    await broker.flushAll();
    await broker.close();
    await deleteNamespace(ns);
    await deleteNamespace(`${ns}-cancel`);
  });

  const message = (tag: string) => new Message({ queueName: "ops-a", actorName: "ops_work", args: [tag] });

  it("shows the depth of each queue the modules declare, plus --queue ones: ready, delayed, in flight, dead", async () => {
    for (let i = 0; i < 4; i++) await broker.enqueue(message(`r${i}`));
    for (let i = 0; i < 2; i++) await broker.enqueue(message(`d${i}`), { delay: 60_000 });
    const consumer = broker.consume("ops-a", { prefetch: 2 });
    let held = await consumer.fetch(2, 1_000);
    while (held.length < 2) held = [...held, ...(await consumer.fetch(2 - held.length, 1_000))];
    await consumer.nack(held[1]!, "Error: gone"); // one dead, one still in flight

    const json = await runOperator(["queues", APP, "--queue", "ops-extra", "--json"], env);
    expect(json.code, json.stderr).to.equal(0);
    expect(json.json().queues).to.deep.equal([
      { queue: "ops-a", ready: 2, delayed: 2, inFlight: 1, dead: 1 },
      { queue: "ops-b", ready: 0, delayed: 0, inFlight: 0, dead: 0 },
      { queue: "ops-extra", ready: 0, delayed: 0, inFlight: 0, dead: 0 },
    ]);
    const table = await runOperator(["queues", APP], env);
    expect(table.code, table.stderr).to.equal(0);
    const lines = table.stdout.trim().split("\n");
    expect(lines[0]).to.equal("Broker: RedisBroker");
    expect(lines.slice(2)).to.deep.equal([
      "QUEUE  READY  DELAYED  IN FLIGHT  DEAD",
      "ops-a      2        2          1     1",
      "ops-b      0        0          0     0",
    ]);
    await consumer.ack(held[0]!);
    await consumer.close();
  });

  it("purges a queue only with --yes, then it is empty", async () => {
    for (let i = 0; i < 3; i++) await broker.enqueue(message(`p${i}`));
    await broker.enqueue(message("later"), { delay: 60_000 });
    const refused = await runOperator(["purge", "ops-a", "--module", APP], env);
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.contain("refusing to drop 3 ready, 1 delayed and 0 dead messages of ops-a without --yes");
    expect((await broker.depths("ops-a")).ready).to.equal(3);

    const purged = await runOperator(["purge", "ops-a", "--module", APP, "--yes"], env);
    expect(purged.code, purged.stderr).to.equal(0);
    expect(purged.stdout).to.contain("Purged ops-a: dropped 3 ready, 1 delayed and 0 dead messages.");
    expect(await broker.depths("ops-a")).to.deep.equal({ ready: 0, delayed: 0, inFlight: 0, dead: 0 });
  });

  it("lists schedules with their next run times and the last tick enqueued", async () => {
    // What a worker's Scheduler writes after enqueueing a tick.
    const lastTick = Math.floor(Date.now() / 60_000) * 60_000;
    await broker.store.set(new Scheduler().lastTickKey("ops_minutely"), String(lastTick), 60_000);

    const json = await runOperator(["schedules", APP, "--json", "--next", "2"], env);
    expect(json.code, json.stderr).to.equal(0);
    const { schedules } = json.json<{ schedules: { actor: string; queue: string; schedule: string; catchUp: boolean; next: string[]; lastTick: string | null }[] }>();
    expect(schedules.map((s) => s.actor)).to.deep.equal(["ops_minutely", "ops_nightly"]);
    const [minutely, nightly] = schedules;
    expect(minutely).to.deep.include({ queue: "ops-b", schedule: "every 60000 ms", catchUp: false, lastTick: new Date(lastTick).toISOString() });
    const next = minutely!.next.map(Date.parse);
    expect(next[0]! % 60_000).to.equal(0);
    expect(next[0]).to.be.within(Date.now() - 5_000, Date.now() + 60_000);
    expect(next[1]).to.equal(next[0]! + 60_000);
    expect(nightly).to.deep.include({ schedule: "0 3 * * * (UTC)", catchUp: true, lastTick: null });
    expect(nightly!.next).to.have.length(2);
    for (const at of nightly!.next) expect(at).to.match(/T03:00:00\.000Z$/);

    const table = await runOperator(["schedules", APP], env);
    expect(table.code, table.stderr).to.equal(0);
    expect(table.stdout).to.match(/ops_minutely\s+ops-b\s+every 60000 ms\s+\S+ \S+Z \(in [^)]+\)\s+\S+ \S+Z \([^)]+ ago\)/);
    expect(table.stdout).to.match(/ops_nightly\s+ops-b\s+0 3 \* \* \* \(UTC\) \(catch up\)\s+\S+ 03:00:00Z \(in [^)]+\)\s+never/);
  });

  it("cancels a queued message so it never runs, while the others do", async () => {
    const ran: string[] = [];
    const cancellation = new Cancellation({ backend: new RedisCancellationBackend({ url, prefix: `${ns}-cancel` }) });
    broker.addMiddleware(cancellation);
    actor(function ops_work(tag: string) { ran.push(tag); }, { broker, queueName: "ops-a" });
    const doomed = await broker.enqueue(message("doomed"));
    await broker.enqueue(message("kept"));

    const cancelled = await runOperator(["cancel", doomed.messageId, APP, "--json"], env);
    expect(cancelled.code, cancelled.stderr).to.equal(0);
    expect(cancelled.json()).to.deep.equal({ cancelled: [doomed.messageId] });

    const worker = new Worker(broker, { queues: ["ops-a"], fetchTimeout: 200 });
    await worker.start();
    try {
      await broker.join("ops-a", { timeout: 10_000 });
    } finally {
      await worker.stop({ timeout: 2_000 });
      await cancellation.backend.close();
    }
    expect(ran).to.deep.equal(["kept"]);
    expect(await broker.deadLetters("ops-a")).to.deep.equal([]);
  });

  it("explains how to add the Cancellation middleware when the modules' broker has none", async () => {
    const run = await runOperator(["cancel", randomUUID(), APP], { ...env, OPS_NO_CANCEL: "1" });
    expect(run.code).to.equal(2);
    expect(run.stderr).to.contain("Cancelling needs the Cancellation middleware");
    expect(run.stderr).to.contain("new Cancellation({ backend:");
  });

  it("exits 2 on bad usage", async () => {
    const cases: [string[], string][] = [
      [["requeue", "ops-a", "--module", APP], "pass --id ID... for some dead letters, or --all"],
      [["requeue", "ops-a", "--module", APP, "--all", "--id", "x"], "pass --id ID... for some dead letters, or --all"],
      [["queues", "--broker", url], "No queues to show"],
      [["dead-letters", "--broker", url], "missing required argument 'queue'"],
      [["cancel", APP], "give the ids of the messages to cancel"],
      [["queues", "--queue", "q", "--broker", "nosuch://x"], "Unsupported broker URL scheme"],
    ];
    for (const [args, text] of cases) {
      const run = await runOperator(args, env);
      expect(run.code, `dramats ${args.join(" ")}`).to.equal(2);
      expect(run.stderr).to.contain(text);
    }
  });

  it("exits 3 when the broker cannot be reached, never printing the URL's password", async () => {
    const secret = "s3cr3t-Passw0rd";
    const run = await runOperator(["queues", "--queue", "q", "--broker", `redis://:${secret}@127.0.0.1:1/0`, "--timeout", "3000"], env);
    expect(run.code, run.stderr).to.equal(3);
    expect(run.stderr).to.contain("Cannot reach the broker (RedisBroker redis://:***@127.0.0.1:1/0)");
    expect(run.stdout + run.stderr).not.to.contain(secret);
  });
});

describe("dramats operator commands on other brokers", function () {
  this.timeout(30_000);

  it("show a RabbitMQ broker's URL with its password masked", async () => {
    const url = new URL(await amqpUrl());
    const queue = `ops_masked_${randomUUID().slice(0, 8)}`;
    const run = await runOperator(["queues", "--queue", queue, "--broker", url.href]);
    expect(run.code, run.stderr).to.equal(0);
    if (url.password) {
      expect(run.stdout).to.contain(`${url.username}:***@`);
      expect(run.stdout).not.to.contain(`:${url.password}@`);
    }
    expect(run.stdout).to.match(new RegExp(`^${queue}\\s+0\\s+0\\s+0\\s+0$`, "m"));
    await deleteQueues(url.href, [queue]);
  });

  it("run on the in-memory broker (memory://), which holds nothing across processes", async () => {
    const run = await runOperator(["queues", "--queue", "q", "--broker", "memory://", "--json"]);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.json().queues).to.deep.equal([{ queue: "q", ready: 0, delayed: 0, inFlight: 0, dead: 0 }]);
    expect(run.stderr).to.contain("lives inside one process");
  });
});
