// The supervisor's aggregation of worker processes' metrics, without processes: what a scrape
// sums when processes come and go.
import { expect } from "chai";
import { AggregatorRegistry } from "prom-client";
import { FleetMetrics } from "../../lib/cli/metrics.ts";
import { getLogger } from "../../lib/logging.ts";

const counter = (value: number) => ({ name: "jobs_total", help: "h", type: "counter", aggregator: "sum", values: [{ value, labels: { q: "a" } }] });
const gauge = (value: number) => ({ name: "busy", help: "h", type: "gauge", aggregator: "sum", values: [{ value, labels: {} }] });
const histogram = (count: number) => ({
  name: "took",
  help: "h",
  type: "histogram",
  aggregator: "sum",
  values: [
    { value: count, labels: { le: 10 }, metricName: "took_bucket" },
    { value: count, labels: { le: "+Inf" }, metricName: "took_bucket" },
    { value: count * 3, labels: {}, metricName: "took_sum" },
    { value: count, labels: {}, metricName: "took_count" },
  ],
});

async function text(fleet: FleetMetrics): Promise<string> {
  const lists = fleet.snapshot().filter((l) => l.length > 0);
  return AggregatorRegistry.aggregate(lists as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
}

describe("FleetMetrics", () => {
  let fleet: FleetMetrics;
  beforeEach(() => {
    fleet = new FleetMetrics({ host: "127.0.0.1", port: 0 }, async () => {}, getLogger("spec"));
  });

  it("sums live processes, and keeps a departed process's counters and histograms but not its gauges", async () => {
    const a = {};
    const b = {};
    fleet.answer(1, [counter(5), gauge(2), histogram(5)], a);
    fleet.answer(2, [counter(7), gauge(1), histogram(7)], b);
    expect(await text(fleet)).to.include('jobs_total{q="a"} 12').and.to.include("busy 3").and.to.include("took_count 12");
    fleet.departed(a);
    const after = await text(fleet);
    expect(after).to.include('jobs_total{q="a"} 12').and.to.include("busy 1");
    expect(after).to.include('took_bucket{le="+Inf"} 12').and.to.include("took_sum 36").and.to.include("took_count 12");
  });

  it("counts a final report that arrives after the exit once, replacing the last scraped values", async () => {
    const a = {};
    fleet.answer(1, [counter(5)], a);
    fleet.departed(a);
    fleet.answer(0, [counter(9)], a);
    expect(await text(fleet)).to.include('jobs_total{q="a"} 9');
    // A process never scraped before it left still counts with its final report.
    const b = {};
    fleet.departed(b);
    fleet.answer(0, [counter(4)], b);
    expect(await text(fleet)).to.include('jobs_total{q="a"} 13');
  });

  it("counts a process that did not answer this scrape with its previous answer", async () => {
    const a = {};
    fleet.answer(1, [counter(5)], a);
    // No new answer from it (busy): the sum does not drop.
    expect(await text(fleet)).to.include('jobs_total{q="a"} 5');
  });
});

describe("Node's process metrics over a fleet", () => {
  it("takes per-process limits and the worst lag as a maximum, and sums the fleet's totals", async () => {
    const { Prometheus } = await import("../../middleware/prometheus.ts");
    // Two processes' answers: the same process twice gives the same values on both sides.
    const answer = await new Prometheus().metricsJson();
    const fleet = new FleetMetrics({ host: "127.0.0.1", port: 0 }, async () => {}, getLogger("spec"));
    fleet.answer(1, answer, {});
    fleet.answer(2, answer, {});
    const aggregated = await text(fleet);
    const value = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    const single = AggregatorRegistry.aggregate([answer] as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
    const own = await single;
    expect(value(own, "process_max_fds")).to.be.greaterThan(0);
    expect(value(aggregated, "process_max_fds")).to.equal(value(own, "process_max_fds"));
    expect(value(aggregated, "nodejs_eventloop_lag_p99_seconds")).to.equal(value(own, "nodejs_eventloop_lag_p99_seconds"));
    expect(value(aggregated, "process_open_fds")).to.equal(2 * value(own, "process_open_fds"));
  });
});
