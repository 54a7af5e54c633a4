// The PostgreSQL target: a private schema per run on DATABASE_URL, every connection of the
// worker processes and of the producer named by `application_name` so pg_terminate_backend
// reaches ours and no one else's, and the local server's restart (pg_ctlcluster).
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import pg from "pg";
import { APP_ENV } from "./app-env.ts";
import { PoisonEncoder } from "./poison.ts";
import type { Target } from "./target.ts";

const run = promisify(execFile);

/** The specs' default database (.ci/run creates it). */
export const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";

/** How long the server may take to accept connections again after a restart (ms). */
const RESTART_DEADLINE = 60_000;

/** What one pg_terminate_backend round reached. */
export interface Terminated {
  /** Backends terminated. */
  readonly backends: number;
  /** Of them, LISTEN sessions (their last statement a LISTEN). */
  readonly listeners: number;
}

/** The PostgreSQL target and its own figures (terminations, LISTEN sessions) for the scenarios' notes. */
export interface PostgresTarget extends Target {
  /** The last killConnections round. */
  lastTerminated: Terminated;
  /** LISTEN sessions of the worker processes open now. */
  listeners(): Promise<number>;
}

export async function openPostgres(runId: string, loopback: (url: string) => string): Promise<PostgresTarget> {
  const base = loopback(process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL);
  const schema = `chaos_${runId}`;
  const names = { workers: `chaos_${runId}_w`, producer: `chaos_${runId}_p`, admin: `chaos_${runId}_admin` };
  const url = (applicationName: string): string => {
    const u = new URL(base);
    u.searchParams.set("schema", schema);
    u.searchParams.set("application_name", applicationName);
    return u.toString();
  };
  const { PostgresBroker } = await import("../brokers/postgres/index.ts");
  const producer = new PostgresBroker({ url: url(names.producer), middleware: [], encoder: new PoisonEncoder({ nul: false }) });
  await producer.migrate();
  // The runner's own inspection connection: never terminated by our faults; a pool, so it
  // connects again after the server's restart.
  const admin = new pg.Pool({ connectionString: new URL(base).toString(), application_name: names.admin, max: 1 });
  admin.on("error", () => {});
  const terminate = async (wanted: string[]): Promise<Terminated> => {
    const { rows } = await admin.query<{ backends: string; listeners: string }>(
      `SELECT count(*) FILTER (WHERE t) AS backends, count(*) FILTER (WHERE t AND query LIKE 'LISTEN %') AS listeners
         FROM (SELECT pg_terminate_backend(pid) AS t, query FROM pg_stat_activity
                WHERE application_name = ANY($1) AND datname = current_database() AND pid <> pg_backend_pid()) k`,
      [wanted],
    );
    return { backends: Number(rows[0]!.backends), listeners: Number(rows[0]!.listeners) };
  };
  const target: PostgresTarget = {
    name: "postgres",
    producer,
    lastTerminated: { backends: 0, listeners: 0 },
    appEnv: (queue) => ({ [APP_ENV.broker]: "postgres", [APP_ENV.url]: url(names.workers), [APP_ENV.queue]: queue }),
    async killConnections() {
      target.lastTerminated = await terminate([names.workers, names.producer]);
      return target.lastTerminated.backends;
    },
    killProducerConnections: async () => (await terminate([names.producer])).backends,
    async restartServer() {
      const version = readdirSync("/etc/postgresql")[0];
      if (version === undefined) throw new Error("No cluster under /etc/postgresql to restart");
      const at = Date.now();
      await run("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "restart"], { timeout: RESTART_DEADLINE });
      const { hostname, port } = new URL(base);
      while (!(await portOpen(hostname.replace(/^\[|\]$/g, ""), Number(port || 5432)))) {
        if (Date.now() - at > RESTART_DEADLINE) throw new Error(`PostgreSQL did not accept connections within ${RESTART_DEADLINE / 1000} s of its restart`);
        await sleep(100);
      }
      return Date.now() - at;
    },
    async listeners() {
      const { rows } = await admin.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database() AND query LIKE 'LISTEN %'",
        [names.workers],
      );
      return Number(rows[0]!.n);
    },
    enqueueRaw: (queue, body) => producer.enqueueRaw(queue, typeof body === "string" ? body : body.toString("utf8")),
    async close() {
      await producer.close().catch(() => {});
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    },
  };
  return target;
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1_000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}
