import { expect } from "chai";
import { StubBroker } from "../../brokers/stub.ts";
import { actor, Retries, Worker } from "../../lib/index.ts";
import { DURATION_BUCKETS, Prometheus, serveMetrics } from "../../middleware/prometheus.ts";

function sample(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? NaN : Number(line.split(" ").pop());
}

describe("Prometheus", () => {
  it("counts processed, failed, retried and dead-lettered messages with Dramatiq's names and labels", async () => {
    const prometheus = new Prometheus({ processMetrics: false });
    const broker = new StubBroker({ middleware: [prometheus, new Retries({ minBackoff: 1, maxBackoff: 2, maxRetries: 1 })] });
    const job = actor(function metered(fail: boolean) {
      if (fail) throw new Error("x");
    }, { broker, queueName: "metrics_q" });
    const worker = new Worker(broker, { fetchTimeout: 50 });
    await worker.start();
    for (let i = 0; i < 5; i++) await job.send(false);
    await job.send(true);
    await broker.join("metrics_q", { failFast: false });
    await worker.join();
    const text = await prometheus.metricsText();
    await worker.stop();
    const labels = 'queue_name="metrics_q",actor_name="metered"';
    expect(sample(text, "dramatiq_messages_total", labels)).to.equal(7); // 5 + the failing one twice
    expect(sample(text, "dramatiq_message_errors_total", labels)).to.equal(2);
    expect(sample(text, "dramatiq_message_retries_total", labels)).to.equal(1);
    expect(sample(text, "dramatiq_message_rejects_total", labels)).to.equal(1);
    expect(sample(text, "dramatiq_messages_inprogress", labels)).to.equal(0);
    expect(sample(text, "dramatiq_message_duration_milliseconds_count", labels)).to.equal(7);
    for (const bucket of DURATION_BUCKETS) expect(text).to.contain(`le="${bucket}",${labels}`);
    expect(sample(text, "dramats_queue_messages", 'queue_name="metrics_q",state="dead"')).to.equal(1);
  });

  it("shows running messages as in progress and counts each message once however often it is scraped", async () => {
    const prometheus = new Prometheus({ processMetrics: false });
    const broker = new StubBroker({ middleware: [prometheus] });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const job = actor(async function gated(wait: boolean) {
      if (wait) await gate;
    }, { broker, queueName: "metrics_gauge" });
    const worker = new Worker(broker, { fetchTimeout: 50, concurrency: 4 });
    await worker.start();
    const labels = 'queue_name="metrics_gauge",actor_name="gated"';
    try {
      await job.send(false);
      await job.send(true);
      await job.send(true);
      // Wait (bounded) for the first to finish and the two gated ones to be running.
      let during = "";
      for (const deadline = Date.now() + 2_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 5))) {
        during = await prometheus.metricsText();
        if (sample(during, "dramatiq_messages_total", labels) === 1 && sample(during, "dramatiq_messages_inprogress", labels) === 2) break;
      }
      expect(sample(during, "dramatiq_messages_total", labels)).to.equal(1);
      expect(sample(during, "dramatiq_messages_inprogress", labels)).to.equal(2);
      release();
      await broker.join("metrics_gauge");
      await worker.join();
      const first = await prometheus.metricsText();
      const second = await prometheus.metricsText();
      for (const text of [first, second]) {
        expect(sample(text, "dramatiq_messages_total", labels)).to.equal(3);
        expect(sample(text, "dramatiq_messages_inprogress", labels)).to.equal(0);
      }
    } finally {
      release();
      await worker.stop();
    }
  });

  it("serves the metrics over HTTP on loopback, with Node's process metrics", async () => {
    const prometheus = new Prometheus();
    const server = await serveMetrics(() => prometheus.metricsText(), { port: 0 });
    try {
      const { port } = server.address() as { port: number };
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(response.status).to.equal(200);
      const body = await response.text();
      expect(body).to.contain("# TYPE dramatiq_messages_total counter");
      expect(body).to.contain("process_resident_memory_bytes");
      expect((server.address() as { address: string }).address).to.equal("127.0.0.1");
    } finally {
      server.close();
    }
  });
});
