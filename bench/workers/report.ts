// How a bench worker process talks to the bench: one `BENCH ...` line on stdout per event.
// Stdout is a pipe to the bench (the dramats supervisor lets its workers inherit it); pipe
// writes are synchronous on Linux and lines this short are never interleaved with others.

/** Writes `BENCH <text>` as one line. */
export function report(text: string): void {
  process.stdout.write(`BENCH ${text}\n`);
}

/** How often (in messages) a worker reports its running count. */
export const REPORT_EVERY = Number(process.env.BENCH_REPORT_EVERY ?? 1000);

/**
 * Set when several worker processes share a queue: none sees the total, and none stops at a
 * multiple of REPORT_EVERY, so each reports its own count with its pid, a few ms after messages.
 */
export const REPORT_OWN = process.env.BENCH_REPORT_OWN === "1";
/** Delay of an own-count report after the first message it covers (ms). */
const OWN_DELAY_MS = 5;

/**
 * Counts messages for REPORT_OWN: `count N NS PID`, at most every OWN_DELAY_MS and once after
 * the last message, where NS is the time of the latest message (not of the report).
 */
export class OwnCounter {
  #count = 0;
  #lastAt = 0n;
  #timer: NodeJS.Timeout | undefined;

  add(): void {
    this.#count++;
    this.#lastAt = process.hrtime.bigint();
    this.#timer ??= setTimeout(() => this.#flush(), OWN_DELAY_MS);
  }

  #flush(): void {
    this.#timer = undefined;
    report(`count ${this.#count} ${this.#lastAt} ${process.pid}`);
  }
}
