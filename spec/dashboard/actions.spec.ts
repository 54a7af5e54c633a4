// The dashboard's actions on workers, running messages and schedules, through the API on Redis:
// each refuses what does not exist (404) or cannot be done now (409), and changes nothing then.
import { expect } from "chai";
import { RedisBroker, RedisCancellationBackend } from "../../brokers/redis/index.ts";
import { Cancellation } from "../../middleware/cancellation.ts";
import { Scheduler } from "../../middleware/scheduler.ts";
import { actor } from "../../lib/index.ts";
import { pendingWorkerControl } from "../../lib/worker-control.ts";
import type { WorkerRecord } from "../../lib/worker-registry.ts";
import { serveDashboard } from "../helpers/dashboard-client.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "../helpers/redis.ts";

const TOKEN = "actions-spec-token";

function record(id: string, lastBeat: number, running: WorkerRecord["running"] = []): WorkerRecord {
  return {
    version: 1, id, host: "host", pid: 123, supervisorPid: 1, dramatsVersion: "0", nodeVersion: "v20", queues: ["acts"],
    concurrency: 4, startedAt: lastBeat - 1000, lastBeat, interval: 1_000, ttl: 60_000, state: "running",
    rss: 1, cpu: 0, eventLoopLag: 0, counters: { processed: 0, failed: 0, retried: 0 }, running, runningCount: running.length,
  };
}

describe("dashboard actions on workers, messages and schedules", function () {
  this.timeout(20_000);
  let namespace: string;
  let broker: RedisBroker;
  let served: Awaited<ReturnType<typeof serveDashboard>>;

  beforeEach(async () => {
    namespace = uniqueNamespace("dash_acts");
    const url = await redisUrl();
    broker = new RedisBroker({
      url,
      namespace,
      middleware: [new Scheduler({ enabled: false }), new Cancellation({ backend: new RedisCancellationBackend({ url, prefix: `${namespace}-cancel` }) })],
    });
    actor(function acts_nightly() {}, { broker, queueName: "acts", schedule: { cron: "0 3 * * *", timezone: "UTC" } });
    actor(function acts_plain() {}, { broker, queueName: "acts" });
    served = await serveDashboard({ broker, token: TOKEN });
    await served.client.login(TOKEN);
  });
  afterEach(async () => {
    await served.close();
    await broker.close();
    await deleteNamespace(namespace);
    await deleteNamespace(`${namespace}-cancel`);
  });

  it("asks a live worker (by its registry id, slashes and all) to restart or stop; refuses unknown and dead ones", async () => {
    const live = "host/123/abc";
    await broker.workerRegistry.write(record(live, Date.now()), 60_000);
    await broker.workerRegistry.write(record("host/456/old", Date.now() - 60_000), 60_000);
    const asked = await served.client.post(`/api/workers/${encodeURIComponent(live)}/restart`);
    expect(asked.status, JSON.stringify(asked.body)).to.equal(200);
    expect(await pendingWorkerControl(broker.store, live)).to.equal("restart");
    const listed = await served.client.get("/api/workers");
    expect(listed.body.workers.find((w: { id: string }) => w.id === live).pendingControl).to.equal("restart");
    expect((await served.client.post(`/api/workers/${encodeURIComponent("host/999/none")}/stop`)).status).to.equal(404);
    const dead = await served.client.post(`/api/workers/${encodeURIComponent("host/456/old")}/stop`);
    expect(dead.status).to.equal(409);
    expect(await pendingWorkerControl(broker.store, "host/456/old")).to.equal(null);
  });

  it("cancels a message a live worker runs; 404 for one no worker runs", async () => {
    const running = "5f0c2a4e-1111-4222-8333-444455556666";
    await broker.workerRegistry.write(record("host/123/run", Date.now(), [{ id: running, actor: "acts_plain", queue: "acts", startedAt: Date.now() }]), 60_000);
    const cancellation = broker.getMiddleware(Cancellation)!;
    expect((await served.client.post(`/api/messages/00000000-0000-4000-8000-000000000000/cancel`)).status).to.equal(404);
    expect((await cancellation.backend.list()).size).to.equal(0);
    expect((await served.client.post(`/api/messages/${running}/cancel`)).status).to.equal(200);
    expect([...(await cancellation.backend.list()).keys()]).to.deep.equal([running]);
  });

  it("pauses, resumes and runs a schedule now; 404 for an actor without one", async () => {
    const listed = await served.client.get("/api/schedules");
    expect(listed.body.schedules).to.have.length(1);
    expect(listed.body.schedules[0]).to.deep.include({ actor: "acts_nightly", description: "At 03:00 (UTC)", paused: false });
    expect((await served.client.post("/api/schedules/acts_nightly/pause")).status).to.equal(200);
    expect((await served.client.get("/api/schedules")).body.schedules[0].paused).to.equal(true);
    expect((await served.client.post("/api/schedules/acts_nightly/resume")).status).to.equal(200);
    expect((await served.client.get("/api/schedules")).body.schedules[0].paused).to.equal(false);
    const ran = await served.client.post("/api/schedules/acts_nightly/run");
    expect(ran.status).to.equal(200);
    expect((await broker.depths("acts")).ready).to.equal(1);
    expect((await served.client.post("/api/schedules/acts_plain/run")).status).to.equal(404);
    expect((await broker.depths("acts")).ready).to.equal(1);
  });
});
