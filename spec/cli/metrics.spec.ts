// Issue 6 acceptance: one /metrics for the whole `dramats --processes N` tree, whose totals
// equal what the fleet did, and whose counters survive a process being replaced.
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { Message } from "../../lib/index.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "../helpers/redis.ts";
import { APP, FAST, isBootLine, runCli, runs, until, type CliRun } from "./run-cli.ts";

const OUTCOMES = "spec/fixtures/cli-outcomes-app.ts";
const WITH_METRICS = [...FAST.filter((a) => a !== "--no-metrics"), "--metrics-port", "0"];

/** The sum of a metric's samples whose labels include `labels` (Prometheus text format). */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const match of text.matchAll(/^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/gm)) {
    if (match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) sum += Number(match[3]);
  }
  return sum;
}

async function scrape(url: string): Promise<string> {
  return (await fetch(url)).text();
}

/** Scrapes until `done` holds (or 10 s pass), returning the last text. */
async function scrapeUntil(url: string, done: (text: string) => boolean): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = await scrape(url);
    if (done(text) || Date.now() > deadline) return text;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("dramats metrics across worker processes", function () {
  this.timeout(30_000);
  let dir: string;
  let cli: CliRun | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dramats-metrics-"));
  });
  afterEach(() => {
    cli?.destroy();
    cli = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  describe("on Redis (acceptance)", () => {
    let url: string;
    let ns: string;
    let broker: RedisBroker;

    before(async () => {
      url = await redisUrl();
    });
    beforeEach(() => {
      ns = uniqueNamespace("dramats-metrics");
      broker = new RedisBroker({ url, namespace: ns, middleware: [] });
      broker.declareQueue("outcomes");
    });
    afterEach(async () => {
      cli?.destroy();
      await broker.flushAll();
      await broker.close();
      await deleteNamespace(ns);
    });

    it("serves totals equal to what both processes processed, failed, retried and dead-lettered", async () => {
      const out = join(dir, "runs.txt");
      const brokerUrl = new URL(url);
      brokerUrl.searchParams.set("namespace", ns);
      cli = runCli([OUTCOMES, "--processes", "2", "--threads", "8", "--broker", brokerUrl.href, ...WITH_METRICS], { env: { CLI_SPEC_OUT: out } });
      const serving = await cli.waitFor((l) => l.msg === "Serving the worker processes' metrics");
      await until(() => cli!.lines.filter((l) => l.msg === "Worker started").length === 2, 15_000);

      // 200 messages: 160 succeed at once, 30 fail once then succeed, 10 fail all 3 attempts.
      const plan = Array.from({ length: 200 }, (_, i) => (i % 20 === 0 ? 99 : i % 20 <= 3 ? 1 : 0));
      expect(plan.filter((f) => f === 1)).to.have.length(30);
      await broker.enqueueMany(plan.map((failures, i) => new Message({ queueName: "outcomes", actorName: "work", args: [`m${i}`, failures] })));
      await broker.join("outcomes", { timeout: 25_000, failFast: false });

      const labels = { queue_name: "outcomes", actor_name: "work" };
      // The last nacks' counters move just after the queue drains.
      const text = await scrapeUntil(serving.url as string, (t) => metric(t, "dramatiq_message_rejects_total", labels) === 10);
      const attempts = 160 + 30 * 2 + 10 * 3;
      expect(metric(text, "dramatiq_messages_total", labels), "messages processed (each attempt)").to.equal(attempts);
      expect(metric(text, "dramatiq_message_errors_total", labels), "failed attempts").to.equal(30 + 10 * 3);
      expect(metric(text, "dramatiq_message_retries_total", labels), "retries scheduled").to.equal(30 + 10 * 2);
      expect(metric(text, "dramatiq_message_rejects_total", labels), "dead-lettered").to.equal(10);
      expect(metric(text, "dramatiq_message_duration_milliseconds_count", labels)).to.equal(attempts);
      expect(metric(text, "dramatiq_messages_inprogress", labels)).to.equal(0);
      expect(await broker.deadLetters("outcomes")).to.have.length(10);

      // Both processes did part of the work, and the metrics counted every run once.
      const ran = readFileSync(out, "utf8").trim().split("\n");
      expect(ran).to.have.length(attempts);
      expect(new Set(ran.map((line) => line.split(" ")[0]))).to.have.property("size", 2);
      cli.signal("SIGTERM");
      expect(await cli.exited()).to.equal(0);
    });
  });

  describe("when a worker process is replaced", () => {
    const notes = (text: string) => metric(text, "dramatiq_messages_total", { queue_name: "cli-stub", actor_name: "note" });

    it("keeps the counters of a process killed with SIGKILL at their last scraped values", async () => {
      const out = join(dir, "runs.txt");
      // Each process enqueues and runs two "note" messages of its own (in-memory broker).
      cli = runCli([APP, "--processes", "2", ...WITH_METRICS], { env: { CLI_SPEC_OUT: out, CLI_SPEC_SEND: "2" } });
      const serving = await cli.waitFor((l) => l.msg === "Serving the worker processes' metrics");
      await until(() => runs(out).filter((r) => r.actor === "note").length === 4);
      expect(notes(await scrape(serving.url as string))).to.equal(4);

      process.kill(runs(out)[0]!.pid, "SIGKILL");
      await cli.waitFor((l) => l.msg === "Worker process died; restarting it");
      // The replacement runs its own two.
      await until(() => runs(out).filter((r) => r.actor === "note").length === 6);
      await until(() => cli!.lines.filter((l) => l.msg === "Worker started").length === 3);
      expect(notes(await scrape(serving.url as string)), "2 kept from the dead process + 2 + 2").to.equal(6);
      cli.signal("SIGTERM");
      expect(await cli.exited()).to.equal(0);
    });

    it("keeps the final counters a process reports as it stops gracefully (a reload), even if never scraped", async () => {
      const out = join(dir, "runs.txt");
      cli = runCli([APP, "--processes", "1", ...WITH_METRICS], { env: { CLI_SPEC_OUT: out, CLI_SPEC_SEND: "2" } });
      const serving = await cli.waitFor((l) => l.msg === "Serving the worker processes' metrics");
      await cli.waitFor(isBootLine);
      await until(() => runs(out).filter((r) => r.actor === "note").length === 2);
      cli.signal("SIGHUP");
      await cli.waitFor((l) => l.msg === "Worker process retired");
      await until(() => runs(out).filter((r) => r.actor === "note").length === 4);
      const first = notes(await scrape(serving.url as string));
      expect(first, "2 from the retired process + 2 from its successor").to.equal(4);
      // And it never goes backwards.
      expect(notes(await scrape(serving.url as string))).to.equal(4);
      cli.signal("SIGTERM");
      expect(await cli.exited()).to.equal(0);
    });
  });
});
