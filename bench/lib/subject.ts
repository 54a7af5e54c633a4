// The shape of one throughput subject (a dramats broker, BullMQ, or a raw client loop) and
// the bookkeeping they share.
import { MESSAGES } from "./config.ts";

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
  /** The pid of the worker process, for subjects that have one. */
  readonly workerPid?: number;
  /** RSS (MB) of the worker process right after it booted, before any message. */
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
