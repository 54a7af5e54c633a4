// How a bench worker process talks to the bench: one `BENCH ...` line on stdout per event.
// Stdout is a pipe to the bench (the dramats supervisor lets its workers inherit it); pipe
// writes are synchronous on Linux and lines this short are never interleaved with others.

/** Writes `BENCH <text>` as one line. */
export function report(text: string): void {
  process.stdout.write(`BENCH ${text}\n`);
}

/** How often (in messages) a worker reports its running count. */
export const REPORT_EVERY = Number(process.env.BENCH_REPORT_EVERY ?? 1000);
