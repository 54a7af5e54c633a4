// Acceptance: `dramats dead-letters` lists what failed with its reason, `dramats requeue` moves
// it back, and it then runs: on Redis, SQLite and RabbitMQ, through the real command.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { RabbitmqBroker } from "../../brokers/rabbitmq/index.ts";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { SqliteBroker } from "../../brokers/sqlite/index.ts";
import { actor, Retries, Worker, type Broker } from "../../lib/index.ts";
import { tempDatabase } from "../fixtures/sqlite-files.ts";
import { amqpUrl, deleteQueues } from "../helpers/amqp.ts";
import { deleteNamespace, redisUrl } from "../helpers/redis.ts";
import { runOperator } from "./run-operator.ts";

interface Setup {
  broker: Broker;
  /** The --broker URL naming the same broker for the command. */
  url: string;
  cleanup(): Promise<void>;
}

const brokers: Record<string, (queue: string) => Promise<Setup>> = {
  redis: async () => {
    const namespace = `dramats-ops-${randomUUID().slice(0, 8)}`;
    const url = await redisUrl();
    const broker = new RedisBroker({ url, namespace, middleware: [new Retries({ maxRetries: 0 })] });
    return { broker, url: `${url}?namespace=${namespace}`, cleanup: () => deleteNamespace(namespace).then(() => undefined) };
  },
  sqlite: async () => {
    const db = tempDatabase();
    const broker = new SqliteBroker({ path: db.path, middleware: [new Retries({ maxRetries: 0 })] });
    return { broker, url: `sqlite://${db.path}`, cleanup: async () => db.cleanup() };
  },
  rabbitmq: async (queue) => {
    const url = await amqpUrl();
    const broker = new RabbitmqBroker({ url, middleware: [new Retries({ maxRetries: 0 })] });
    return { broker, url, cleanup: () => deleteQueues(url, [queue]) };
  },
};

for (const [name, open] of Object.entries(brokers)) {
  describe(`dramats dead-letters and requeue on ${name}`, function () {
    this.timeout(30_000);
    let setup: Setup;
    let worker: Worker | undefined;
    const queue = `ops_dead_${randomUUID().slice(0, 8)}`;

    before(async () => {
      setup = await open(queue);
    });
    after(async () => {
      await worker?.stop({ timeout: 2_000 });
      await setup.broker.flush(queue).catch(() => {});
      await setup.broker.close();
      await setup.cleanup();
    });

    it("lists dead letters with their reasons, requeues them by id and then all, and they run", async () => {
      const { broker, url } = setup;
      let broken = true;
      const done: string[] = [];
      const fragile = actor(function ops_fragile(tag: string) {
        if (broken) throw new TypeError(`cannot handle ${tag}`);
        done.push(tag);
      }, { broker, queueName: queue });
      const ids = new Map<string, string>();
      for (const tag of ["t0", "t1", "t2"]) ids.set(tag, (await fragile.send(tag)).messageId);
      worker = new Worker(broker, { queues: [queue], fetchTimeout: 200 });
      await worker.start();
      await broker.join(queue, { timeout: 10_000, failFast: false });

      // Listed, as JSON and as a table, each with its reason.
      const listed = await runOperator(["dead-letters", queue, "--broker", url, "--json"]);
      expect(listed.code, listed.stderr).to.equal(0);
      const { total, deadLetters } = listed.json<{ total: number; deadLetters: { id: string; actor: string; reason: string; deadAt: string }[] }>();
      expect(total).to.equal(3);
      expect(deadLetters.map((d) => d.id).sort()).to.deep.equal([...ids.values()].sort());
      for (const letter of deadLetters) {
        expect(letter.actor).to.equal("ops_fragile");
        expect(letter.reason).to.match(/^TypeError: cannot handle t[0-2]$/);
        expect(Math.abs(Date.parse(letter.deadAt) - Date.now())).to.be.below(60_000);
      }
      const table = await runOperator(["dead-letters", queue, "--broker", url]);
      expect(table.code, table.stderr).to.equal(0);
      expect(table.stdout).to.match(/ID\s+DEAD AT\s+ACTOR\s+REASON/);
      for (const [tag, id] of ids) expect(table.stdout).to.match(new RegExp(`${id}\\s+\\S+ \\S+\\s+ops_fragile\\s+TypeError: cannot handle ${tag}`));

      // The actor is fixed; one dead letter goes back by id and runs.
      broken = false;
      const one = await runOperator(["requeue", queue, "--broker", url, "--id", ids.get("t1")!]);
      expect(one.code, one.stderr).to.equal(0);
      expect(one.stdout).to.contain("Requeued 1 dead letter");
      await broker.join(queue, { timeout: 10_000, failFast: false });
      expect(done).to.deep.equal(["t1"]);

      // Then every other one.
      const all = await runOperator(["requeue", queue, "--broker", url, "--all", "--json"]);
      expect(all.code, all.stderr).to.equal(0);
      expect(all.json()).to.deep.equal({ queue, requeued: 2, missing: [] });
      await broker.join(queue, { timeout: 10_000, failFast: false });
      expect(done.sort()).to.deep.equal(["t0", "t1", "t2"]);

      const depths = await runOperator(["queues", "--queue", queue, "--broker", url, "--json"]);
      expect(depths.json().queues).to.deep.equal([{ queue, ready: 0, delayed: 0, inFlight: 0, dead: 0 }]);
      const none = await runOperator(["dead-letters", queue, "--broker", url]);
      expect(none.stdout).to.contain(`No dead letters in ${queue}.`);
    });
  });
}
