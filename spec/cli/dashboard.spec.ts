// `dramats dashboard` and `dramats MODULES --dashboard`: the real command on a free port,
// against real brokers; the broker's password masked, actions audited, a clean stop.
import { expect } from "chai";
import { DashboardClient } from "../helpers/dashboard-client.ts";
import { amqpUrl, deleteQueues, uniqueQueue } from "../helpers/amqp.ts";
import { cliSpec, FAST, type CliRun } from "./run-cli.ts";
import { redisNamespace } from "./redis-namespace.ts";

const APP = "spec/fixtures/cli-redis-app.ts";

/** The dashboard's address from its first line on stdout. */
async function address(run: CliRun): Promise<string> {
  const line = await run.waitFor((l) => typeof l.msg === "string" && l.msg.startsWith("Dashboard of "), 20_000);
  return /http:\/\/[^/ ]+/.exec(line.msg!)![0];
}

describe("dramats dashboard (CLI)", function () {
  this.timeout(60_000);
  const cli = cliSpec("dramats-dashboard-");
  const redis = redisNamespace("dash_cli", ["cli-a"]);

  it("serves a RabbitMQ fleet's counts with the broker's password masked, read-only without a token, and stops on SIGTERM", async () => {
    const url = await amqpUrl();
    const password = decodeURIComponent(new URL(url).password);
    expect(password, "the spec's AMQP URL has a password").not.to.equal("");
    const queue = uniqueQueue("dash_cli");
    try {
      const run = cli.start(["dashboard", "--broker", url, "--port", "0", "--queue", queue], { env: { DRAMATS_DASHBOARD_TOKEN: "" } });
      const client = new DashboardClient(await address(run));
      const session = await client.session();
      expect(session.readOnly).to.equal(true);
      expect(session.broker).to.match(/^RabbitmqBroker amqp:\/\/[^:]+:\*\*\*@/);
      const overview = await client.get("/api/overview");
      expect(overview.body.queues.map((q: { name: string }) => q.name)).to.include(queue);
      const everything = JSON.stringify([session, overview.body]) + run.lines.map((l) => JSON.stringify(l)).join("") + run.stderr();
      expect(everything).not.to.include(`:${password}@`);
      expect((await client.post("/api/queues/" + queue + "/pause")).status).to.equal(403);
      expect(await run.stop("SIGTERM")).to.equal(0);
    } finally {
      await deleteQueues(url, [queue]);
    }
  });

  it("takes the operator token from DRAMATS_DASHBOARD_TOKEN and writes an audit line per action, without the token", async () => {
    const token = "cli-operator-token-123";
    const run = cli.start(["dashboard", APP, "--broker", redis.brokerUrl(), "--port", "0"], { env: { DRAMATS_DASHBOARD_TOKEN: token, CLI_SPEC_NS: redis.ns } });
    const client = new DashboardClient(await address(run));
    expect((await client.login(token)).body.operator).to.equal(true);
    const paused = await client.post("/api/queues/cli-a/pause");
    expect(paused.status).to.equal(200);
    const deadline = Date.now() + 5_000;
    while (!run.stderr().includes("Dashboard action: queue.pause cli-a") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const audit = run.stderr().split("\n").find((l) => l.includes("Dashboard action: queue.pause"));
    expect(audit, run.stderr()).to.be.a("string");
    expect(JSON.parse(audit!)).to.deep.include({ action: "queue.pause", target: "cli-a", count: 1, audit: true });
    expect(run.stderr()).not.to.include(token);
    expect(await run.stop("SIGTERM")).to.equal(0);
  });

  it("runs beside the workers with --dashboard, and stops with them", async () => {
    const run = cli.start([APP, "--broker", redis.brokerUrl(), ...FAST, "--dashboard", "--dashboard-port", "0"], { env: { CLI_SPEC_NS: redis.ns, CLI_SPEC_OUT: cli.out } });
    const client = new DashboardClient(await address(run));
    const workers = async () => (await client.get("/api/workers")).body.workers.filter((w: { status: string }) => w.status === "live").length;
    const deadline = Date.now() + 20_000;
    while ((await workers()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await workers(), "the fleet's worker shows on its own dashboard").to.equal(1);
    expect(await run.stop("SIGTERM", 30_000)).to.equal(0);
    let refused = false;
    try {
      await client.get("/api/session");
    } catch {
      refused = true;
    }
    expect(refused, "the dashboard stopped with the fleet").to.equal(true);
  });
});
