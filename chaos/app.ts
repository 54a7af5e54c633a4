// The app the chaos suite runs under the real `dramats` command. Everything comes from the
// environment the runner sets (see fleet.ts): which broker, its private namespace, vhost or
// file, the queue, and the ledger folder. Each run is recorded when it starts and when it ends.
import type { Broker } from "../lib/broker.ts";
import { actor, setBroker } from "../lib/index.ts";
import { sleep } from "../lib/sleep.ts";
import { LedgerWriter } from "./ledger.ts";
import { APP_ENV, isDropped, LAG_EVERY } from "./app-env.ts";
import { recordLag } from "./lag.ts";

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`chaos/app.ts needs ${name} (it is run by chaos/main.ts)`);
  return value;
};

async function buildBroker(): Promise<Broker> {
  const kind = env(APP_ENV.broker);
  const url = env(APP_ENV.url);
  if (kind === "redis") {
    const { RedisBroker } = await import("../brokers/redis/index.ts");
    // Every connection of these processes carries one name, so the runner kills ours and no one else's.
    return new RedisBroker({ url, namespace: env(APP_ENV.namespace), client: { connectionName: env(APP_ENV.clientName) } });
  }
  if (kind === "rabbitmq") {
    const { RabbitmqBroker } = await import("../brokers/rabbitmq/index.ts");
    return new RabbitmqBroker({ url });
  }
  if (kind === "sqlite") {
    const { SqliteBroker } = await import("../brokers/sqlite/index.ts");
    return new SqliteBroker({ path: url });
  }
  if (kind === "postgres") {
    const { PostgresBroker } = await import("../brokers/postgres/index.ts");
    // The URL carries the run's schema and the application_name the runner's faults look for.
    return new PostgresBroker({ url });
  }
  throw new Error(`Unknown ${APP_ENV.broker} ${JSON.stringify(kind)}`);
}

setBroker(await buildBroker());
const ledger = new LedgerWriter(env(APP_ENV.ledger));
const queueName = env(APP_ENV.queue);
const broken = process.env[APP_ENV.break] === "drop";

/** 0-20 ms of async work, recorded when it starts and when it is done. */
export const work = actor(async function chaos_work(id: string, ms: number) {
  ledger.record("S", id);
  if (ms > 0) await sleep(ms);
  // The deliberately broken mode: a run that finished but never reaches the ledger, as if lost.
  if (broken && isDropped(id)) return;
  ledger.record("E", id);
}, { queueName, maxRetries: 0 });

if (process.env[APP_ENV.lag] === "1") recordLag(env(APP_ENV.ledger), LAG_EVERY);

/**
 * The hostile corpus's actor (poison.ts): records its run under `tag`, fails with `failWith`
 * when given one, and fails if any argument reached an object's prototype.
 */
export const hostile = actor(function chaos_hostile(tag: string, _payload?: unknown, failWith?: string) {
  ledger.record("S", tag);
  const polluted = "polluted" in {} || [...arguments].some((a) => typeof a === "object" && a !== null && !Array.isArray(a) && Object.getPrototypeOf(a) !== Object.prototype);
  if (polluted) throw new Error("an argument reached an object's prototype");
  if (typeof failWith === "string") throw new Error(failWith);
  ledger.record("E", tag);
}, { queueName, maxRetries: 0 });

/** Blocks its process's event loop for good: only the supervisor's block watch ends it. */
export const block = actor(function chaos_block(id: string) {
  ledger.record("S", id);
  for (;;) {
    // Nothing else runs in this process from here on.
  }
}, { queueName, maxRetries: 0 });
