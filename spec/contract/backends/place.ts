/**
 * The backend contract's fixture: a place (a Redis namespace, a SQLite file, ...) where every
 * backend kind can be opened several times, each instance as another process would open it.
 * A spec file per store (`spec/contract/backends-<store>.spec.ts`) gives a factory and calls
 * `backendContract`; a new store (Postgres) adds one such file and nothing else.
 */
import type { CancellationBackend, RateLimiterBackend, ResultBackend } from "../../../lib/index.ts";

export interface BackendPlace {
  /** A cancellation backend on the place: each call another process's view of the same store. */
  cancellation(): CancellationBackend;
  /** A rate-limiter backend on the place: each call another process's view of the same store. */
  rateLimiter(): RateLimiterBackend;
  /** A result backend on the place: each call another process's view of the same store. */
  results(): ResultBackend;
  /**
   * False when the store lives in one instance's memory (the stub): each call then returns the
   * same instance, and the cross-instance cases check that instance alone.
   */
  readonly shared: boolean;
  /** Closes every instance opened and deletes what the place created. */
  close(): Promise<void>;
}

/** Opens a fresh, private place. */
export type BackendFactory = () => Promise<BackendPlace>;

/** Polls `check` every 5 ms until it holds; rejects after `timeout` ms naming `what`. */
export async function until(check: () => boolean | Promise<boolean>, timeout: number, what: string): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Sleeps `ms`: only where the contract is about time passing (a TTL, a window). */
export const elapse = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
