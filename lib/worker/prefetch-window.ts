/**
 * How many deliveries each of a worker's consumers may hold, running ones included.
 *
 * Pinned when the user gives a prefetch. Otherwise adaptive: enough to keep every slot busy
 * plus about WORK_MS of expected work, from a moving average of how long messages take. Quick
 * messages then come in large batches (fewer round trips and acks per message) while slow ones
 * are not hoarded: a worker holds little more than it runs.
 *
 * The estimate decays where the worker reads it, not only when a message finishes, so that a
 * change of workload shows at once:
 * - while messages run and none has finished for longer than the average, that wait is the
 *   estimate (slow messages after quick ones shrink the window before the first one finishes);
 * - after an idle spell of IDLE_RESET_MS the estimate is forgotten and the window is back at its
 *   floor (a burst of quick messages does not leave a window that swallows the next slow batch).
 * A worker whose window shrank below what it holds gives the excess back (see Worker).
 */
export class PrefetchWindow {
  /** The pinned prefetch, or the adaptive window's floor: 2 × concurrency. */
  readonly floor: number;
  readonly adaptive: boolean;
  readonly #concurrency: number;
  /** Moving average of a message's run time (ms); undefined until measured (or after idling). */
  #averageMs: number | undefined;
  /** performance.now() of the last finish, or of the last time the worker went from idle to busy. */
  #lastFinish = 0;

  constructor(options: { concurrency: number; prefetch?: number | undefined }) {
    this.#concurrency = options.concurrency;
    this.adaptive = options.prefetch === undefined;
    this.floor = options.prefetch ?? options.concurrency * 2;
  }

  /**
   * The window now. `running` is how many of the worker's messages are running: with none,
   * an estimate older than IDLE_RESET_MS is dropped.
   */
  size(running: number, now = performance.now()): number {
    if (!this.adaptive) return this.floor;
    let average = this.#averageMs;
    if (average === undefined) return this.floor;
    const since = now - this.#lastFinish;
    if (running === 0) {
      if (since > IDLE_RESET_MS) {
        this.#averageMs = undefined;
        return this.floor;
      }
    } else if (since > average) {
      average = since;
    }
    const window = Math.ceil(this.#concurrency * (1 + WORK_MS / Math.max(average, MIN_AVERAGE_MS)));
    return Math.max(this.floor, Math.min(window, MAX_ADAPTIVE));
  }

  /**
   * A message started; `running` counts it. Into an idle worker, time without finishes counts
   * from here (not from the last finish before the idle spell).
   */
  started(running: number, now?: number): void {
    // Read the clock only when it matters: this runs for every message.
    if (running === 1 && this.adaptive) this.#lastFinish = now ?? performance.now();
  }

  /** A message finished after running `ms` (0 for one that did not run). Only an adaptive window needs this. */
  finished(ms: number, now = performance.now()): void {
    this.#lastFinish = now;
    const average = this.#averageMs;
    this.#averageMs = average === undefined ? ms : average + (ms - average) * SMOOTHING;
  }
}

/** The adaptive window holds about this many ms of expected work beyond the running messages. */
export const WORK_MS = 10;
/** The adaptive window never grows past this (nor shrinks below 2 × concurrency). */
export const MAX_ADAPTIVE = 1024;
/** An idle spell this long (ms) forgets the measured run time. */
export const IDLE_RESET_MS = 100;
/** Weight of each new run time in the moving average. */
const SMOOTHING = 0.05;
/** Run times below this (ms) count as this: the window is capped long before, and no division by 0. */
const MIN_AVERAGE_MS = 0.001;
