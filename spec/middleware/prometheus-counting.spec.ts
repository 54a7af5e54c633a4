import { expect } from "chai";
import { StubBroker } from "../../brokers/stub.ts";
import {
  actor,
  Cancellation,
  Middleware,
  RateLimit,
  Retries,
  StubCancellationBackend,
  StubRateLimiterBackend,
  TimeLimit,
  Worker,
  type ActorContext,
  type Broker,
  type MessageProxy,
} from "../../lib/index.ts";
import { Prometheus } from "../../middleware/prometheus.ts";
import { deferred } from "../helpers/stub.ts";

function sample(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

/** Counts the messages a middleware put back unrun (what the requeue counter must show). */
class PutBackCounter extends Middleware {
  putBacks = 0;
  afterSkipMessage(_broker: Broker, proxy: MessageProxy): void {
    if (proxy.retry !== undefined) this.putBacks++;
  }
}

describe("Prometheus counting", () => {
  it("counts a rate-limited message once in messages_total, and each put-back under dramats_message_requeues_total", async () => {
    const prometheus = new Prometheus({ processMetrics: false });
    const putBacks = new PutBackCounter();
    const broker = new StubBroker({
      middleware: [prometheus, new Retries({ maxRetries: 0 }), new RateLimit({ backend: new StubRateLimiterBackend() }), putBacks],
    });
    let runs = 0;
    const limited = actor(function limitedMetered() { runs++; }, { broker, queueName: "metrics_rl", rateLimit: { limit: 5, window: 100 } });
    const worker = new Worker(broker, { fetchTimeout: 50, concurrency: 8 });
    await worker.start();
    try {
      for (let i = 0; i < 20; i++) await limited.send();
      await broker.join("metrics_rl", { timeout: 10_000 });
      await worker.join();
      const text = await prometheus.metricsText();
      const labels = 'queue_name="metrics_rl",actor_name="limitedMetered"';
      expect(runs).to.equal(20);
      expect(putBacks.putBacks).to.be.greaterThan(0);
      expect(sample(text, "dramatiq_messages_total", labels)).to.equal(20);
      expect(sample(text, "dramatiq_message_errors_total", labels)).to.equal(0);
      expect(sample(text, "dramatiq_message_retries_total", labels)).to.equal(0);
      expect(sample(text, "dramats_message_requeues_total", labels)).to.equal(putBacks.putBacks);
      expect(sample(text, "dramatiq_messages_inprogress", labels)).to.equal(0);
      expect(sample(text, "dramatiq_message_duration_milliseconds_count", labels)).to.equal(20);
    } finally {
      await worker.stop();
      await broker.close();
    }
  });

  it("counts cancelled messages, queued or running, under dramats_message_cancellations_total and not as processed or errors", async () => {
    const prometheus = new Prometheus({ processMetrics: false });
    const broker = new StubBroker({
      middleware: [prometheus, new Cancellation({ backend: new StubCancellationBackend() }), new Retries({ minBackoff: 10 })],
    });
    const started = deferred();
    const job = actor(function cancelMetered(this: ActorContext, mode: "run" | "wait") {
      if (mode === "run") return;
      started.resolve();
      return new Promise<void>((_, reject) => this.signal.addEventListener("abort", () => reject(this.signal.reason)));
    }, { broker, queueName: "metrics_cancel" });
    const worker = new Worker(broker, { fetchTimeout: 50, concurrency: 4 });
    await worker.start();
    try {
      // Given one running message and one still queued behind a paused worker
      const running = await job.send("wait");
      await started.promise;
      worker.pause();
      const queued = await job.send("run");
      await job.send("run");
      // When both are cancelled
      await running.cancel();
      await queued.cancel();
      worker.resume();
      await broker.join("metrics_cancel");
      await worker.join();
      // Then only the one that ran to its end is a processed message, and nothing is an error
      const text = await prometheus.metricsText();
      const labels = 'queue_name="metrics_cancel",actor_name="cancelMetered"';
      expect(sample(text, "dramatiq_message_errors_total", labels)).to.equal(0);
      expect(sample(text, "dramatiq_message_retries_total", labels)).to.equal(0);
      expect(sample(text, "dramatiq_message_rejects_total", labels)).to.equal(0);
      expect(sample(text, "dramatiq_messages_total", labels)).to.equal(1);
      expect(sample(text, "dramats_message_cancellations_total", labels)).to.equal(2);
      expect(sample(text, "dramatiq_messages_inprogress", labels)).to.equal(0);
    } finally {
      await worker.stop();
      await broker.close();
    }
  });

  it("counts runs abandoned at their time limit while the actor kept working, and how many still work", async () => {
    const prometheus = new Prometheus({ processMetrics: false });
    const broker = new StubBroker({ middleware: [prometheus, new TimeLimit(), new Retries({ maxRetries: 0 })] });
    const release = deferred();
    let ended = 0;
    // Ignores its signal: it works on past its 20 ms limit until the spec releases it.
    const stubborn = actor(async function stubbornMetered() { await release.promise; ended++; }, { broker, queueName: "metrics_abandon", timeLimit: 20 });
    const worker = new Worker(broker, { fetchTimeout: 50, concurrency: 4 });
    await worker.start();
    try {
      await Promise.all([stubborn.send(), stubborn.send()]);
      await broker.join("metrics_abandon", { failFast: false });
      await new Promise((resolve) => setImmediate(resolve));
      let text = await prometheus.metricsText();
      expect(text).to.match(/^dramats_abandoned_runs_total 2$/m);
      expect(text).to.match(/^dramats_abandoned_runs 2$/m);
      release.resolve();
      while (ended < 2) await new Promise((resolve) => setImmediate(resolve));
      text = await prometheus.metricsText();
      expect(text).to.match(/^dramats_abandoned_runs_total 2$/m);
      expect(text).to.match(/^dramats_abandoned_runs 0$/m);
    } finally {
      await worker.stop();
      await broker.close();
    }
  });
});
