/**
 * The worker registry: where each worker process publishes a small record of its state every
 * few seconds (`dramats workers`, `dramats health` and the dashboard read it). A broker with a
 * store of its own offers one (Redis: a key per worker and a sorted set by last beat; SQLite: a
 * table; the stub: a map); RabbitMQ has none, so the fleet is given a store by URL (`--store`).
 */
import type { Broker } from "./broker.ts";
import { getLogger } from "./logging.ts";

/** A message a worker process is running now. */
export interface RunningMessage {
  /** The message id. */ id: string;
  /** The actor's name. */ actor: string;
  /** The queue it came from. */ queue: string;
  /** Epoch ms when its processing started. */ startedAt: number;
}

/** One worker process's state, as published. Times are epoch ms. */
export interface WorkerRecord {
  /** The record format (readers skip other versions). */ version: 1;
  /** Unique per process run: `host/pid/start`. */ id: string;
  /** The machine's host name. */ host: string;
  /** The worker process's pid. */ pid: number;
  /** The supervisor's pid, or null for a process without one. */ supervisorPid: number | null;
  /** The dramats package version it runs. */ dramatsVersion: string;
  /** `process.version`. */ nodeVersion: string;
  /** Queues it consumes. */ queues: string[];
  /** Actors it may run at once. */ concurrency: number;
  /** When the process started publishing (its boot). */ startedAt: number;
  /** When this record was written. */ lastBeat: number;
  /** Its publishing period (ms): a record not renewed for 3 periods is dead. */ interval: number;
  /** How long the record is kept after its last beat (ms). */ ttl: number;
  /** "stopping" from the start of a graceful stop, "stopped" once it finished. */ state: "running" | "stopping" | "stopped";
  /** Resident set size, bytes. */ rss: number;
  /** CPU used over the last period, percent of one core. */ cpu: number;
  /** Event-loop delay over the last period (p99, ms beyond the sampling period). */ eventLoopLag: number;
  /** Since boot: messages settled, runs that failed (retried or not), failed runs retried. */
  counters: {
    /** Messages settled. */ processed: number;
    /** Runs that failed (an error; cancellations excluded). */ failed: number;
    /** Failed runs for which a retry was enqueued. */ retried: number;
  };
  /** The messages running now (at most 100). */ running: RunningMessage[];
  /** How many run now, listed or not. */ runningCount: number;
}

/** What readers make of a record at a given time. */
export type WorkerStatus = "live" | "stopping" | "stopped" | "dead";

/** Running messages listed per record at most: records stay small. */
export const MAX_RUNNING_LISTED = 100;
/** Periods without a beat after which a worker counts as dead. */
export const DEAD_AFTER_PERIODS = 3;

/** A store for worker records; each broker with one implements it in its own file. */
export interface WorkerRegistry {
  /** Stores `record` under `record.id` for `ttl` ms, replacing the previous one. */
  write(record: WorkerRecord, ttl: number): Promise<void>;
  /** Every unexpired record, latest beat first; corrupt or foreign ones are skipped (debug log). */
  list(): Promise<WorkerRecord[]>;
  /** Deletes the record `id`, if any. */
  remove(id: string): Promise<void>;
}

/** A broker that offers a worker registry. */
export interface HasWorkerRegistry {
  /** Where worker processes publish their records. */ readonly workerRegistry: WorkerRegistry;
}

/** The broker's own worker registry, or undefined for a broker without a store (RabbitMQ). */
export function workerRegistryOf(broker: Broker): WorkerRegistry | undefined {
  const registry = (broker as Partial<HasWorkerRegistry>).workerRegistry;
  return registry !== undefined && typeof registry.list === "function" ? registry : undefined;
}

/** Live, stopping, stopped or dead (no beat for 3 periods). */
export function workerStatus(record: WorkerRecord, now: number = Date.now()): WorkerStatus {
  if (record.state === "stopped") return "stopped";
  if (now - record.lastBeat > DEAD_AFTER_PERIODS * record.interval) return "dead";
  return record.state === "stopping" ? "stopping" : "live";
}

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isText = (v: unknown): v is string => typeof v === "string";
const STATES: ReadonlySet<unknown> = new Set(["running", "stopping", "stopped"]);

/**
 * A stored record, checked field by field; undefined (with a debug log naming `where`) for
 * anything else: garbage, another format version, a foreign value under the registry's key.
 */
export function parseWorkerRecord(text: string, where = "the worker registry"): WorkerRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return skipped(where, "not JSON");
  }
  if (typeof value !== "object" || value === null) return skipped(where, "not an object");
  const r = value as Record<string, unknown>;
  if (r.version !== 1) return skipped(where, `format version ${JSON.stringify(r.version)}`);
  const counters = r.counters as Record<string, unknown> | null | undefined;
  const ok =
    isText(r.id) && isText(r.host) && isInt(r.pid) && (r.supervisorPid === null || isInt(r.supervisorPid)) && isText(r.dramatsVersion) &&
    isText(r.nodeVersion) && Array.isArray(r.queues) && r.queues.every(isText) && isInt(r.concurrency) && isInt(r.startedAt) &&
    isInt(r.lastBeat) && isInt(r.interval) && r.interval > 0 && isInt(r.ttl) && STATES.has(r.state) && isInt(r.rss) && isInt(r.cpu) &&
    isInt(r.eventLoopLag) && typeof counters === "object" && counters !== null && isInt(counters.processed) && isInt(counters.failed) &&
    isInt(counters.retried) && Array.isArray(r.running) && isInt(r.runningCount);
  if (!ok) return skipped(where, "missing or mistyped fields");
  const running = (r.running as unknown[]).filter((m): m is RunningMessage => {
    const x = m as Record<string, unknown> | null;
    return typeof x === "object" && x !== null && isText(x.id) && isText(x.actor) && isText(x.queue) && isInt(x.startedAt);
  });
  return { ...(r as unknown as WorkerRecord), running };
}

function skipped(where: string, why: string): undefined {
  getLogger("registry").debug({ where, why }, "Skipped a corrupt or foreign worker record");
  return undefined;
}

/** Newest beat first. */
export function byLastBeat(a: WorkerRecord, b: WorkerRecord): number {
  return b.lastBeat - a.lastBeat;
}

/** The stub broker's registry: JSON strings in a map, each with an expiry. */
export class MemoryWorkerRegistry implements WorkerRegistry {
  readonly #entries = new Map<string, { text: string; expiresAt: number }>();

  async write(record: WorkerRecord, ttl: number): Promise<void> {
    this.writeText(record.id, JSON.stringify(record), ttl);
  }

  /** Stores `text` under `id` as it is, as a foreign or broken writer would (for specs). */
  writeText(id: string, text: string, ttl: number): void {
    this.#entries.set(id, { text, expiresAt: Date.now() + ttl });
  }

  async list(): Promise<WorkerRecord[]> {
    const now = Date.now();
    const records: WorkerRecord[] = [];
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAt <= now) {
        this.#entries.delete(id);
        continue;
      }
      const record = parseWorkerRecord(entry.text, `memory record ${id}`);
      if (record !== undefined) records.push(record);
    }
    return records.sort(byLastBeat);
  }

  async remove(id: string): Promise<void> {
    this.#entries.delete(id);
  }
}
