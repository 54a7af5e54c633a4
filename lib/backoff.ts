/**
 * Dramatiq's exponential backoff with jitter: `min(minBackoff * 2^attempt, maxBackoff)`,
 * then a uniform pick in its upper half, so retries of many messages spread out.
 *
 * @param attempt 1 for the first retry
 * @returns milliseconds to wait
 */
export function computeBackoff(attempt: number, minBackoff: number, maxBackoff: number, jitter = true): number {
  const exponent = Math.min(Math.max(attempt, 0), 32);
  const backoff = Math.min(minBackoff * 2 ** exponent, maxBackoff);
  if (!jitter) return backoff;
  const half = backoff / 2;
  return Math.floor(half + Math.random() * half);
}
