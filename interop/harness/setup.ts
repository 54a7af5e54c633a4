// The processes and connections one group of checks needs, started once; a failure to start is
// kept and reported by every check of the group (so each still names itself and says why).
import { createHash, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import type { Broker } from "../../lib/index.ts";
import { declareInteropActors, interopMiddleware, ledgerKey, resultsNamespace, type InteropEnv } from "../node/app.ts";
import { REDIS_URL } from "./env.ts";
import { checkError } from "./errors.ts";
import { Ledger } from "./ledger.ts";
import { killAll, PythonDriver, startNodeWorker, startPythonWorker, type PythonWorker } from "./processes.ts";
import { nodeSender, pythonSender, type Sender } from "./senders.ts";
import { HEARTBEAT_TIMEOUT, type Target } from "./targets.ts";
import type { CliRun } from "../../spec/cli/run-cli.ts";

export interface Setup {
  readonly namespace: string;
  readonly queue: string;
  ledger: Ledger;
  readonly pythonWorkers: PythonWorker[];
  readonly nodeWorkers: CliRun[];
  readonly senders: Partial<Record<"python" | "node", Sender>>;
}

export interface Plan {
  /** Worker fleet members to start, in this order. */
  workers: ("python" | "node")[];
  /** Producers to open once the workers run. */
  senders: ("python" | "node")[];
  /**
   * More environment for the Python processes, workers and producer alike: they run on one
   * Python host (its clock, say).
   */
  pythonHostEnv?: Record<string, string>;
}

/**
 * Mocha hooks for the calling describe: starts `plan` on `target` before its checks, stops and
 * removes everything after. `ready()` resolves with the setup or rejects with why it failed.
 */
export function groupSetup(target: Target, label: string, plan: Plan): { ready(): Promise<Setup> } {
  const namespace = `dramats-interop-${randomUUID().slice(0, 8)}`;
  const queue = `interop_${label}_${randomUUID().slice(0, 8)}`;
  const env: InteropEnv = { redisUrl: REDIS_URL, namespace, queue };
  const processEnv = { INTEROP_REDIS: REDIS_URL, INTEROP_NS: namespace, INTEROP_QUEUE: queue };
  const pythonEnv = { ...processEnv, INTEROP_BROKER: target.pythonUrl, INTEROP_HEARTBEAT_TIMEOUT: String(HEARTBEAT_TIMEOUT) };
  // Made in the before hook: with mocha's --grep a group may have no check to run, and then no hooks.
  let setup: Setup | undefined;
  let driver: PythonDriver | undefined;
  let nodeProducer: { broker: Broker; close(): Promise<void> } | undefined;
  let started: Promise<Setup> | undefined;

  async function start(): Promise<Setup> {
    setup = { namespace, queue, ledger: new Ledger(REDIS_URL, ledgerKey(namespace)), pythonWorkers: [], nodeWorkers: [], senders: {} };
    for (const side of plan.workers) {
      if (side === "python") setup.pythonWorkers.push(await startPythonWorker({ ...pythonEnv, ...plan.pythonHostEnv }));
      else setup.nodeWorkers.push(await startNodeWorker(target.nodeUrl(namespace), processEnv));
    }
    for (const side of plan.senders) {
      if (side === "python") {
        driver = new PythonDriver({ ...pythonEnv, ...plan.pythonHostEnv });
        setup.senders.python = pythonSender(driver);
      } else {
        const broker = target.nodeProducer(namespace, interopMiddleware(env));
        const app = declareInteropActors(broker, env);
        nodeProducer = { broker, close: async () => (await broker.close(), await app.close()) };
        setup.senders.node = nodeSender(broker, app.actors);
      }
    }
    return setup;
  }

  before(function () {
    this.timeout(90_000);
    started = start();
    // Checks report a failed start; the hook itself waits and never fails.
    return started.then(() => undefined, () => undefined);
  });

  after(async function () {
    this.timeout(60_000);
    await driver?.close().catch(() => undefined);
    await nodeProducer?.close().catch(() => undefined);
    if (setup === undefined) return;
    const { pythonWorkers, nodeWorkers, ledger } = setup;
    await Promise.all([...pythonWorkers.map((w) => w.stop()), ...nodeWorkers.map((w) => w.stop("SIGTERM", 15_000).catch(() => w.destroy()))]);
    killAll();
    await removeRunKeys(ledger, namespace);
    await ledger.close();
    await target.cleanup(namespace, [queue]);
  });

  return {
    ready() {
      if (started === undefined) return Promise.reject(new Error("setup did not run"));
      return started.catch((error: Error) => Promise.reject(checkError(`could not start ${plan.workers.join(" + ")} workers on ${target.name}: ${error.message}`)));
    },
  };
}

/** Result keys (Dramatiq's md5 keys live outside any namespace) and group barriers of the runs recorded. */
async function removeRunKeys(ledger: Ledger, namespace: string): Promise<void> {
  const keys = new Set<string>();
  for (const run of ledger.runs) {
    if (run.actor === "interop_add") {
      keys.add(createHash("md5").update(`${resultsNamespace(namespace)}:${run.queue}:interop_add:${run.message_id}`).digest("hex"));
    }
    if (run.group) {
      // Dramatiq's Barrier keys, and dramats' RedisRateLimiterBackend's (default prefix).
      for (const key of [run.group, `${run.group}@events`, `dramats-limits:barrier:${run.group}`, `dramats-limits:barrier-members:${run.group}`]) keys.add(key);
    }
  }
  if (keys.size === 0) return;
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  client.on("error", () => undefined);
  try {
    await client.unlink(...keys);
  } finally {
    client.disconnect();
  }
}
