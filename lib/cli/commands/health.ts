// `dramats health`: exits 0 when every queue has a live consumer, 1 with a reason per queue
// otherwise: a check for cron or a monitoring system, read from the worker registry.
import { workerStatus, type WorkerRecord } from "../../worker-registry.ts";
import { ExitCode } from "../exit-codes.ts";
import { relative, type Output } from "./output.ts";
import { readRegistry } from "./registry-source.ts";
import type { Session } from "./session.ts";

export interface HealthOptions {
  /** Queues that must be served; empty: every queue some record names. */
  queues: readonly string[];
  /** A consumer's last beat must be newer than this (ms). */
  maxAge: number;
  json: boolean;
  store?: string | undefined;
}

/** Queue → why it is not served, for each queue not served. */
export function unservedQueues(records: readonly WorkerRecord[], queues: readonly string[], maxAge: number, now: number): Map<string, string> {
  const wanted = queues.length > 0 ? [...queues] : [...new Set(records.flatMap((r) => r.queues))].sort();
  const reasons = new Map<string, string>();
  for (const queue of wanted) {
    const consumers = records.filter((r) => r.queues.includes(queue));
    if (consumers.some((r) => workerStatus(r, now) === "live" && now - r.lastBeat <= maxAge)) continue;
    if (consumers.length === 0) {
      reasons.set(queue, "no worker consumes it");
      continue;
    }
    const latest = consumers.reduce((a, b) => (b.lastBeat > a.lastBeat ? b : a));
    reasons.set(queue, `no live worker consumes it: the latest, ${latest.host} pid ${latest.pid}, is ${workerStatus(latest, now)}, last beat ${relative(latest.lastBeat, now)}`);
  }
  return reasons;
}

/** Exit 0 when every queue is served, 1 otherwise (and when there is no queue to check). */
export async function healthCommand(session: Session, options: HealthOptions, out: Output): Promise<number> {
  const records = await readRegistry(session, options.store);
  const now = Date.now();
  const reasons = unservedQueues(records, options.queues, options.maxAge, now);
  const checked = options.queues.length > 0 ? options.queues.length : new Set(records.flatMap((r) => r.queues)).size;
  const healthy = checked > 0 && reasons.size === 0;
  if (options.json) {
    out.json({ healthy, queues: checked, unserved: [...reasons].map(([queue, reason]) => ({ queue, reason })) });
  } else if (checked === 0) {
    out.line("unhealthy: no worker has registered (no queue to check: name them with --queue Q)");
  } else if (healthy) {
    out.line(`healthy: ${checked} queue${checked === 1 ? "" : "s"} served`);
  } else {
    for (const [queue, reason] of reasons) out.line(`queue ${queue}: ${reason}`);
  }
  return healthy ? ExitCode.OK : ExitCode.ERROR;
}
