// The actors the bench's dramats worker processes run, imported by the dramats CLI.
// `bench_noop` does nothing but count (reporting every REPORT_EVERY messages, with the
// machine-wide monotonic clock, or its own count where several processes share the queue);
// `bench_started` reports the moment it starts, for latency.
import { isMainThread } from "node:worker_threads";
import { actor } from "../../lib/index.ts";
import { OwnCounter, report, REPORT_EVERY, REPORT_OWN } from "./report.ts";

const queueName = process.env.BENCH_QUEUE ?? "bench_noop";
let count = 0;
const own = REPORT_OWN ? new OwnCounter() : undefined;

export const noop = actor(
  function bench_noop(_n: number): void {
    if (own) own.add();
    else if (++count % REPORT_EVERY === 0) report(`count ${count} ${process.hrtime.bigint()}`);
  },
  { queueName },
);

export const started = actor(
  function bench_started(seq: number): void {
    report(`start ${seq} ${process.hrtime.bigint()}`);
  },
  { queueName },
);

// Pool threads (if any) import this module too; only the process itself announces its pid.
if (isMainThread) report(`pid ${process.pid}`);

