/**
 * Waiting for another process's write lock without blocking the event loop.
 *
 * SQLite's own busy handler sleeps inside the call (1, 2, 5, 10 ms...), which would freeze the
 * whole process while another process commits; and its first sleep is already a millisecond,
 * twenty times a typical transaction here. So the connection runs with `busy_timeout = 0`: a
 * locked write fails at once with SQLITE_BUSY before changing anything, and is tried again
 * from the event loop: on the next turns at first, then after 1, 2, 4... ms.
 */

/** True for SQLite's "database is locked": another connection holds the write lock. */
export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_BUSY");
}

/** Attempts that retry on the next turn of the event loop before timers take over. */
const IMMEDIATE_ATTEMPTS = 3;
const MAX_SLEEP = 16;

/** Waits before retry number `attempt` (0-based), with jitter so processes do not retry in step. */
export function backoff(attempt: number): Promise<void> {
  if (attempt < IMMEDIATE_ATTEMPTS) return new Promise((resolve) => setImmediate(resolve));
  const ms = Math.min(MAX_SLEEP, 2 ** (attempt - IMMEDIATE_ATTEMPTS)) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `operation` (synchronous, all-or-nothing), again while it fails with SQLITE_BUSY, for up
 * to `budget` ms; then lets the last error through.
 */
export async function retryWhileBusy<T>(operation: () => T, budget: number): Promise<T> {
  const deadline = Date.now() + budget;
  for (let attempt = 0; ; attempt++) {
    try {
      return operation();
    } catch (error) {
      if (!isBusy(error) || Date.now() >= deadline) throw error;
    }
    await backoff(attempt);
  }
}

/**
 * The synchronous fallback, for the few calls that cannot wait (declaring a queue): reads only
 * meet a lock while another process recovers the WAL after a crash, which takes milliseconds.
 */
export function retryWhileBusySync<T>(operation: () => T, budget: number): T {
  const deadline = Date.now() + budget;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      return operation();
    } catch (error) {
      if (!isBusy(error) || Date.now() >= deadline) throw error;
    }
    Atomics.wait(pause, 0, 0, 1);
  }
}
