// `dramats workers`: the worker processes the registry lists, live and recently dead, and with
// `--running` the messages they run now.
import { workerStatus, type WorkerRecord } from "../../worker-registry.ts";
import { ExitCode } from "../exit-codes.ts";
import { formatTime, relative, table, type Output } from "./output.ts";
import { readRegistry } from "./registry-source.ts";
import type { Session } from "./session.ts";

export interface WorkersOptions {
  /** List the running messages instead of the workers. */
  running: boolean;
  json: boolean;
  /** The store the workers publish to (`--store`), if not the broker's own. */
  store?: string | undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();
const mb = (bytes: number) => `${Math.round(bytes / 1048576)} MB`;

/** A record for JSON output: times as ISO strings, with its status and the age of its last beat. */
function jsonOf(record: WorkerRecord, now: number) {
  return {
    ...record,
    status: workerStatus(record, now),
    startedAt: iso(record.startedAt),
    lastBeat: iso(record.lastBeat),
    lastBeatAgeMs: now - record.lastBeat,
    running: record.running.map((m) => ({ ...m, startedAt: iso(m.startedAt), elapsedMs: now - m.startedAt })),
  };
}

/** Lists the workers (or their running messages), latest beat first. Exits 0, listing none or many. */
export async function workersCommand(session: Session, options: WorkersOptions, out: Output): Promise<number> {
  const records = await readRegistry(session, options.store);
  const now = Date.now();
  if (options.running) {
    const rows = records.flatMap((r) => r.running.map((m) => ({ ...m, worker: r.id, host: r.host, pid: r.pid, elapsedMs: now - m.startedAt })));
    rows.sort((a, b) => b.elapsedMs - a.elapsedMs);
    if (options.json) {
      out.json({ broker: session.label, running: rows.map((m) => ({ ...m, startedAt: iso(m.startedAt) })) });
      return ExitCode.OK;
    }
    out.line(`Broker: ${session.label}`);
    out.line();
    if (rows.length === 0) {
      out.line("No running messages.");
      return ExitCode.OK;
    }
    const right = { align: "right" } as const;
    out.line(table([{ header: "MESSAGE" }, { header: "ACTOR" }, { header: "QUEUE" }, { header: "HOST" }, { header: "PID", ...right }, { header: "ELAPSED" }],
      rows.map((m) => [m.id, m.actor, m.queue, m.host, String(m.pid), relative(m.startedAt, now).replace(/ ago$/, "")]), out.columns));
    return ExitCode.OK;
  }
  if (options.json) {
    out.json({ broker: session.label, workers: records.map((r) => jsonOf(r, now)) });
    return ExitCode.OK;
  }
  out.line(`Broker: ${session.label}`);
  out.line();
  if (records.length === 0) {
    out.line("No workers: none has published a record (or all records expired).");
    return ExitCode.OK;
  }
  const right = { align: "right" } as const;
  const rows = records.map((r) => [
    r.host,
    String(r.pid),
    workerStatus(r, now),
    relative(r.lastBeat, now),
    `${r.runningCount}/${r.concurrency}`,
    String(r.counters.processed),
    String(r.counters.failed),
    String(r.counters.retried),
    mb(r.rss),
    `${r.cpu}%`,
    `${r.eventLoopLag} ms`,
    formatTime(r.startedAt),
    r.queues.join(","),
  ]);
  out.line(
    table(
      [{ header: "HOST" }, { header: "PID", ...right }, { header: "STATUS" }, { header: "LAST BEAT" }, { header: "RUNNING", ...right }, { header: "PROCESSED", ...right },
        { header: "FAILED", ...right }, { header: "RETRIED", ...right }, { header: "RSS", ...right }, { header: "CPU", ...right }, { header: "LAG", ...right },
        { header: "STARTED" }, { header: "QUEUES" }],
      rows,
      out.columns,
    ),
  );
  return ExitCode.OK;
}
