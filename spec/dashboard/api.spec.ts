// The dashboard's JSON API against real Redis, SQLite and PostgreSQL brokers: what each page reads, the
// actions, and what bad input gets (404/409, nothing changed).
import { expect } from "chai";
import { PostgresBroker } from "../../brokers/postgres/index.ts";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { SqliteBroker } from "../../brokers/sqlite/index.ts";
import { actor, type Broker, type Message } from "../../lib/index.ts";
import { pausedQueues } from "../../lib/queue-pauses.ts";
import { tempDatabase } from "../fixtures/sqlite-files.ts";
import { dropSchema, uniqueSchema, urlWithSchema } from "../helpers/postgres.ts";
import { serveDashboard } from "../helpers/dashboard-client.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "../helpers/redis.ts";

const TOKEN = "operator-token-for-specs";

interface Fleet {
  broker: Broker;
  /** Writes a body as a foreign producer would, without decoding it. */
  enqueueRaw(queue: string, body: string): Promise<void>;
  close(): Promise<void>;
}

const fleets: [string, () => Promise<Fleet>][] = [
  [
    "Redis",
    async () => {
      const namespace = uniqueNamespace("dash_api");
      const broker = new RedisBroker({ url: await redisUrl(), namespace, middleware: [] });
      return {
        broker,
        enqueueRaw: async (queue, body) => {
          const client = await redisClient();
          try {
            const id = `raw-${Math.random().toString(36).slice(2)}`;
            await client.multi().hset(`${namespace}:${queue}.msgs`, id, body).rpush(`${namespace}:${queue}`, id).exec();
          } finally {
            client.disconnect();
          }
        },
        close: async () => {
          await broker.close();
          await deleteNamespace(namespace);
        },
      };
    },
  ],
  [
    "SQLite",
    async () => {
      const db = tempDatabase();
      const broker = new SqliteBroker({ path: db.path, middleware: [] });
      return {
        broker,
        enqueueRaw: (queue, body) => broker.enqueueRaw(queue, body),
        close: async () => {
          await broker.close();
          db.cleanup();
        },
      };
    },
  ],
  [
    "PostgreSQL",
    async () => {
      const schema = uniqueSchema("dash_api");
      const broker = new PostgresBroker({ url: urlWithSchema(schema), middleware: [] });
      return {
        broker,
        enqueueRaw: (queue, body) => broker.enqueueRaw(queue, body),
        close: async () => {
          await broker.close();
          await dropSchema(schema);
        },
      };
    },
  ],
];

/** Dead-letters `count` messages of the queue, with `reason`. */
async function deadLetter(broker: Broker, queue: string, count: number, reason: string): Promise<void> {
  const consumer = broker.consume(queue, { prefetch: count });
  let left = count;
  const deadline = Date.now() + 5_000;
  while (left > 0 && Date.now() < deadline) {
    for (const delivery of await consumer.fetch(left, 200)) {
      await consumer.nack(delivery, reason);
      left--;
    }
  }
  await consumer.close();
  expect(left, "messages dead-lettered").to.equal(0);
}

for (const [name, open] of fleets) {
  describe(`dashboard API on ${name}`, function () {
    this.timeout(30_000);
    let fleet: Fleet;
    let served: Awaited<ReturnType<typeof serveDashboard>>;
    let queue: string;
    let greet: ReturnType<typeof makeActors>["greet"];
    let charge: ReturnType<typeof makeActors>["charge"];

    function makeActors(broker: Broker) {
      return {
        greet: actor(function dash_greet(_name: string) {}, { broker, queueName: queue }),
        charge: actor(function dash_charge(_card: string, _amount: number) {}, { broker, queueName: queue }),
      };
    }

    beforeEach(async () => {
      fleet = await open();
      queue = `dash_${Math.random().toString(36).slice(2, 8)}`;
      ({ greet, charge } = makeActors(fleet.broker));
      served = await serveDashboard({
        broker: fleet.broker,
        token: TOKEN,
        redact: (m) => (m.actor_name === "dash_charge" ? { ...m, args: ["[card hidden]", m.args[1]] } : m),
      });
    });
    afterEach(async () => {
      await served.close();
      await fleet.close();
    });

    it("shows each queue's counts on the overview", async () => {
      for (let i = 0; i < 3; i++) await greet.send(`ready ${i}`);
      await greet.sendWithOptions({ args: ["later"], delay: 60_000 });
      const { status, body } = await served.client.get("/api/overview");
      expect(status).to.equal(200);
      const row = body.queues.find((q: { name: string }) => q.name === queue);
      expect(row).to.deep.include({ ready: 3, delayed: 1, running: 0, dead: 0, paused: false });
      expect(body.workers).to.deep.equal({ live: 0, stopping: 0, dead: 0 });
    });

    it("pages ready messages in the broker, in fetch order", async () => {
      const sent: Message[] = [];
      for (let i = 0; i < 120; i++) sent.push(await greet.send(`n${i}`));
      const { body } = await served.client.get(`/api/queues/${queue}/messages?state=ready&offset=100&limit=50`);
      expect(body.total).to.equal(120);
      expect(body.messages.map((m: { id: string }) => m.id)).to.deep.equal(sent.slice(100).map((m) => m.messageId));
      expect(body.messages[0]).to.deep.include({ actor: "dash_greet", state: "ready", malformed: null });
      expect(body.messages[0].args).to.deep.equal(["n100"]);
    });

    it("filters by actor and by text, and applies the redact hook before matching and showing", async () => {
      await greet.send("alice");
      await greet.send("bob");
      await charge.send("4111-1111", 20);
      const byActor = await served.client.get(`/api/queues/${queue}/messages?actor=dash_charge`);
      expect(byActor.body.filter).to.deep.include({ matched: 1, complete: true });
      expect(byActor.body.messages[0].args).to.deep.equal(["[card hidden]", 20]);
      const byText = await served.client.get(`/api/queues/${queue}/messages?text=ALI`);
      expect(byText.body.messages.map((m: { args: unknown[] }) => m.args[0])).to.deep.equal(["alice"]);
      const hidden = await served.client.get(`/api/queues/${queue}/messages?text=4111`);
      expect(hidden.body.filter.matched, "a hidden argument is not searchable").to.equal(0);
      const detail = await served.client.get(`/api/queues/${queue}/messages/${byActor.body.messages[0].id}`);
      expect(JSON.stringify(detail.body)).not.to.include("4111");
    });

    it("lists a body that does not decode as malformed, with its raw text, beside good ones; its detail opens", async () => {
      const hostile = `<script>alert("x")</script>{"queue_name": ${"[".repeat(50)}`;
      await greet.send("before");
      await fleet.enqueueRaw(queue, hostile);
      await greet.send("after");
      const page = await served.client.get(`/api/queues/${queue}/messages`);
      expect(page.status).to.equal(200);
      expect(page.body.messages.map((m: { args: unknown[] | null }) => m.args?.[0] ?? null)).to.deep.equal(["before", null, "after"]);
      const bad = page.body.messages[1];
      expect(bad.malformed).to.be.a("string").and.not.equal("");
      expect(bad).to.deep.include({ actor: null, raw: hostile });
      const detail = await served.client.get(`/api/queues/${queue}/messages/${encodeURIComponent(bad.id)}`);
      expect(detail.status).to.equal(200);
      expect(detail.body).to.deep.include({ message: null, raw: hostile });
      const filtered = await served.client.get(`/api/queues/${queue}/messages?text=alert`);
      expect(filtered.body.filter.matched, "malformed bodies are searched as text").to.equal(1);
    });

    it("shows a message's detail, and 404 for an unknown id", async () => {
      const sent = await greet.send("carol");
      const found = await served.client.get(`/api/queues/${queue}/messages/${sent.messageId}`);
      expect(found.status).to.equal(200);
      expect(found.body).to.deep.include({ id: sent.messageId, state: "ready", queue });
      expect(found.body.message.args).to.deep.equal(["carol"]);
      const missing = await served.client.get(`/api/queues/${queue}/messages/00000000-0000-4000-8000-000000000000`);
      expect(missing.status).to.equal(404);
      expect(missing.body.error.code).to.equal("not_found");
      const unknownQueue = await served.client.get(`/api/queues/no_such_queue/messages`);
      expect(unknownQueue.status).to.equal(404);
    });

    it("groups dead letters by reason and requeues every one matching a filter, with the count confirmed", async () => {
      for (let i = 0; i < 4; i++) await greet.send(`g${i}`);
      await deadLetter(fleet.broker, queue, 4, "TimeoutError: upstream slow\n    at x");
      for (let i = 0; i < 2; i++) await charge.send(`c${i}`, i);
      await deadLetter(fleet.broker, queue, 2, "TypeError: bad card");
      await served.client.login(TOKEN);

      const groups = await served.client.get(`/api/queues/${queue}/dead-letters/groups`);
      expect(groups.body.groups).to.deep.equal([
        { reason: "TimeoutError: upstream slow", count: 4 },
        { reason: "TypeError: bad card", count: 2 },
      ]);
      const stale = await served.client.post(`/api/queues/${queue}/dead-letters/requeue`, { filter: { reason: "TimeoutError: upstream slow" }, expect: 3 });
      expect(stale.status, "a count that changed is refused").to.equal(409);
      expect((await fleet.broker.depths(queue)).dead).to.equal(6);

      const requeued = await served.client.post(`/api/queues/${queue}/dead-letters/requeue`, { filter: { reason: "TimeoutError: upstream slow" }, expect: 4 });
      expect(requeued.status).to.equal(200);
      expect(requeued.body).to.deep.include({ ok: true, count: 4 });
      expect(await fleet.broker.depths(queue)).to.deep.include({ ready: 4, dead: 2 });
    });

    it("deletes dead letters by id; an unknown id changes nothing (404)", async () => {
      const a = await greet.send("a");
      const b = await greet.send("b");
      await deadLetter(fleet.broker, queue, 2, "Boom");
      await served.client.login(TOKEN);
      const unknown = await served.client.post(`/api/queues/${queue}/dead-letters/delete`, { ids: [a.messageId, "not-a-dead-letter"] });
      expect(unknown.status).to.equal(404);
      expect((await fleet.broker.depths(queue)).dead).to.equal(2);
      const deleted = await served.client.post(`/api/queues/${queue}/dead-letters/delete`, { ids: [a.messageId] });
      expect(deleted.body.count).to.equal(1);
      expect((await fleet.broker.deadLetters(queue)).map((d) => d.id)).to.deep.equal([b.messageId]);
    });

    it("pauses and resumes a queue fleet-wide, and purges only when the queue is named again", async () => {
      await greet.send("x");
      await served.client.login(TOKEN);
      expect((await served.client.post(`/api/queues/${queue}/pause`)).status).to.equal(200);
      expect(await pausedQueues(fleet.broker.store!, [queue])).to.deep.equal(new Set([queue]));
      const overview = await served.client.get("/api/overview");
      const row = overview.body.queues.find((q: { name: string }) => q.name === queue);
      expect(row.paused).to.equal(true);
      expect(row.warnings.map((w: { code: string }) => w.code)).to.include("paused");
      await served.client.post(`/api/queues/${queue}/resume`);
      expect((await pausedQueues(fleet.broker.store!, [queue])).size).to.equal(0);

      const unconfirmed = await served.client.post(`/api/queues/${queue}/purge`, { confirm: "other" });
      expect(unconfirmed.status).to.equal(400);
      expect((await fleet.broker.depths(queue)).ready).to.equal(1);
      const purged = await served.client.post(`/api/queues/${queue}/purge`, { confirm: queue });
      expect(purged.body.count).to.equal(1);
      expect((await fleet.broker.depths(queue)).ready).to.equal(0);
    });

    it("answers bad parameters with 400 and unknown routes with 404", async () => {
      expect((await served.client.get(`/api/queues/${queue}/messages?state=running`)).status).to.equal(400);
      expect((await served.client.get(`/api/queues/${queue}/messages?limit=100000`)).status).to.equal(400);
      expect((await served.client.get(`/api/queues/${queue}/messages?offset=-1`)).status).to.equal(400);
      expect((await served.client.get(`/api/nothing`)).status).to.equal(404);
      await served.client.login(TOKEN);
      const noSelection = await served.client.post(`/api/queues/${queue}/dead-letters/requeue`, {});
      expect(noSelection.status).to.equal(400);
      const notJson = await served.client.request("POST", `/api/queues/${queue}/pause`, { headers: { "content-type": "text/plain" } });
      expect([200, 415]).to.include(notJson.status);
    });
  });
}
