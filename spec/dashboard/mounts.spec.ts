// The handler mounted under node:http, Express and Fastify at /jobs; and a RabbitMQ fleet, which
// cannot be browsed: counts from the broker, what it cannot do said, no password shown.
import { expect } from "chai";
import express from "express";
import Fastify from "fastify";
import type { AddressInfo } from "node:net";
import { StubBroker } from "../../brokers/stub.ts";
import { RabbitmqBroker } from "../../brokers/rabbitmq/index.ts";
import { dashboard } from "../../lib/dashboard/handler.ts";
import { actor } from "../../lib/index.ts";
import { amqpUrl, deleteQueues, uniqueQueue } from "../helpers/amqp.ts";
import { DashboardClient, listen, serveDashboard } from "../helpers/dashboard-client.ts";

describe("dashboard mounts", function () {
  this.timeout(20_000);
  let broker: StubBroker;
  beforeEach(() => {
    broker = new StubBroker({ middleware: [] });
    actor(function mount_job() {}, { broker, queueName: "mounted" });
  });
  afterEach(() => broker.close());

  async function check(client: DashboardClient): Promise<void> {
    const session = await client.get("/api/session");
    expect(session.status).to.equal(200);
    expect(session.body.base).to.equal("/jobs");
    expect(session.headers.get("set-cookie")).to.include("Path=/jobs");
    const overview = await client.get("/api/overview");
    expect(overview.body.queues.map((q: { name: string }) => q.name)).to.include("mounted");
    const root = await client.request("GET", "");
    expect(root.status).to.equal(302);
    expect(root.headers.get("location")).to.equal("/jobs/");
  }

  it("works under node:http with base /jobs", async () => {
    const handler = dashboard({ broker, base: "/jobs" });
    const served = await listen(handler);
    try {
      await check(new DashboardClient(served.origin, "/jobs"));
      expect((await new DashboardClient(served.origin).get("/api/session")).status, "outside the base").to.equal(404);
    } finally {
      await served.close();
      await handler.close();
    }
  });

  it("works under Express with app.use('/jobs', handler), after express.json()", async () => {
    const handler = dashboard({ broker });
    const app = express();
    app.use(express.json());
    app.use("/jobs", handler);
    const served = await listen(app);
    try {
      const client = new DashboardClient(served.origin, "/jobs");
      await check(client);
      await client.session();
      expect((await client.post("/api/queues/mounted/pause")).body.error.code, "parsed bodies are read too").to.equal("read_only");
    } finally {
      await served.close();
      await handler.close();
    }
  });

  it("works under Fastify with a route that hands over the raw request", async () => {
    const handler = dashboard({ broker, base: "/jobs" });
    const app = Fastify();
    const hand = (request: { raw: import("node:http").IncomingMessage }, reply: { hijack(): void; raw: import("node:http").ServerResponse }) => {
      reply.hijack();
      handler(request.raw, reply.raw);
    };
    app.all("/jobs", hand);
    app.all("/jobs/*", hand);
    // Fastify would parse JSON bodies itself: leave them to the handler.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", (_request, _payload, done) => done(null));
    await app.listen({ port: 0, host: "127.0.0.1" });
    try {
      const { port } = app.server.address() as AddressInfo;
      await check(new DashboardClient(`http://127.0.0.1:${port}`, "/jobs"));
    } finally {
      await app.close();
      await handler.close();
    }
  });
});

describe("dashboard on RabbitMQ", function () {
  this.timeout(20_000);

  it("shows counts from the broker and says what RabbitMQ cannot do", async () => {
    const url = await amqpUrl();
    const queue = uniqueQueue("dash");
    const broker = new RabbitmqBroker({ url, middleware: [] });
    const job = actor(function rabbit_dash_job(_n: number) {}, { broker, queueName: queue });
    const served = await serveDashboard({ broker });
    try {
      await job.send(1);
      await job.send(2);
      const session = await served.client.session();
      expect(session.capabilities).to.deep.include({ browse: false, deleteDeadLetters: false, pause: false });
      expect(session.capabilities.notes.browse).to.match(/cannot list messages without consuming/);
      // (The broker label with its URL, password masked, is checked through `dramats dashboard`: spec/cli/dashboard.spec.ts.)
      expect(JSON.stringify(session)).not.to.include(new URL(url).password + "@");
      const overview = await served.client.get("/api/overview");
      expect(overview.body.queues.find((q: { name: string }) => q.name === queue)).to.deep.include({ ready: 2 });
      const listed = await served.client.get(`/api/queues/${queue}/messages?state=ready`);
      expect(listed.status).to.equal(409);
      expect(listed.body.error.code).to.equal("unsupported");
      const dead = await served.client.get(`/api/queues/${queue}/messages?state=dead`);
      expect(dead.status).to.equal(200);
      expect(dead.body.total).to.equal(0);
    } finally {
      await served.close();
      await broker.close();
      await deleteQueues(url, [queue]);
    }
  });
});
