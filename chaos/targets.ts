// One broker under test: a private place on its server (Redis namespace, RabbitMQ vhost, SQLite
// file, PostgreSQL schema), a producer broker in the runner, the faults that reach only our
// connections, and the cleanup. PostgreSQL's is in target-postgres.ts.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { APP_ENV } from "./app-env.ts";
import { PoisonEncoder } from "./poison.ts";
import type { BrokerName, Target } from "./target.ts";
import { openPostgres } from "./target-postgres.ts";

const run = promisify(execFile);

export { BROKERS, type BrokerName, type Target } from "./target.ts";

/** Only loopback servers: the suite kills connections and must never reach a shared host by mistake. */
function loopback(url: string): string {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  if (host !== "127.0.0.1" && host !== "localhost" && host !== "::1") throw new Error(`The chaos suite runs against loopback servers only, not ${host}`);
  return url;
}

export async function openTarget(name: BrokerName, runId: string, dir: string): Promise<Target> {
  if (name === "redis") return openRedis(runId);
  if (name === "rabbitmq") return openRabbitmq(runId);
  if (name === "postgres") return openPostgres(runId, loopback);
  return openSqlite(join(dir, "chaos.sqlite"));
}

async function openRedis(runId: string): Promise<Target> {
  const url = loopback(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  const namespace = `chaos-${runId}`;
  const names = { workers: `chaos-${runId}-w`, producer: `chaos-${runId}-p`, admin: `chaos-${runId}-admin` };
  const { RedisBroker } = await import("../brokers/redis/index.ts");
  const producer = new RedisBroker({ url, namespace, middleware: [], encoder: new PoisonEncoder(), client: { connectionName: names.producer } });
  // The runner's own inspection connection: never killed, never used by the fault paths.
  const admin = new Redis(url, { connectionName: names.admin, lazyConnect: true, maxRetriesPerRequest: 3 });
  admin.on("error", () => {});
  await admin.connect();
  const killNamed = async (wanted: Set<string>): Promise<number> => {
    let killed = 0;
    const list = (await admin.call("CLIENT", "LIST")) as string;
    for (const line of list.split("\n")) {
      const id = /\bid=(\d+)/.exec(line)?.[1];
      const name = /\bname=(\S*)/.exec(line)?.[1] ?? "";
      if (id !== undefined && wanted.has(name)) killed += Number(await admin.call("CLIENT", "KILL", "ID", id));
    }
    return killed;
  };
  return {
    name: "redis",
    producer,
    appEnv: (queue) => ({ [APP_ENV.broker]: "redis", [APP_ENV.url]: url, [APP_ENV.namespace]: namespace, [APP_ENV.clientName]: names.workers, [APP_ENV.queue]: queue }),
    killConnections: () => killNamed(new Set([names.workers, names.producer])),
    killProducerConnections: () => killNamed(new Set([names.producer])),
    // Dramatiq's layout, as a foreign producer writes it: the body under an id, the id on the queue.
    async enqueueRaw(queue, body) {
      const id = `raw-${randomUUID()}`;
      await admin.multi().hset(`${namespace}:${queue}.msgs`, id, body).rpush(`${namespace}:${queue}`, id).exec();
    },
    async close() {
      await producer.close().catch(() => {});
      let cursor = "0";
      do {
        const [next, keys] = await admin.scan(cursor, "MATCH", `${namespace}:*`, "COUNT", 1000);
        cursor = next;
        if (keys.length > 0) await admin.del(...keys);
      } while (cursor !== "0");
      await admin.quit();
    },
  };
}

async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run("rabbitmqctl", args, { timeout: 60_000 });
  return stdout;
}

async function openRabbitmq(runId: string): Promise<Target> {
  const base = new URL(loopback(process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672"));
  // A vhost of our own: closing all of its connections reaches ours and no one else's, in one
  // rabbitmqctl call (each call takes seconds), and deleting it deletes every queue we made.
  const vhost = `chaos_${runId}`;
  await rabbitmqctl("add_vhost", vhost);
  await rabbitmqctl("set_permissions", "-p", vhost, decodeURIComponent(base.username || "guest"), ".*", ".*", ".*");
  base.pathname = `/${vhost}`;
  const url = base.toString();
  const { RabbitmqBroker } = await import("../brokers/rabbitmq/index.ts");
  const producer = new RabbitmqBroker({ url, middleware: [], encoder: new PoisonEncoder() });
  const closeAll = async () => {
    await rabbitmqctl("close_all_connections", "--vhost", vhost, "chaos suite fault");
    return 1;
  };
  return {
    name: "rabbitmq",
    producer,
    appEnv: (queue) => ({ [APP_ENV.broker]: "rabbitmq", [APP_ENV.url]: url, [APP_ENV.queue]: queue }),
    killConnections: closeAll,
    // The producer scenario runs no workers while it sends: the vhost holds the producer's connections only.
    killProducerConnections: closeAll,
    enqueueRaw: (queue, body) => producer.enqueueRaw(queue, body),
    async close() {
      await producer.close().catch(() => {});
      await rabbitmqctl("delete_vhost", vhost);
    },
  };
}

async function openSqlite(path: string): Promise<Target> {
  const { SqliteBroker } = await import("../brokers/sqlite/index.ts");
  const producer = new SqliteBroker({ path, middleware: [], encoder: new PoisonEncoder() });
  return {
    name: "sqlite",
    producer,
    appEnv: (queue) => ({ [APP_ENV.broker]: "sqlite", [APP_ENV.url]: path, [APP_ENV.queue]: queue }),
    killConnections: undefined,
    killProducerConnections: undefined,
    // A TEXT column: bytes that are not UTF-8 cannot be stored as such (the hostile scenario skips them).
    enqueueRaw: (queue, body) => producer.enqueueRaw(queue, typeof body === "string" ? body : body.toString("utf8")),
    async close() {
      // The file lives in the run's folder, which the runner removes.
      await producer.close().catch(() => {});
    },
  };
}

/** A short random id for this run's namespace, vhost, and client names. */
export const newRunId = (): string => randomUUID().slice(0, 8);
