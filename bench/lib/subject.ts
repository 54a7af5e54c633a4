// The shape of one throughput subject (a dramats broker, BullMQ, or a raw client loop) and
// the bookkeeping they share, down to the measured round of subjects that can pause a worker.
import { MESSAGES } from "./config.ts";
import { cpuMicros, nowNs, peakRssMb, resetPeakRss, rssMb, summed } from "./proc.ts";

/** A message-moving setup measured round after round. */
export interface ThroughputSubject {
  /** e.g. "dramats redis c50" */
  readonly name: string;
  /** Starts processes and connections, then runs a warm-up round. */
  setup(): Promise<void>;
  /** Enqueues MESSAGES, drains them, and returns this round's figures by metric name. */
  round(index: number): Promise<Record<string, number>>;
  /** Stops processes and deletes what the subject created on the servers. */
  teardown(): Promise<void>;
  /** The pids of the worker processes, for subjects that have them (their CPU and RSS add up). */
  readonly workerPids?: readonly number[];
  /** RSS (MB) of the worker processes right after they booted, before any message. */
  readonly bootRss?: number;
}

/** How a round enqueues: concurrent single sends, or bulk sends. Rounds alternate. */
export type EnqueueMode = "single" | "bulk";

export function modeOf(round: number): EnqueueMode {
  return round % 2 === 0 ? "single" : "bulk";
}

/** Sends in flight at once (single mode), and messages per bulk call (bulk mode). */
export const WINDOW = 1_000;
/** Messages of the warm-up round (not measured). */
export const WARMUP = Math.min(MESSAGES, 5_000);

export function seconds(fromNs: bigint, toNs: bigint): number {
  return Number(toNs - fromNs) / 1e9;
}

/** Runs `send(i)` for 0..count-1 in windows of WINDOW concurrent calls. */
export async function inWindows(count: number, send: (i: number) => Promise<unknown>): Promise<void> {
  for (let base = 0; base < count; base += WINDOW) {
    const batch: Promise<unknown>[] = [];
    for (let i = base; i < Math.min(count, base + WINDOW); i++) batch.push(send(i));
    await Promise.all(batch);
  }
}

/** Runs `sendBulk(from, to)` for consecutive chunks of WINDOW, one after another. */
export async function inChunks(count: number, sendBulk: (from: number, to: number) => Promise<unknown>): Promise<void> {
  for (let base = 0; base < count; base += WINDOW) await sendBulk(base, Math.min(count, base + WINDOW));
}

/** How a subject sends: one message (argument `i`), or messages `from`..`to`-1 in one call. */
export interface Sender {
  send(i: number): Promise<unknown>;
  sendMany(from: number, to: number): Promise<unknown>;
}

/** Enqueues `count` messages as a round of `mode` does: single sends in windows, or bulk sends in chunks. */
export function enqueue(sender: Sender, mode: EnqueueMode, count: number): Promise<void> {
  return mode === "single" ? inWindows(count, (i) => sender.send(i)) : inChunks(count, (from, to) => sender.sendMany(from, to));
}

/** What a measured round needs of a subject whose worker can be held still while it enqueues. */
export interface Drainable extends Sender {
  /** The processes running the actors: their CPU and RSS are summed. */
  readonly pids: readonly number[];
  /** Holds the worker (SIGSTOP, or pausing an in-process Worker), so enqueue and drain are timed apart. */
  freeze(): void | Promise<void>;
  thaw(): void;
  /** Waits before the worker is thawed, after the enqueue (a polling worker's interval: pg-boss). */
  beforeThaw?(): Promise<void>;
  /** Resolves with the monotonic clock (ns) once every message sent so far has run; called before thaw. */
  drained(): Promise<bigint>;
  /** CPU time (µs) of the server so far, where the bench can read it (Redis). */
  serverCpu?(): Promise<number>;
}

/**
 * One round: freeze the worker, enqueue MESSAGES (timed), thaw it and time the drain, reading
 * the worker's CPU and RSS (and the server's CPU) around it. Returns the round's figures.
 */
export async function measureRound(subject: Drainable, mode: EnqueueMode, messages = MESSAGES): Promise<Record<string, number>> {
  const { pids } = subject;
  await subject.freeze();
  const rest = summed(pids, rssMb);
  for (const pid of pids) resetPeakRss(pid);
  const t0 = nowNs();
  await enqueue(subject, mode, messages);
  const t1 = nowNs();
  await subject.beforeThaw?.();
  const cpu0 = summed(pids, cpuMicros);
  const server0 = await subject.serverCpu?.();
  const drained = subject.drained();
  const start = nowNs();
  subject.thaw();
  const end = await drained;
  const cpu1 = summed(pids, cpuMicros);
  const server1 = await subject.serverCpu?.();
  return {
    [`enqueue_${mode}`]: messages / seconds(t0, t1),
    drain: messages / seconds(start, end),
    worker_cpu_us: (cpu1 - cpu0) / messages,
    ...(server0 === undefined || server1 === undefined ? {} : { redis_cpu_us: (server1 - server0) / messages }),
    rss_rest_mb: rest,
    rss_peak_mb: summed(pids, peakRssMb),
  };
}
