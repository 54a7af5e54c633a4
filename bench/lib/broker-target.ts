// Where a dramats subject's messages go: a producer broker in the bench process, the URL its
// worker process gets (`dramats --broker`), and how to delete what a run left on the server.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { checkBrokerUrl } from "../../lib/cli/broker-url.ts";
import type { Broker } from "../../lib/index.ts";
import { AMQP_URL, REDIS_URL, RUN_ID, redisUrlWithNamespace } from "./config.ts";
import { deleteRabbitQueues, deleteRedisKeys } from "./cleanup.ts";
import { moduleUrl, type Tree } from "./worker-process.ts";

export type BrokerKind = "redis" | "rabbitmq" | "sqlite";

export interface BrokerTarget {
  producer: Broker;
  /** The worker's --broker. */
  url: string;
  /**
   * Whether the (frozen) workers hold the write lock, which the producer would then wait for in
   * vain: SQLite's, where one file is the queue. Absent where workers never block a producer.
   */
  writeLocked?(): boolean;
  cleanup(): Promise<void>;
}

type BrokerClass = new (options: Record<string, unknown>) => Broker;

async function brokerClass(tree: Tree, path: string, name: string): Promise<BrokerClass> {
  return ((await import(moduleUrl(tree, path))) as Record<string, BrokerClass>)[name]!;
}

/** The SQLite broker joins the bench once the CLI knows its URLs. */
export function sqliteAvailable(): boolean {
  try {
    checkBrokerUrl("sqlite:///tmp/bench.sqlite");
    return true;
  } catch {
    return false;
  }
}

/**
 * A producer of `tree`'s dramats for `queue`. `label` names what the run creates: the Redis
 * namespace; SQLite gets a fresh file in a temporary directory.
 */
export async function brokerTarget(tree: Tree, kind: BrokerKind, label: string, queue: string): Promise<BrokerTarget> {
  if (kind === "redis") {
    const namespace = `bench-${RUN_ID}-${label}`;
    const RedisBroker = await brokerClass(tree, "brokers/redis/index", "RedisBroker");
    return {
      producer: new RedisBroker({ url: REDIS_URL, namespace }),
      url: redisUrlWithNamespace(namespace),
      cleanup: () => deleteRedisKeys(`${namespace}:*`),
    };
  }
  if (kind === "rabbitmq") {
    const RabbitmqBroker = await brokerClass(tree, "brokers/rabbitmq/index", "RabbitmqBroker");
    return {
      producer: new RabbitmqBroker({ url: AMQP_URL }),
      url: AMQP_URL,
      cleanup: () => deleteRabbitQueues([queue]),
    };
  }
  const SqliteBroker = await brokerClass(tree, "brokers/sqlite/index", "SqliteBroker");
  const dir = mkdtempSync(join(tmpdir(), "dramats-bench-"));
  const path = join(dir, "bench.sqlite");
  let probe: Database.Database | undefined;
  return {
    producer: new SqliteBroker({ path }),
    url: `sqlite://${path}`,
    writeLocked() {
      probe ??= new Database(path, { fileMustExist: true, timeout: 0 });
      try {
        probe.exec("BEGIN IMMEDIATE");
        probe.exec("ROLLBACK");
        return false;
      } catch (error) {
        if ((error as { code?: string }).code === "SQLITE_BUSY") return true;
        throw error;
      }
    },
    async cleanup() {
      probe?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
