/**
 * The shortest recovery timeout a broker URL may set (ms). Far below any sane setting: its job is
 * to catch a value written in seconds (`heartbeat_timeout=60`), which would declare live
 * consumers dead between two heartbeats and run their messages twice.
 */
export const MIN_URL_RECOVERY_TIMEOUT = 1_000;

/**
 * A duration in milliseconds from a broker URL's query (`?heartbeat_timeout=60000`), as Dramatiq
 * spells these settings; undefined when the URL does not set it.
 * @throws RangeError unless it is a whole number of at least `min` ms.
 */
export function urlDuration(params: URLSearchParams, name: string, min = MIN_URL_RECOVERY_TIMEOUT): number | undefined {
  const text = params.get(name);
  if (text === null) return undefined;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`URL parameter ${name} must be a whole number of milliseconds, at least ${min}, got ${JSON.stringify(text)}`);
  }
  return value;
}
