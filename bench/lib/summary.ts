// The bench's verdict: each target of the issue as dramats' figure, the baseline measured in the
// same run, their ratio, and whether the target holds (all medians).
import type { Summary } from "./stats.ts";
import { postgresRows } from "./summary-postgres.ts";
import { atLeast, below, med, type Row, type Subjects } from "./summary-row.ts";
import { fixed, int, printTable } from "./table.ts";

export function summarize(results: Record<string, unknown>): { rows: Row[]; print(): void } {
  const tp = (results.throughput as { subjects?: Subjects } | undefined)?.subjects;
  const lat = (results.latency as { subjects?: Subjects } | undefined)?.subjects;
  const threads = results.threads as { threads1?: Summary; threads2?: Summary; ratio?: number } | undefined;
  const rows: Row[] = [];
  const vs = (measure: string, subject: string, metric: string, baselineName: string, baselineSubject: string, baselineMetric: string, factor: number, unit = "msg/s") => {
    const dramats = med(tp, subject, metric);
    const baseline = med(tp, baselineSubject, baselineMetric);
    rows.push({ measure, dramats, baselineName, baseline, unit, target: `>= ${factor}x`, holds: atLeast(dramats, baseline, factor) });
  };
  vs("Redis drain, concurrency 1", "dramats redis c1", "drain", "BullMQ c1", "bullmq c1", "drain", 2);
  vs("Redis drain, concurrency 50", "dramats redis c50", "drain", "BullMQ c50", "bullmq c50", "drain", 2);
  vs("Redis drain, concurrency 50", "dramats redis c50", "drain", "raw ioredis loop", "raw ioredis", "drain", 0.5);
  for (const c of ["c1", "c50"]) {
    const cpu = med(tp, `dramats redis ${c}`, "worker_cpu_us");
    rows.push({ measure: `Worker CPU per message, Redis ${c}`, dramats: cpu, baselineName: `BullMQ ${c}`, baseline: med(tp, `bullmq ${c}`, "worker_cpu_us"), unit: "µs", target: "< 20 µs", holds: below(cpu, 20) });
  }
  rows.push({
    measure: "Redis CPU per message, c50",
    dramats: med(tp, "dramats redis c50", "redis_cpu_us"),
    baselineName: "BullMQ c50",
    baseline: med(tp, "bullmq c50", "redis_cpu_us"),
    unit: "µs",
    target: "report",
    holds: undefined,
  });
  // Enqueue figures of both Redis subjects of a kind are the same client path: pool them.
  const pooled = (subject: string, metric: string) => {
    const samples = [`${subject} c1`, `${subject} c50`].flatMap((s) => tp?.[s]?.[metric]?.samples ?? []);
    if (samples.length === 0) return undefined;
    const sorted = samples.sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const single = pooled("dramats redis", "enqueue_single");
  const add = pooled("bullmq", "enqueue_single");
  rows.push({ measure: "Enqueue, concurrent single sends (Redis)", dramats: single, baselineName: "BullMQ add", baseline: add, unit: "msg/s", target: ">= 2x", holds: atLeast(single, add, 2) });
  const bulk = pooled("dramats redis", "enqueue_bulk");
  const addBulk = pooled("bullmq", "enqueue_bulk");
  rows.push({ measure: "Enqueue, bulk sendMany (Redis)", dramats: bulk, baselineName: "BullMQ addBulk", baseline: addBulk, unit: "msg/s", target: ">= 2x", holds: atLeast(bulk, addBulk, 2) });
  vs("RabbitMQ drain, concurrency 50", "dramats rabbitmq c50", "drain", "raw amqplib consume", "raw amqplib", "drain", 0.7);
  vs("RabbitMQ enqueue, concurrent sends", "dramats rabbitmq c50", "enqueue_single", "raw confirmed publish", "raw amqplib", "enqueue_confirmed", 0.7);
  vs("RabbitMQ enqueue, bulk sendMany", "dramats rabbitmq c50", "enqueue_bulk", "raw confirmed publish", "raw amqplib", "enqueue_confirmed", 0.7);
  const p50 = med(lat, "dramats redis", "p50_ms");
  const bullP50 = med(lat, "bullmq", "p50_ms");
  rows.push({ measure: "Idle latency p50 (Redis)", dramats: p50, baselineName: "BullMQ", baseline: bullP50, unit: "ms", target: "<= BullMQ", holds: p50 === undefined || bullP50 === undefined ? undefined : p50 <= bullP50 });
  const p99 = med(lat, "dramats redis", "p99_ms");
  rows.push({ measure: "Idle latency p99 (Redis)", dramats: p99, baselineName: "BullMQ", baseline: med(lat, "bullmq", "p99_ms"), unit: "ms", target: "< 5 ms", holds: below(p99, 5) });
  rows.push({ measure: "Idle worker CPU (Redis)", dramats: med(lat, "dramats redis", "idle_cpu_ms_per_s"), baselineName: "BullMQ", baseline: med(lat, "bullmq", "idle_cpu_ms_per_s"), unit: "ms/s", target: "near 0", holds: below(med(lat, "dramats redis", "idle_cpu_ms_per_s"), 10) });
  if (threads?.threads1 && threads.threads2) {
    rows.push({ measure: "CPU-bound, 2 threads vs 1", dramats: threads.threads2.median, baselineName: "1 thread", baseline: threads.threads1.median, unit: "msg/s", target: ">= 1.6x", holds: atLeast(threads.threads2.median, threads.threads1.median, 1.6) });
  }
  for (const c of ["c1", "c50"]) {
    const boot = med(tp, `dramats redis ${c}`, "rss_boot_mb");
    rows.push({ measure: `Worker RSS booted, Redis ${c}`, dramats: boot, baselineName: `BullMQ ${c}`, baseline: med(tp, `bullmq ${c}`, "rss_boot_mb"), unit: "MB", target: "< 60 MB", holds: below(boot, 60) });
    const rest = med(tp, `dramats redis ${c}`, "rss_idle_mb");
    rows.push({ measure: `Worker RSS at rest after draining, Redis ${c}`, dramats: rest, baselineName: `BullMQ ${c}`, baseline: med(tp, `bullmq ${c}`, "rss_idle_mb"), unit: "MB", target: "< 60 MB", holds: below(rest, 60) });
    const peak = med(tp, `dramats redis ${c}`, "rss_peak_mb");
    rows.push({ measure: `Worker RSS peak draining, Redis ${c}`, dramats: peak, baselineName: `BullMQ ${c}`, baseline: med(tp, `bullmq ${c}`, "rss_peak_mb"), unit: "MB", target: "< 100 MB", holds: below(peak, 100) });
  }
  const info = (measure: string, subject: string, metric: string, unit: string, baselineName?: string, baselineSubject?: string) =>
    rows.push({ measure: `${measure} (info)`, dramats: med(tp, subject, metric), baselineName, baseline: baselineSubject === undefined ? undefined : med(tp, baselineSubject, metric), unit, target: "-", holds: undefined });
  info("sqlite c50 drain", "dramats sqlite c50", "drain", "msg/s");
  // The embedded broker scales by worker processes: two against one, same run.
  info("sqlite c50 drain, 2 processes", "dramats sqlite c50 p2", "drain", "msg/s", "1 process", "dramats sqlite c50");
  info("sqlite c50 worker CPU, 2 processes", "dramats sqlite c50 p2", "worker_cpu_us", "µs", "1 process", "dramats sqlite c50");
  info("stub c50 drain", "dramats stub c50", "drain", "msg/s");

  // A real app (results, chord, limiter, cancellation, cron) idle, against the no-op app of the same run.
  const mem = (results.memory as { apps?: Subjects } | undefined)?.apps;
  const realRss = med(mem, "real", "worker_rss_mb");
  rows.push({ measure: "Worker RSS idle, real app (Redis, c8)", dramats: realRss, baselineName: "no-op app", baseline: med(mem, "noop", "worker_rss_mb"), unit: "MB", target: "< 70 MB", holds: below(realRss, 70) });

  // The dashboard's reads with a deep queue (bench/dashboard.ts): each under the 1 s.
  const dash = results.dashboard as { messages?: number; brokers?: Subjects } | undefined;
  const deep = dash?.messages === undefined ? "" : `, ${dash.messages.toLocaleString("en-US")} ready`;
  for (const [broker, label] of [["redis", "Redis"], ["sqlite", "SQLite"]] as const) {
    for (const [metric, read] of [["overview_ms", "overview"], ["page_first_ms", "first page"], ["page_middle_ms", "page in the middle"], ["detail_ms", "message detail"]] as const) {
      const figure = med(dash?.brokers, broker, metric);
      rows.push({ measure: `Dashboard ${read} (${label}${deep})`, dramats: figure, unit: "ms", target: "< 1000 ms", holds: below(figure, 1000) });
    }
  }

  rows.push(...postgresRows(results.postgres));

  const format = (x: number | undefined, unit: string) => (unit === "msg/s" ? int(x) : fixed(x, unit === "ms" || unit === "ms/s" ? 2 : 1));
  return {
    rows,
    print() {
      printTable(
        ["measure", "dramats", "baseline (same run)", "ratio", "target", "holds"],
        rows.filter((r) => r.dramats !== undefined).map((r) => [
          r.measure,
          `${format(r.dramats, r.unit)} ${r.unit}`,
          r.baselineName ? `${format(r.baseline, r.unit)} ${r.unit} ${r.baselineName}` : "-",
          r.dramats !== undefined && r.baseline !== undefined && r.baseline > 0 ? `${(r.dramats / r.baseline).toFixed(2)}x` : "-",
          r.target,
          r.holds === undefined ? "" : r.holds ? "yes" : "NO",
        ]),
      );
    },
  };
}
