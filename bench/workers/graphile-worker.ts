// A graphile-worker process doing what bench/workers/dramats-actors.ts does, for the PostgreSQL
// baseline: jobs of task BENCH_TASK count (each process its own count, bench/workers/report.ts),
// jobs with a `start` field report when they start. Library defaults otherwise: LISTEN/NOTIFY for
// new jobs, one job per fetch (`get_job`), pool of 10. Env: DATABASE_URL, BENCH_SCHEMA,
// BENCH_TASK, BENCH_CONCURRENCY.
import { Logger, run } from "graphile-worker";
import { OwnCounter, report } from "./report.ts";

const own = new OwnCounter();
const task = process.env.BENCH_TASK ?? "bench_noop";
// Errors only (the default logger writes a line per job at info level).
const logger = new Logger(() => (level, message) => {
  if (level === "error") process.stderr.write(`graphile-worker: ${message}\n`);
});
const runner = await run({
  connectionString: process.env.DATABASE_URL,
  schema: process.env.BENCH_SCHEMA,
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 1),
  noHandleSignals: true,
  logger,
  taskList: {
    [task]: async (payload) => {
      const start = (payload as { start?: number }).start;
      if (start !== undefined) report(`start ${start} ${process.hrtime.bigint()}`);
      else own.add();
    },
  },
});
report(`pid ${process.pid}`);

const stop = () => void runner.stop().then(() => process.exit(0), () => process.exit(1));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
