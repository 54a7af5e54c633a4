// The summary rows of bench/postgres.ts (issue 21): dramats' PostgreSQL broker against
// graphile-worker and pg-boss measured in the same run, with the targets.
import type { FloorFigures } from "./pg-floor.ts";
import type { TransactionFigures } from "./pg-transaction.ts";
import { atLeast, below, med, type Row, type Subjects } from "./summary-row.ts";

const BASELINES = [
  ["graphile-worker", 1.5],
  ["pg-boss", 3],
] as const;

export function postgresRows(result: unknown): Row[] {
  const pg = result as { subjects?: Subjects; transaction?: TransactionFigures; floor?: FloorFigures } | undefined;
  const s = pg?.subjects;
  if (s === undefined) return [];
  const rows: Row[] = [];
  const versus = (measure: string, subject: (side: string) => string, metric: string) => {
    const dramats = med(s, subject("dramats"), metric);
    for (const [side, factor] of BASELINES) {
      const baseline = med(s, subject(side), metric);
      rows.push({ measure, dramats, baselineName: side, baseline, unit: "msg/s", target: `>= ${factor}x`, holds: atLeast(dramats, baseline, factor) });
    }
  };
  for (const c of [1, 50]) versus(`PostgreSQL drain, concurrency ${c}`, (side) => `${side} c${c}`, "drain");
  // Enqueue does not depend on the worker's concurrency (it is frozen meanwhile): the c50
  // subject's rounds send the most jobs (bench/postgres.ts MESSAGES_C50); one await at a time, c1's.
  versus("PostgreSQL enqueue, one await at a time", (side) => `${side} c1`, "enqueue_sequential");
  versus("PostgreSQL enqueue, concurrent single sends", (side) => `${side} c50`, "enqueue_single");
  versus("PostgreSQL enqueue, bulk", (side) => `${side} c50`, "enqueue_bulk");
  // The insert statement alone against the baselines' full sends: above the target, or the target is out of reach.
  const floor = pg?.floor;
  if (floor) {
    for (const [measure, metric, value] of [
      ["PostgreSQL enqueue floor, one await at a time", "enqueue_sequential", floor.sequential.median],
      ["PostgreSQL enqueue floor, bulk", "enqueue_bulk", floor.bulk.median],
    ] as const) {
      for (const [side] of BASELINES) {
        const baseline = med(s, `${side} ${metric === "enqueue_bulk" ? "c50" : "c1"}`, metric);
        rows.push({ measure, dramats: value, baselineName: side, baseline, unit: "msg/s", target: "report", holds: undefined });
      }
    }
  }
  for (const c of [1, 50]) {
    const cpu = med(s, `dramats c${c}`, "worker_cpu_us");
    for (const [side] of BASELINES) {
      rows.push({ measure: `Worker CPU per message, PostgreSQL c${c}`, dramats: cpu, baselineName: side, baseline: med(s, `${side} c${c}`, "worker_cpu_us"), unit: "µs", target: "report", holds: undefined });
    }
  }
  const p50 = med(s, "dramats", "p50_ms");
  rows.push({ measure: "Idle latency p50 (PostgreSQL)", dramats: p50, baselineName: "graphile-worker", baseline: med(s, "graphile-worker", "p50_ms"), unit: "ms", target: "< 3 ms", holds: below(p50, 3) });
  rows.push({ measure: "Idle latency p50 (PostgreSQL)", dramats: p50, baselineName: "pg-boss", baseline: med(s, "pg-boss", "p50_ms"), unit: "ms", target: "report", holds: undefined });
  rows.push({ measure: "Idle latency p99 (PostgreSQL)", dramats: med(s, "dramats", "p99_ms"), baselineName: "graphile-worker", baseline: med(s, "graphile-worker", "p99_ms"), unit: "ms", target: "report", holds: undefined });
  const one = med(s, "dramats c50 p1 scale", "drain");
  for (const p of [2, 4]) {
    const many = med(s, `dramats c50 p${p} scale`, "drain");
    rows.push({ measure: `PostgreSQL drain c50, ${p} worker processes`, dramats: many, baselineName: "1 process", baseline: one, unit: "msg/s", target: "> 1x", holds: many === undefined || one === undefined ? undefined : many > one });
  }
  const tx = pg?.transaction;
  if (tx) {
    // Without withTransaction the send is not in the transaction: a stand-in, not the target's measure.
    const real = tx.mode === "withTransaction";
    rows.push({
      measure: real ? "Transactional enqueue (INSERT + send in one tx)" : "Transactional enqueue STAND-IN (send beside the tx)",
      dramats: tx.with_send_ms.median,
      baselineName: "INSERT alone",
      baseline: tx.insert_ms.median,
      unit: "ms",
      target: real ? "<= 1.3x" : "<= 1.3x (awaits API)",
      holds: real ? tx.ratio <= 1.3 : undefined,
    });
    if (tx.sql_function_ms !== undefined) {
      rows.push({
        measure: "Transaction: INSERT and enqueue() SQL function in one statement",
        dramats: tx.sql_function_ms.median,
        baselineName: "INSERT alone",
        baseline: tx.insert_ms.median,
        unit: "ms",
        target: "report",
        holds: undefined,
      });
    }
    if (tx.round_trip_ms !== undefined) {
      rows.push({
        measure: "Transaction with one more round trip (INSERT + SELECT 1)",
        dramats: tx.round_trip_ms.median,
        baselineName: "INSERT alone",
        baseline: tx.insert_ms.median,
        unit: "ms",
        target: "report",
        holds: undefined,
      });
    }
  }
  return rows;
}
