// A BullMQ worker process doing what bench/workers/dramats-actors.ts does, for the baseline:
// `noop` jobs count, `start` jobs report when they start.
// Env: REDIS_URL, BENCH_QUEUE, BENCH_PREFIX, BENCH_CONCURRENCY.
import { Worker } from "bullmq";
import { bullConnection } from "../lib/bullmq.ts";
import { report, REPORT_EVERY } from "./report.ts";

let count = 0;
const worker = new Worker(
  process.env.BENCH_QUEUE ?? "bench_noop",
  async (job) => {
    if (job.name === "start") report(`start ${job.data as number} ${process.hrtime.bigint()}`);
    else if (++count % REPORT_EVERY === 0) report(`count ${count} ${process.hrtime.bigint()}`);
  },
  {
    connection: bullConnection(process.env.REDIS_URL ?? "redis://127.0.0.1:6379"),
    prefix: process.env.BENCH_PREFIX ?? "bull",
    concurrency: Number(process.env.BENCH_CONCURRENCY ?? 1),
    removeOnComplete: { count: 0 },
    removeOnFail: { count: 0 },
  },
);
worker.on("error", (error) => process.stderr.write(`bullmq worker error: ${error.message}\n`));
await worker.waitUntilReady();
report(`pid ${process.pid}`);

const stop = () => void worker.close().then(() => process.exit(0), () => process.exit(1));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
