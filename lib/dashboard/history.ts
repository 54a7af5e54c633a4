/**
 * Reading the fleet history (lib/history-store.ts) for the dashboard: per-minute points merged
 * over worker processes and (queue, actor) pairs, and the overview's per-queue sparklines. The
 * window is the last `minutes` finished minutes (the current minute is still being counted by
 * the workers and written when it ends), oldest first.
 */
import { HISTOGRAM_BUCKETS, addSparse, percentile } from "../duration-histogram.ts";
import { InvalidOptions } from "../errors.ts";
import { HISTORY_STEP, type HistoryStore, type StoredBucket } from "../history-store.ts";
import type { History, HistoryPoint, Percentiles } from "./api-types.ts";

/** Options of {@link readHistory}. */
export interface ReadHistoryOptions {
  /** Minutes covered (the API offers 60 and 1440; any 1..1440 is read). */
  minutes: number;
  /** Only this queue's pairs. */
  queue?: string | undefined;
  /** Only this actor's pairs. */
  actor?: string | undefined;
  /** The time to read at (epoch ms). @defaultValue Date.now() */
  now?: number;
}

/** Per-minute counts of one queue for the overview, oldest first. */
export interface Sparkline {
  /** Processed per minute. */ processed: number[];
  /** Failed per minute. */ failed: number[];
}

/** The start of the first and last minute of a window of `minutes` finished minutes at `now`. */
export function historyWindow(minutes: number, now: number): { from: number; to: number } {
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) {
    throw new InvalidOptions(`minutes must be an integer from 1 to 1440, got ${minutes}`);
  }
  const to = now - (now % HISTORY_STEP) - HISTORY_STEP;
  return { from: to - (minutes - 1) * HISTORY_STEP, to };
}

const percentiles = (counts: Float64Array): Percentiles => ({ p50: percentile(counts, 0.5), p95: percentile(counts, 0.95), p99: percentile(counts, 0.99) });

/**
 * The fleet's history over the last `minutes` finished minutes, or one queue's / actor's: one
 * point per minute, oldest first, counts summed over worker processes and pairs, percentiles
 * from the merged histograms (zero counts and null percentiles for minutes without data).
 * `queues` lists every queue with data in the window; `actors` those of `queue` when given,
 * else all. One store read.
 * @throws InvalidOptions for `minutes` outside 1..1440
 */
export async function readHistory(store: HistoryStore, options: ReadHistoryOptions): Promise<History> {
  const { from, to } = historyWindow(options.minutes, options.now ?? Date.now());
  return historyFrom(await store.read(from, to), { ...options, from });
}

/**
 * {@link readHistory} over buckets already read (`from`: the window's first minute), so one
 * read can serve several views.
 */
export function historyFrom(buckets: readonly StoredBucket[], options: ReadHistoryOptions & { from: number }): History {
  const { minutes, from } = options;
  const queue = options.queue ?? null;
  const actor = options.actor ?? null;
  const processed = new Array<number>(minutes).fill(0);
  const failed = new Array<number>(minutes).fill(0);
  const wait: (Float64Array | undefined)[] = new Array(minutes).fill(undefined);
  const run: (Float64Array | undefined)[] = new Array(minutes).fill(undefined);
  const queues = new Set<string>();
  const actors = new Set<string>();
  for (const { minute, bucket } of buckets) {
    const i = (minute - from) / HISTORY_STEP;
    if (!(i >= 0 && i < minutes)) continue;
    for (const pair of bucket.pairs) {
      queues.add(pair.queue);
      if (queue !== null && pair.queue !== queue) continue;
      actors.add(pair.actor);
      if (actor !== null && pair.actor !== actor) continue;
      processed[i]! += pair.processed;
      failed[i]! += pair.failed;
      addSparse((wait[i] ??= new Float64Array(HISTOGRAM_BUCKETS)), pair.wait);
      addSparse((run[i] ??= new Float64Array(HISTOGRAM_BUCKETS)), pair.run);
    }
  }
  const none: Percentiles = { p50: null, p95: null, p99: null };
  const points: HistoryPoint[] = processed.map((count, i) => ({
    t: from + i * HISTORY_STEP,
    processed: count,
    failed: failed[i]!,
    wait: wait[i] === undefined ? { ...none } : percentiles(wait[i]),
    run: run[i] === undefined ? { ...none } : percentiles(run[i]),
  }));
  return { minutes, step: HISTORY_STEP, queue, actor, points, queues: [...queues].sort(), actors: [...actors].sort() };
}

/**
 * Processed and failed per minute of each queue with data over the last 60 finished minutes
 * (60 numbers each, oldest first), for the overview's `QueueSummary.processed/failed`; a queue
 * absent from the map had none (use 60 zeros, or `[]` without a history store). One store read.
 */
export async function sparklines(store: HistoryStore, now: number = Date.now()): Promise<Map<string, Sparkline>> {
  const minutes = 60;
  const { from, to } = historyWindow(minutes, now);
  const out = new Map<string, Sparkline>();
  for (const { minute, bucket } of await store.read(from, to)) {
    const i = (minute - from) / HISTORY_STEP;
    if (!(i >= 0 && i < minutes)) continue;
    for (const pair of bucket.pairs) {
      let line = out.get(pair.queue);
      if (line === undefined) out.set(pair.queue, (line = { processed: new Array<number>(minutes).fill(0), failed: new Array<number>(minutes).fill(0) }));
      line.processed[i]! += pair.processed;
      line.failed[i]! += pair.failed;
    }
  }
  return out;
}
