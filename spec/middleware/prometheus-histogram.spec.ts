import { expect } from "chai";
import { AggregatorRegistry, Histogram, Registry } from "prom-client";
import { DURATION_BUCKETS } from "../../middleware/prometheus.ts";
import { LabelledHistogram } from "../../middleware/prometheus-histogram.ts";

const OBSERVATIONS: [string, number][] = [
  ["a", 0], ["a", 3], ["b", 5], ["a", 5.5], ["b", 99], ["a", 1000], ["b", 1e7], ["a", 42], ["b", 0.25],
];

/** The same observations in prom-client's Histogram and in ours, each in its own registry. */
function both(): { theirs: Registry; ours: Registry; histogram: LabelledHistogram } {
  const theirs = new Registry();
  const ours = new Registry();
  const reference = new Histogram({ name: "d_ms", help: "Durations.", labelNames: ["queue_name", "actor_name"], buckets: DURATION_BUCKETS, registers: [theirs] });
  const histogram = new LabelledHistogram({ name: "d_ms", help: "Durations.", buckets: DURATION_BUCKETS, registers: [ours] });
  const series = new Map<string, ReturnType<LabelledHistogram["series"]>>();
  for (const [actor, value] of OBSERVATIONS) {
    const labels = { queue_name: "q", actor_name: actor };
    reference.labels(labels).observe(value);
    if (!series.has(actor)) series.set(actor, histogram.series(labels));
    series.get(actor)!.observe(value);
  }
  return { theirs, ours, histogram };
}

/** Exposition lines, label order normalized (the text format does not order labels). */
function lines(text: string): string[] {
  return text
    .trim()
    .split("\n")
    .map((line) => line.replace(/\{([^}]*)\}/, (_, inner: string) => `{${inner.split(",").sort().join(",")}}`))
    .sort();
}

describe("LabelledHistogram (the Prometheus middleware's duration histogram)", () => {
  it("renders exactly the samples prom-client's Histogram renders for the same observations", async () => {
    const { theirs, ours } = both();
    expect(lines(await ours.metrics())).to.deep.equal(lines(await theirs.metrics()));
  });

  it("aggregates across processes as prom-client's Histogram does, and resets to zero", async () => {
    const { theirs, ours, histogram } = both();
    const a = AggregatorRegistry.aggregate([await theirs.getMetricsAsJSON(), await theirs.getMetricsAsJSON()]);
    const b = AggregatorRegistry.aggregate([await ours.getMetricsAsJSON(), await ours.getMetricsAsJSON()]);
    expect(lines(await b.metrics())).to.deep.equal(lines(await a.metrics()));
    expect(await b.metrics()).to.include('d_ms_count{queue_name="q",actor_name="a"} 10');

    histogram.reset();
    expect(await ours.metrics()).to.include('d_ms_sum{queue_name="q",actor_name="b"} 0');
  });

  it("refuses a value that is not a finite number", () => {
    const series = new LabelledHistogram({ name: "x_ms", help: "x", buckets: [1], registers: [] }).series({});
    expect(() => series.observe(Number.NaN)).to.throw(TypeError);
  });
});
