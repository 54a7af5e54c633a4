// A pg-boss process doing what bench/workers/dramats-actors.ts does, for the PostgreSQL baseline:
// jobs of queue BENCH_QUEUE count (each process its own count, bench/workers/report.ts), jobs with
// a `start` field report when they start. pg-boss 10 has no LISTEN: its `work()` waits the polling
// interval (at least 0.5 s) after every fetch, even one that found jobs, so it drains at most
// batchSize jobs per 0.5 s. To give the baseline its best case, this process runs pg-boss's own
// `fetch` and `complete` in a loop that fetches again at once while jobs come back, and waits 0.5 s
// (the minimum `pollingIntervalSeconds`) after an empty fetch: at most what `work()` would do.
// Batch = BENCH_CONCURRENCY: that many jobs fetched in one statement, run at once, completed in one
// call, as `work({ batchSize })` does. Env: DATABASE_URL, BENCH_SCHEMA, BENCH_QUEUE, BENCH_CONCURRENCY.
import { setTimeout as sleep } from "node:timers/promises";
import PgBoss from "pg-boss";
import { OwnCounter, report } from "./report.ts";

/** pg-boss's minimum polling interval (ms). */
const POLL_MS = 500;
const own = new OwnCounter();
const queue = process.env.BENCH_QUEUE ?? "bench_noop";
const batchSize = Number(process.env.BENCH_CONCURRENCY ?? 1);
const boss = new PgBoss({ connectionString: process.env.DATABASE_URL, schema: process.env.BENCH_SCHEMA, supervise: false, schedule: false });
boss.on("error", (error) => process.stderr.write(`pg-boss: ${error.message}\n`));
await boss.start();
report(`pid ${process.pid}`);

let stopping = false;
async function handle(data: { start?: number }): Promise<void> {
  if (data.start !== undefined) report(`start ${data.start} ${process.hrtime.bigint()}`);
  else own.add();
}
const loop = (async () => {
  while (!stopping) {
    const jobs = await boss.fetch<{ start?: number }>(queue, { batchSize });
    if (jobs.length === 0) {
      await sleep(POLL_MS);
      continue;
    }
    await Promise.all(jobs.map((job) => handle(job.data)));
    await boss.complete(queue, jobs.map((job) => job.id));
  }
})();

const stop = () => {
  stopping = true;
  void loop.then(() => boss.stop({ graceful: false, wait: true })).then(() => process.exit(0), () => process.exit(1));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
