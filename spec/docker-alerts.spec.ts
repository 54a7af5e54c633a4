// docker/alerts.yml (example alert rules) and the dashboard's "keeping up" panels: checked
// against what the code exports, as spec/docker.spec.ts checks the dashboard's queries.
import { expect } from "chai";
import { Prometheus } from "../middleware/prometheus.ts";
import { promqlNames, readText, readYaml } from "./helpers/deployment-files.ts";

/** Metrics a rule may use besides dramats' own: Prometheus' scrape health, and the watchdog's gauge (another part). */
const ALSO_ALLOWED = ["up", "dramats_consumer_stalled"];

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Every metric name (histograms with their series suffixes) and label name the middleware exports. */
async function exported(): Promise<{ names: Set<string>; labels: Set<string> }> {
  const middleware = new Prometheus();
  const names = new Set<string>(ALSO_ALLOWED);
  const labels = new Set(["le", "instance", "job"]);
  for (const metric of await middleware.metricsJson()) {
    names.add(metric.name);
    if (String(metric.type) === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(metric.name + suffix);
    const labelNames = (middleware.registry.getSingleMetric(metric.name) as { labelNames?: string[] } | undefined)?.labelNames ?? [];
    for (const label of labelNames) labels.add(label);
  }
  return { names, labels };
}

describe("docker/alerts.yml", () => {
  const rules = (): Rule[] => (readYaml("docker/alerts.yml").groups as { rules: Rule[] }[]).flatMap((g) => g.rules);

  it("parses as Prometheus rule groups, each rule named, with a severity and a summary", () => {
    const all = rules();
    expect(all.length).to.be.at.least(5);
    expect(new Set(all.map((r) => r.alert)).size).to.equal(all.length);
    for (const rule of all) {
      expect(rule.alert, JSON.stringify(rule)).to.match(/^Dramats\w+$/);
      expect(rule.expr, rule.alert).to.be.a("string").and.not.be.empty;
      expect(rule.labels?.severity, rule.alert).to.be.oneOf(["warning", "critical"]);
      expect(rule.annotations?.summary, rule.alert).to.be.a("string");
      if (rule.for !== undefined) expect(rule.for, rule.alert).to.match(/^\d+[smh]$/);
    }
  });

  it("is loaded by docker/prometheus.yml, mounted next to it in the compose file", () => {
    expect(readYaml("docker/prometheus.yml").rule_files).to.deep.equal(["alerts.yml"]);
    const volumes = readYaml("docker/compose.yml").services.prometheus.volumes as string[];
    expect(volumes).to.include("./alerts.yml:/etc/prometheus/alerts.yml:ro");
    expect(volumes).to.include("./prometheus.yml:/etc/prometheus/prometheus.yml:ro");
  });

  it("uses only metric and label names dramats exports (and up, dramats_consumer_stalled)", async () => {
    const { names, labels } = await exported();
    for (const rule of rules()) {
      const used = promqlNames(rule.expr);
      expect(used.metrics, `${rule.alert}: ${rule.expr}`).not.to.be.empty;
      for (const name of used.metrics) expect(names.has(name), `${rule.alert} uses ${name}, which nothing exports`).to.equal(true);
      for (const label of used.labels) expect(labels.has(label), `${rule.alert} uses label ${label}`).to.equal(true);
    }
  });

  it("alerts on lost consumers, the oldest message's age, dead-letter growth, the failure rate and a stalled consumer", () => {
    const using = (pattern: RegExp) => rules().filter((r) => pattern.test(r.expr)).map((r) => r.alert);
    expect(using(/\bup\{job="dramats"\} == 0/)).to.include("DramatsWorkerDown");
    expect(using(/dramats_queue_messages\{state="ready"\}/)).to.include.members(["DramatsQueueNoLongerConsumed", "DramatsQueueNotDraining"]);
    expect(using(/dramats_queue_oldest_message_age_seconds/)).to.include("DramatsOldestMessageTooOld");
    expect(using(/increase\(dramatiq_message_rejects_total/)).to.include("DramatsDeadLettersGrowing");
    expect(using(/dramatiq_message_errors_total.*\/.*dramatiq_messages_total/)).to.include("DramatsHighFailureRate");
    expect(using(/dramats_consumer_stalled/)).to.include("DramatsConsumerStalled");
  });
});

describe("docker/grafana: the keeping-up panels", () => {
  it("shows wait percentiles, the oldest ready message's age and utilization", () => {
    const dashboard = JSON.parse(readText("docker/grafana/dashboards/dramats.json")) as { panels: { type: string; title: string; id: number; targets?: { expr: string }[] }[] };
    const panels = dashboard.panels.filter((p) => p.type !== "row");
    const using = (pattern: RegExp) => panels.filter((p) => p.targets!.some((t) => pattern.test(t.expr))).map((p) => p.title);
    expect(using(/histogram_quantile\(0\.95, .*dramats_message_wait_milliseconds_bucket/)).to.include("Wait before start");
    expect(using(/max by \(queue_name\) \(dramats_queue_oldest_message_age_seconds/)).to.include("Oldest ready message age");
    expect(using(/dramats_worker_busy_slot_seconds_total.*\/.*dramats_worker_slot_seconds_total/)).to.include("Worker utilization");
  });
});
