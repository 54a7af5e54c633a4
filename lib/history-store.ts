/**
 * The fleet history store: per-minute buckets of counts that worker processes roll up (the
 * FleetHistory middleware) and the dashboard reads back for its charts. A bucket is one worker
 * process's minute: per (queue, actor) pair, messages processed and failed and two duration
 * histograms (wait and run, lib/duration-histogram.ts), kept 25 h. Each broker with a store
 * offers one (Redis: a hash per minute; SQLite: a table; the stub: a map); RabbitMQ has none,
 * so the fleet is given a store by URL (`--store`). Size is bounded: at most
 * {@link MAX_PAIRS} pairs per bucket (the rest summed under {@link OTHER}), one bucket per
 * worker process and minute, nothing written per message.
 */
import type { Broker } from "./broker.ts";
import { addSparse, HISTOGRAM_BUCKETS, toSparse } from "./duration-histogram.ts";
import { InvalidOptions } from "./errors.ts";
import { getLogger } from "./logging.ts";

/** Bucket width (ms). */
export const HISTORY_STEP = 60_000;
/** How long buckets are kept (ms): 25 h, so a 24 h chart is always full. */
export const HISTORY_TTL = 25 * 3_600_000;
/** Minutes one read may cover at most (the TTL's). */
export const MAX_READ_MINUTES = HISTORY_TTL / HISTORY_STEP;
/** (queue, actor) pairs per bucket at most; the least busy ones beyond are summed under {@link OTHER}. */
export const MAX_PAIRS = 200;
/** Queue and actor name of the pair that sums the pairs past {@link MAX_PAIRS}. */
export const OTHER = "(other)";

/** One (queue, actor) pair's minute in one worker process. */
export interface PairCounts {
  /** The queue. */ queue: string;
  /** The actor. */ actor: string;
  /** Runs finished (failed ones included; cancellations excluded), plus messages a middleware ended unrun (AgeLimit). */
  processed: number;
  /** Runs that ended in an error (cancellations excluded). */
  failed: number;
  /** Wait (enqueue or eta to start) histogram, sparse: `[bucket, count, ...]` (lib/duration-histogram.ts). */
  wait: number[];
  /** Run time histogram, sparse. */
  run: number[];
}

/** One worker process's minute. */
export interface HistoryBucket {
  /** Its pairs (at most {@link MAX_PAIRS} once stored). */ pairs: PairCounts[];
}

/** A bucket as read back. */
export interface StoredBucket {
  /** Start of the minute (epoch ms, a multiple of 60,000). */ minute: number;
  /** The worker process that wrote it. */ workerId: string;
  /** Its counts. */ bucket: HistoryBucket;
}

/** A store for history buckets; each broker with one implements it in its own file. */
export interface HistoryStore {
  /**
   * Stores `bucket` as worker `workerId`'s minute `minute` (replacing what it wrote for that
   * minute before), kept {@link HISTORY_TTL}; pairs past {@link MAX_PAIRS} are summed.
   * @throws InvalidOptions when `minute` is not the start of a minute
   */
  write(minute: number, workerId: string, bucket: HistoryBucket): Promise<void>;
  /**
   * Every stored bucket of the minutes `fromMinute` to `toMinute` (both included), oldest minute
   * first; corrupt or foreign ones are skipped (debug log).
   * @throws InvalidOptions for minutes that are not minute starts, or a range over 1500 minutes
   */
  read(fromMinute: number, toMinute: number): Promise<StoredBucket[]>;
}

/** A broker that offers a history store. */
export interface HasHistoryStore {
  /** Where worker processes roll up their per-minute counts. */ readonly historyStore: HistoryStore;
}

/** The broker's own history store, or undefined for a broker without a store (RabbitMQ). */
export function historyStoreOf(broker: Broker): HistoryStore | undefined {
  const store = (broker as Partial<HasHistoryStore>).historyStore;
  return store !== undefined && typeof store.read === "function" ? store : undefined;
}

/** @throws InvalidOptions unless `minute` is the start of a minute (epoch ms). */
export function checkMinute(minute: number, name = "minute"): void {
  if (!Number.isSafeInteger(minute) || minute < 0 || minute % HISTORY_STEP !== 0) {
    throw new InvalidOptions(`${name} must be the start of a minute (epoch ms, a multiple of 60000), got ${minute}`);
  }
}

/** The minutes from `fromMinute` to `toMinute`, checked. @throws InvalidOptions */
export function minutesBetween(fromMinute: number, toMinute: number): number[] {
  checkMinute(fromMinute, "fromMinute");
  checkMinute(toMinute, "toMinute");
  const count = (toMinute - fromMinute) / HISTORY_STEP + 1;
  if (count > MAX_READ_MINUTES) throw new InvalidOptions(`A history read covers at most ${MAX_READ_MINUTES} minutes, got ${count}`);
  const minutes: number[] = [];
  for (let m = fromMinute; m <= toMinute; m += HISTORY_STEP) minutes.push(m);
  return minutes;
}

/**
 * `pairs` with at most `max`: the busiest `max - 1` kept, the rest (and any pair already named
 * {@link OTHER}) summed into one (OTHER, OTHER) pair.
 */
export function capPairs(pairs: readonly PairCounts[], max: number = MAX_PAIRS): PairCounts[] {
  if (pairs.length <= max) return [...pairs];
  const sorted = [...pairs].sort((a, b) => b.processed - a.processed);
  const kept: PairCounts[] = [];
  const wait = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
  const run = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
  const other: PairCounts = { queue: OTHER, actor: OTHER, processed: 0, failed: 0, wait: [], run: [] };
  for (const pair of sorted) {
    if (kept.length < max - 1 && !(pair.queue === OTHER && pair.actor === OTHER)) {
      kept.push(pair);
      continue;
    }
    other.processed += pair.processed;
    other.failed += pair.failed;
    addSparse(wait, pair.wait);
    addSparse(run, pair.run);
  }
  other.wait = toSparse(wait);
  other.run = toSparse(run);
  kept.push(other);
  return kept;
}

/** The stored text of a bucket: `{"v":1,"p":[[queue, actor, processed, failed, wait, run], ...]}`, capped. */
export function encodeHistoryBucket(bucket: HistoryBucket): string {
  return JSON.stringify({ v: 1, p: capPairs(bucket.pairs).map((p) => [p.queue, p.actor, p.processed, p.failed, p.wait, p.run]) });
}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;
const isSparse = (v: unknown): v is number[] => Array.isArray(v) && v.length % 2 === 0 && v.every(isCount);

/** A stored bucket, checked; undefined (debug log naming `where`) for garbage or another format. */
export function parseHistoryBucket(text: string, where = "the history store"): HistoryBucket | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return skipped(where, "not JSON");
  }
  const v = value as { v?: unknown; p?: unknown } | null;
  if (typeof v !== "object" || v === null || v.v !== 1 || !Array.isArray(v.p)) return skipped(where, "not a version 1 bucket");
  const pairs: PairCounts[] = [];
  for (const row of v.p as unknown[]) {
    if (!Array.isArray(row) || row.length !== 6) return skipped(where, "a malformed pair");
    const [queue, actor, processed, failed, wait, run] = row as unknown[];
    if (typeof queue !== "string" || typeof actor !== "string" || !isCount(processed) || !isCount(failed) || !isSparse(wait) || !isSparse(run)) {
      return skipped(where, "a mistyped pair");
    }
    pairs.push({ queue, actor, processed, failed, wait, run });
  }
  return { pairs };
}

function skipped(where: string, why: string): undefined {
  getLogger("history").debug({ where, why }, "Skipped a corrupt or foreign history bucket");
  return undefined;
}

/** The stub broker's history store: encoded buckets in a map per minute, pruned past the TTL on write. */
export class MemoryHistoryStore implements HistoryStore {
  readonly #minutes = new Map<number, Map<string, string>>();

  async write(minute: number, workerId: string, bucket: HistoryBucket): Promise<void> {
    checkMinute(minute);
    this.writeText(minute, workerId, encodeHistoryBucket(bucket));
  }

  /** Stores `text` as it is, as a foreign or broken writer would (for specs). */
  writeText(minute: number, workerId: string, text: string): void {
    const horizon = Date.now() - HISTORY_TTL;
    for (const m of this.#minutes.keys()) if (m < horizon) this.#minutes.delete(m);
    let workers = this.#minutes.get(minute);
    if (workers === undefined) this.#minutes.set(minute, (workers = new Map()));
    workers.set(workerId, text);
  }

  async read(fromMinute: number, toMinute: number): Promise<StoredBucket[]> {
    const horizon = Date.now() - HISTORY_TTL;
    const out: StoredBucket[] = [];
    for (const minute of minutesBetween(fromMinute, toMinute)) {
      if (minute < horizon) continue;
      for (const [workerId, text] of this.#minutes.get(minute) ?? []) {
        const bucket = parseHistoryBucket(text, `memory history ${minute}/${workerId}`);
        if (bucket !== undefined) out.push({ minute, workerId, bucket });
      }
    }
    return out;
  }
}
