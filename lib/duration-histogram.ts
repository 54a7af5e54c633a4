/**
 * A fixed log-scale histogram of durations (ms) for the fleet history: 40 buckets, the same in
 * every process, so counts from any number of workers and minutes merge by adding them and
 * percentiles are read from the sum. Bucket 0 holds 0..1 ms; bucket i (1..38) holds
 * (1.5^(i-1), 1.5^i] ms, up to 82 min (1.5^38 ms); bucket 39 holds anything longer. A
 * percentile is interpolated (geometrically) inside its bucket, so its error is below that
 * bucket's width: at most half the true value in the worst case, usually far less.
 */

/** Buckets per histogram. */
export const HISTOGRAM_BUCKETS = 40;
/** Ratio of a bucket's upper bound to its lower one. */
export const BUCKET_RATIO = 1.5;
const LOG_RATIO = Math.log(BUCKET_RATIO);
const LAST = HISTOGRAM_BUCKETS - 1;

/** Upper bound (ms) of bucket `i`; Infinity for the last. */
export function bucketUpper(i: number): number {
  return i >= LAST ? Infinity : BUCKET_RATIO ** i;
}

/** Lower bound (ms) of bucket `i` (0 for bucket 0). */
export function bucketLower(i: number): number {
  return i <= 0 ? 0 : BUCKET_RATIO ** (i - 1);
}

/** The bucket of `ms`: 0 for anything up to 1 ms (and for NaN or negatives: a clock ahead of ours). */
export function bucketOf(ms: number): number {
  if (!(ms > 1)) return 0;
  const i = Math.ceil(Math.log(ms) / LOG_RATIO);
  return i > LAST ? LAST : i;
}

/** Adds `from` into `into` (same length). */
export function mergeCounts(into: Float64Array | number[], from: ArrayLike<number>): void {
  for (let i = 0; i < from.length; i++) into[i]! += from[i]!;
}

/**
 * The `q` quantile (0..1) of the durations counted, in ms rounded to 0.01; null when nothing was
 * counted. Values past the last finite bound read as that bound (82 min).
 */
export function percentile(counts: ArrayLike<number>, q: number): number | null {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (n === 0) continue;
    if (seen + n >= rank) {
      const fraction = (rank - seen) / n;
      let value: number;
      if (i === 0) value = fraction;
      else if (i >= LAST) value = bucketLower(LAST);
      else value = bucketLower(i) * BUCKET_RATIO ** fraction;
      return Math.round(value * 100) / 100;
    }
    seen += n;
  }
  return Math.round(bucketLower(LAST) * 100) / 100;
}

/** Sparse form for storage: `[bucket, count, bucket, count, ...]` for the non-empty buckets. */
export function toSparse(counts: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < counts.length; i++) if (counts[i]! > 0) out.push(i, counts[i]!);
  return out;
}

/** Adds a sparse histogram into dense counts; false (nothing added) when `sparse` is malformed. */
export function addSparse(into: Float64Array | number[], sparse: unknown): boolean {
  if (!Array.isArray(sparse) || sparse.length % 2 !== 0) return false;
  for (let i = 0; i < sparse.length; i += 2) {
    const at = sparse[i] as unknown;
    const n = sparse[i + 1] as unknown;
    if (!Number.isInteger(at) || (at as number) < 0 || (at as number) > LAST || typeof n !== "number" || !(n >= 0)) return false;
  }
  for (let i = 0; i < sparse.length; i += 2) into[sparse[i] as number]! += sparse[i + 1] as number;
  return true;
}
