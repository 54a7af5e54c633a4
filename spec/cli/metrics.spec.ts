// Issue 6 acceptance: one /metrics for the whole `dramats --processes N` tree, whose totals
// equal what the fleet did, and whose counters survive a process being replaced.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { Message } from "../../lib/index.ts";
import { redisNamespace } from "./redis-namespace.ts";
import { APP, cliSpec, isBootLine, runs, until, WITH_METRICS } from "./run-cli.ts";
import { metric, metricsUrl, scrape, scrapeUntil } from "./scrape.ts";

const OUTCOMES = "spec/fixtures/cli-outcomes-app.ts";

describe("dramats metrics across worker processes", function () {
  this.timeout(30_000);
  const spec = cliSpec("dramats-metrics-");

  describe("on Redis (acceptance)", () => {
    // The worker processes go before their namespace does.
    afterEach(() => spec.destroyAll());
    const redis = redisNamespace("dramats-metrics", ["outcomes"]);

    it("serves totals equal to what both processes processed, failed, retried and dead-lettered", async () => {
      const { broker } = redis;
      const cli = spec.start([OUTCOMES, "--processes", "2", "--threads", "8", "--broker", redis.brokerUrl(), ...WITH_METRICS], { env: { CLI_SPEC_OUT: spec.out } });
      const url = await metricsUrl(cli);
      await until(() => cli.count("Worker started") === 2, 15_000);

      // 200 messages: 160 succeed at once, 30 fail once then succeed, 10 fail all 3 attempts.
      const plan = Array.from({ length: 200 }, (_, i) => (i % 20 === 0 ? 99 : i % 20 <= 3 ? 1 : 0));
      expect(plan.filter((f) => f === 1)).to.have.length(30);
      await broker.enqueueMany(plan.map((failures, i) => new Message({ queueName: "outcomes", actorName: "work", args: [`m${i}`, failures] })));
      await broker.join("outcomes", { timeout: 25_000, failFast: false });

      const labels = { queue_name: "outcomes", actor_name: "work" };
      // The last nacks' counters move just after the queue drains.
      const text = await scrapeUntil(url, (t) => metric(t, "dramatiq_message_rejects_total", labels) === 10);
      const attempts = 160 + 30 * 2 + 10 * 3;
      expect(metric(text, "dramatiq_messages_total", labels), "messages processed (each attempt)").to.equal(attempts);
      expect(metric(text, "dramatiq_message_errors_total", labels), "failed attempts").to.equal(30 + 10 * 3);
      expect(metric(text, "dramatiq_message_retries_total", labels), "retries scheduled").to.equal(30 + 10 * 2);
      expect(metric(text, "dramatiq_message_rejects_total", labels), "dead-lettered").to.equal(10);
      expect(metric(text, "dramatiq_message_duration_milliseconds_count", labels)).to.equal(attempts);
      expect(metric(text, "dramatiq_messages_inprogress", labels)).to.equal(0);
      expect(await broker.deadLetters("outcomes")).to.have.length(10);

      // Both processes did part of the work, and the metrics counted every run once.
      const ran = readFileSync(spec.out, "utf8").trim().split("\n");
      expect(ran).to.have.length(attempts);
      expect(new Set(ran.map((line) => line.split(" ")[0]))).to.have.property("size", 2);
      expect(await cli.stop()).to.equal(0);
    });
  });

  describe("when a worker process is replaced", () => {
    const notes = (text: string) => metric(text, "dramatiq_messages_total", { queue_name: "cli-stub", actor_name: "note" });

    it("keeps the counters of a process killed with SIGKILL at their last scraped values", async () => {
      // Each process enqueues and runs two "note" messages of its own (in-memory broker).
      const cli = spec.start([APP, "--processes", "2", ...WITH_METRICS], { env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_SEND: "2" } });
      const url = await metricsUrl(cli);
      await until(() => runs(spec.out, "note").length === 4);
      // Both processes answer this scrape with their two, so these are the values kept below.
      expect(notes(await scrapeUntil(url, (t) => notes(t) === 4))).to.equal(4);

      process.kill(runs(spec.out)[0]!.pid, "SIGKILL");
      await cli.waitFor("Worker process died; restarting it");
      // The replacement runs its own two.
      await until(() => runs(spec.out, "note").length === 6);
      await until(() => cli.count("Worker started") === 3);
      expect(notes(await scrapeUntil(url, (t) => notes(t) === 6)), "2 kept from the dead process + 2 + 2").to.equal(6);
      expect(await cli.stop()).to.equal(0);
    });

    it("keeps the final counters a process reports as it stops gracefully (a reload), even if never scraped", async () => {
      const cli = spec.start([APP, "--processes", "1", ...WITH_METRICS], { env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_SEND: "2" } });
      const url = await metricsUrl(cli);
      await cli.waitFor(isBootLine);
      await until(() => runs(spec.out, "note").length === 2);
      cli.signal("SIGHUP");
      await cli.waitFor("Worker process retired");
      await until(() => runs(spec.out, "note").length === 4);
      const first = notes(await scrapeUntil(url, (t) => notes(t) === 4));
      expect(first, "2 from the retired process + 2 from its successor").to.equal(4);
      // And it never goes backwards.
      expect(notes(await scrape(url))).to.equal(4);
      expect(await cli.stop()).to.equal(0);
    });
  });
});
