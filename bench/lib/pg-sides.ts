// The three job queues of bench/postgres.ts on one PostgreSQL server, each in a private schema
// (dropped at teardown): dramats' PostgresBroker, graphile-worker and pg-boss. A side makes
// producers (in the bench process) and worker processes (bench/workers/*) for a label; each label
// is its own queue (graphile-worker: its own task), so workers of one side never take another's jobs.
import pg from "pg";
import PgBoss from "pg-boss";
import { Logger as GraphileLogger, makeWorkerUtils, runMigrations, type WorkerUtils } from "graphile-worker";
import type { Actor } from "../../lib/index.ts";
import { actor } from "../../lib/index.ts";
import { PostgresBroker } from "../../brokers/postgres/index.ts";
import { DATABASE_URL, RUN_ID } from "./config.ts";
import type { Sender } from "./subject.ts";
import { WorkerProcess } from "./worker-process.ts";

/** What the bench sends through: numbered no-op jobs, one at a time or in bulk, and latency probes. */
export interface PgProducer extends Sender {
  /** A job whose start the worker reports (`BENCH start SEQ NS`). */
  sendStart(seq: number): Promise<unknown>;
  close(): Promise<void>;
}

export interface PgSide {
  readonly name: string;
  /** The private schema. */
  readonly schema: string;
  /** How the side's worker fetches at `concurrency`, for the tables. */
  fetchSize(concurrency: number): string;
  /** Creates the schema (migrations). */
  setup(): Promise<void>;
  producer(label: string): Promise<PgProducer>;
  /** A worker process for `label`'s jobs at `concurrency` (several processes: dramats only). */
  spawn(label: string, concurrency: number, processes?: number): WorkerProcess;
  /** Drops the schema. */
  teardown(): Promise<void>;
}

/** Connections of each producer's pool: few, so that every subject fits under max_connections. */
const PRODUCER_POOL = 4;

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  client.on("error", () => undefined);
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

export class DramatsSide implements PgSide {
  readonly name = "dramats";
  readonly schema = `bench_${RUN_ID}_dramats`;

  fetchSize(): string {
    return "adaptive prefetch, up to 1,024 per fetch";
  }

  /** The worker's --broker and the producers' URL. */
  get url(): string {
    const url = new URL(DATABASE_URL);
    url.searchParams.set("schema", this.schema);
    return url.href;
  }

  async setup(): Promise<void> {
    const broker = new PostgresBroker({ url: this.url, poolSize: 1 });
    await broker.migrate();
    await broker.close();
  }

  /** A producer broker of its own (actor names are unique per broker). */
  async producer(label: string, options: { pool?: pg.Pool } = {}): Promise<PgProducer & { broker: PostgresBroker }> {
    const queueName = `bench_${label}`;
    // With an application's pool, `url` serves the LISTEN connection only.
    const broker = new PostgresBroker({ url: this.url, schema: this.schema, poolSize: PRODUCER_POOL, ...(options.pool ? { pool: options.pool } : {}) });
    // The worker module's actors (bench/workers/dramats-actors.ts); their bodies never run here.
    const noop: Actor<[number], void> = actor(function bench_noop(_n: number): void {}, { broker, queueName });
    const started: Actor<[number], void> = actor(function bench_started(_seq: number): void {}, { broker, queueName });
    return {
      broker,
      send: (i) => noop.send(i),
      sendMany: (from, to) => noop.sendMany(Array.from({ length: to - from }, (_, k) => [from + k] as [number])),
      sendStart: (seq) => started.send(seq),
      close: () => broker.close(),
    };
  }

  spawn(label: string, concurrency: number, processes = 1): WorkerProcess {
    return WorkerProcess.dramats({
      name: `dramats ${label}`,
      brokerUrl: this.url,
      processes,
      threads: concurrency,
      // Exact counts from every process (report.ts), whatever the number of messages.
      env: { BENCH_QUEUE: `bench_${label}`, BENCH_REPORT_OWN: "1" },
    });
  }

  teardown(): Promise<void> {
    return dropSchema(this.schema);
  }
}

export class GraphileSide implements PgSide {
  readonly name = "graphile-worker";
  readonly schema = `bench_${RUN_ID}_graphile`;

  fetchSize(): string {
    return "1 job per fetch (get_job), library defaults";
  }

  async setup(): Promise<void> {
    await runMigrations({ connectionString: DATABASE_URL, schema: this.schema, logger: quietLogger() });
  }

  async producer(label: string): Promise<PgProducer> {
    const utils: WorkerUtils = await makeWorkerUtils({ connectionString: DATABASE_URL, schema: this.schema, maxPoolSize: PRODUCER_POOL, logger: quietLogger() });
    const task = `bench_${label}`;
    return {
      send: (i) => utils.addJob(task, { n: i }),
      sendMany: (from, to) => utils.addJobs(Array.from({ length: to - from }, (_, k) => ({ identifier: task, payload: { n: from + k } }))),
      sendStart: (seq) => utils.addJob(task, { start: seq }),
      close: async () => {
        await utils.release();
      },
    };
  }

  spawn(label: string, concurrency: number): WorkerProcess {
    return WorkerProcess.script({
      name: `graphile-worker ${label}`,
      path: "bench/workers/graphile-worker",
      env: { DATABASE_URL, BENCH_SCHEMA: this.schema, BENCH_TASK: `bench_${label}`, BENCH_CONCURRENCY: String(concurrency), BENCH_REPORT_OWN: "1" },
    });
  }

  teardown(): Promise<void> {
    return dropSchema(this.schema);
  }
}

export class PgBossSide implements PgSide {
  readonly name = "pg-boss";
  readonly schema = `bench_${RUN_ID}_pgboss`;

  fetchSize(concurrency: number): string {
    return `batch of ${concurrency} per fetch, completed together; fetch loop, 0.5 s poll when empty`;
  }

  #boss(max: number): PgBoss {
    const boss = new PgBoss({ connectionString: DATABASE_URL, schema: this.schema, max, supervise: false, schedule: false });
    boss.on("error", (error) => console.error(`pg-boss: ${error.message}`));
    return boss;
  }

  async setup(): Promise<void> {
    const boss = this.#boss(1);
    await boss.start();
    await boss.stop({ graceful: false, wait: true });
  }

  async producer(label: string): Promise<PgProducer> {
    const boss = this.#boss(PRODUCER_POOL);
    await boss.start();
    const queue = `bench_${label}`;
    await boss.createQueue(queue);
    return {
      send: (i) => boss.send(queue, { n: i }),
      sendMany: (from, to) => boss.insert(Array.from({ length: to - from }, (_, k) => ({ name: queue, data: { n: from + k } }))),
      sendStart: (seq) => boss.send(queue, { start: seq }),
      close: () => boss.stop({ graceful: false, wait: true }),
    };
  }

  spawn(label: string, concurrency: number): WorkerProcess {
    return WorkerProcess.script({
      name: `pg-boss ${label}`,
      path: "bench/workers/pgboss-worker",
      env: { DATABASE_URL, BENCH_SCHEMA: this.schema, BENCH_QUEUE: `bench_${label}`, BENCH_CONCURRENCY: String(concurrency), BENCH_REPORT_OWN: "1" },
    });
  }

  teardown(): Promise<void> {
    return dropSchema(this.schema);
  }
}

/** graphile-worker's Logger, errors only (its default writes a line per job). */
function quietLogger(): GraphileLogger {
  return new GraphileLogger(() => (level: string, message: string) => {
    if (level === "error") console.error(`graphile-worker: ${message}`);
  });
}
