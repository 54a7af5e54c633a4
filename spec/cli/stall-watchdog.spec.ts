// Issue 19 item 4: a consumer that stays connected but stops consuming (Dramatiq #578, Celery
// #10205, BullMQ #4479) is reported (log line, dramats_consumer_stalled, /readyz 503) and
// restarted in its process, and its queue then drains. The fixture app wraps the broker so that
// the first consumer's fetch never returns (see spec/fixtures/cli-stall-app.ts).
import { expect } from "chai";
import { RabbitmqBroker } from "../../brokers/rabbitmq/index.ts";
import type { Broker } from "../../lib/broker.ts";
import { Message } from "../../lib/index.ts";
import { amqpUrl, deleteQueues, uniqueQueue } from "../helpers/amqp.ts";
import { redisNamespace } from "./redis-namespace.ts";
import { cliSpec, isBootLine, recordsIn, until, WITH_METRICS, type CliRun } from "./run-cli.ts";
import { metric, metricsUrl, scrape, scrapeUntil } from "./scrape.ts";

const STALL_APP = "spec/fixtures/cli-stall-app.ts";
const STALLED = "Consumer stalled: it has room for messages, its queue has ready ones, and it fetched nothing; restarting it";
/** How long the consumer replacing the stalled one waits before its first fetch: the stall stays visible meanwhile (less than the stall timeout). */
const RESTART_DELAY_MS = 2_000;
const STALL_TIMEOUT_MS = 3_000;

interface Probe {
  status: number;
  body: { status: string; reasons?: { reason: string; queue?: string; slot?: number; pid?: number }[] };
}

async function probe(base: string, path: string): Promise<Probe> {
  const response = await fetch(`${base}${path}`);
  return { status: response.status, body: (await response.json()) as Probe["body"] };
}

async function probeUntil(base: string, path: string, done: (p: Probe) => boolean, timeout = 10_000): Promise<Probe> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const answer = await probe(base, path);
    if (done(answer) || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function startStallApp(spec: ReturnType<typeof cliSpec>, brokerUrl: string, queue: string, extra: Record<string, string> = {}): CliRun {
  return spec.start([STALL_APP, "--processes", "1", "--stall-timeout", String(STALL_TIMEOUT_MS), ...WITH_METRICS], {
    env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_BROKER: brokerUrl, CLI_SPEC_QUEUE: queue, CLI_SPEC_RESTART_DELAY_MS: String(RESTART_DELAY_MS), ...extra },
  });
}

/** The whole story on one broker: stall, report, restart, drain, recover. */
async function stallsThenDrains(cli: CliRun, broker: Broker, queue: string, out: string): Promise<void> {
  const url = await metricsUrl(cli);
  const base = url.replace(/\/metrics$/, "");
  await cli.waitFor(isBootLine);
  expect((await probeUntil(base, "/readyz", (p) => p.status === 200)).status, "ready before the stall").to.equal(200);

  const count = 20;
  await broker.enqueueMany(Array.from({ length: count }, (_, i) => new Message({ queueName: queue, actorName: "work", args: [`m${i}`] })));
  const line = await cli.waitFor(STALLED, 20_000);
  expect(line).to.include({ queue, stallTimeoutMs: STALL_TIMEOUT_MS });
  expect(line.ready).to.be.greaterThan(0);
  expect(line.idleMs).to.be.at.least(STALL_TIMEOUT_MS);

  // The replacing consumer waits RESTART_DELAY_MS before fetching: the stall shows meanwhile.
  const unready = await probeUntil(base, "/readyz", (p) => p.status === 503);
  expect(unready.status).to.equal(503);
  expect(unready.body.status).to.equal("unready");
  expect(unready.body.reasons).to.have.length(1);
  expect(unready.body.reasons![0]).to.include({ reason: "consumer stalled", slot: 0, queue });
  expect(unready.body.reasons![0]!.pid).to.be.a("number");
  const stalled = await scrapeUntil(url, (t) => metric(t, "dramats_consumer_stalled", { queue_name: queue }) === 1);
  expect(metric(stalled, "dramats_consumer_stalled", { queue_name: queue })).to.equal(1);
  // Liveness is another question: the process beats.
  expect((await probe(base, "/healthz")).status).to.equal(200);
  expect(recordsIn(out), "nothing ran while stalled").to.have.length(0);

  await until(() => recordsIn(out).length === count, 20_000);
  await cli.waitFor("Consumer recovered: fetching again");
  expect((await probeUntil(base, "/readyz", (p) => p.status === 200)).status, "ready again").to.equal(200);
  expect(metric(await scrape(url), "dramats_consumer_stalled", { queue_name: queue })).to.equal(0);
  // Restarted within its process: the one process ran everything, and none died.
  expect(new Set(recordsIn(out).map(([pid]) => pid)).size).to.equal(1);
  expect(cli.count("Worker process died; restarting it")).to.equal(0);
  expect(await cli.stop()).to.equal(0);
}

describe("dramats stall watchdog", function () {
  this.timeout(90_000);
  const spec = cliSpec("dramats-stall-");

  describe("on Redis", () => {
    afterEach(() => spec.destroyAll());
    const redis = redisNamespace("dramats-stall", ["stall"]);

    it("logs a consumer that fetches nothing while its queue has ready messages, exports it, fails /readyz, restarts it; the queue drains", async () => {
      const cli = startStallApp(spec, redis.brokerUrl(), "stall");
      await stallsThenDrains(cli, redis.broker, "stall", spec.out);
    });

    it("replaces the process when the restarted consumer stalls too", async () => {
      const cli = startStallApp(spec, redis.brokerUrl(), "stall", { CLI_SPEC_WEDGE: "2", CLI_SPEC_RESTART_DELAY_MS: "0" });
      await cli.waitFor(isBootLine);
      await redis.broker.enqueueMany(Array.from({ length: 5 }, (_, i) => new Message({ queueName: "stall", actorName: "work", args: [`m${i}`] })));
      await cli.waitFor(STALLED, 20_000);
      const again = await cli.waitFor((l) => typeof l.msg === "string" && l.msg.startsWith("Consumer stalled and a restart did not help"), 20_000);
      expect(again.msg).to.include("stalled again after a restart");
      const retiring = await cli.waitFor("Worker process is recycling; starting its replacement");
      expect(retiring.reason).to.match(/^consumer stalled: /);
      // The replacement's consumers are wedged the same way (a fresh process, a fresh wrapper)... its first one at least.
      await cli.waitFor("Worker process retired", 20_000);
      expect(await cli.stop()).to.equal(0);
    });
  });

  describe("on RabbitMQ", () => {
    let url: string;
    let queue: string;
    let broker: RabbitmqBroker;
    before(async () => {
      url = await amqpUrl();
    });
    beforeEach(() => {
      queue = uniqueQueue("stall");
      broker = new RabbitmqBroker({ url, middleware: [] });
      broker.declareQueue(queue);
    });
    afterEach(async () => {
      spec.destroyAll();
      await broker.close();
      await deleteQueues(url, [queue]);
    });

    // The wedged consumer still has deliveries pushed to it (up to its prefetch): they come back when it closes.
    it("logs the stalled consumer, exports it, fails /readyz, restarts it; the queue drains", async () => {
      const cli = startStallApp(spec, url, queue);
      await stallsThenDrains(cli, broker, queue, spec.out);
    });
  });
});
