// The Node side of `npm run interop:python`: the same actors as interop/python/interop_app.py,
// same names, same queue, same behaviour, each run recorded on the run's Redis ledger. Used by
// interop/node/worker.ts (the module the `dramats` command runs) and by the harness to send.
import { Redis } from "ioredis";
import { RedisRateLimiterBackend, RedisResultBackend } from "../../brokers/redis/index.ts";
import { actor, defaultMiddleware, GroupCallbacks, Results, type ActorContext, type Broker, type Middleware } from "../../lib/index.ts";

/** What both sides read from the environment (see interop_app.py). */
export interface InteropEnv {
  /** Redis for the ledger, results and group barriers. */
  redisUrl: string;
  /** The run's private namespace. */
  namespace: string;
  /** The one queue these actors use. */
  queue: string;
}

export function interopEnv(env: NodeJS.ProcessEnv = process.env): InteropEnv {
  const read = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`interop: ${name} is not set (the harness sets it)`);
    return value;
  };
  return { redisUrl: read("INTEROP_REDIS"), namespace: read("INTEROP_NS"), queue: read("INTEROP_QUEUE") };
}

/** The ledger's Redis list. */
export const ledgerKey = (namespace: string): string => `${namespace}:ledger`;

/** Dramatiq's results namespace for the run (both sides use it). */
export const resultsNamespace = (namespace: string): string => `${namespace}-results`;

/** The default chain plus Results and GroupCallbacks on Redis, as an app sharing queues with Python would have. */
export function interopMiddleware(env: InteropEnv): Middleware[] {
  return [
    ...defaultMiddleware(),
    new Results({ backend: new RedisResultBackend({ url: env.redisUrl, namespace: resultsNamespace(env.namespace) }) }),
    new GroupCallbacks({ backend: new RedisRateLimiterBackend({ url: env.redisUrl }) }),
  ];
}

/** Declares the interop actors on `broker`; `close` ends the ledger's connection. */
export function declareInteropActors(broker: Broker, env: InteropEnv) {
  const ledger = new Redis(env.redisUrl, { maxRetriesPerRequest: 3 });
  ledger.on("error", () => undefined); // a failed RPUSH fails the run, which the harness sees
  const queueName = env.queue;

  async function record(context: ActorContext, actorName: string, tag: string, args: unknown[], extra: Record<string, unknown> = {}) {
    const message = context.message!;
    const options = message.options;
    await ledger.rpush(
      ledgerKey(env.namespace),
      JSON.stringify({
        side: "node",
        pid: process.pid,
        actor: actorName,
        tag,
        args,
        kwargs: message.kwargs,
        message_id: message.messageId,
        queue: message.queueName,
        priority: options.priority ?? null,
        retries: options.retries ?? 0,
        group: options.group_completion_uuid ?? null,
        at: Date.now(),
        ...extra,
      }),
    );
  }

  const interopRecord = actor(async function interop_record(this: ActorContext, tag: string, ..._rest: unknown[]) {
    // Python's kwargs arrive as one trailing object; the message keeps them apart, so record that.
    const args = this.message!.args.slice(1);
    if (Object.keys(this.message!.kwargs).length > 0) args.pop();
    await record(this, "interop_record", tag, args);
  }, { broker, queueName, maxRetries: 0 });

  const interopFail = actor(async function interop_fail(this: ActorContext, tag: string) {
    await record(this, "interop_fail", tag, []);
    throw new Error(`interop_fail always fails: ${tag}`);
  }, { broker, queueName, maxRetries: 2, minBackoff: 100, maxBackoff: 200 });

  // Python's kwargs arrive as a trailing object; the pause lets a reader block on the result first.
  const interopAdd = actor(async function interop_add(this: ActorContext, a: number, b: number = 0, kwargs: { pause_ms?: number } = {}) {
    if (kwargs.pause_ms) await new Promise((resolve) => setTimeout(resolve, kwargs.pause_ms));
    await record(this, "interop_add", "add", [a, b]);
    return a + b;
  }, { broker, queueName, maxRetries: 0, storeResults: true });

  const interopFinish = actor(async function interop_finish(this: ActorContext, tag: string, value: unknown = null) {
    await record(this, "interop_finish", tag, [value]);
  }, { broker, queueName, maxRetries: 0 });

  const interopFleet = actor(async function interop_fleet(this: ActorContext, tag: string, pauseMs: number = 0) {
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    await record(this, "interop_fleet", tag, [pauseMs]);
  }, { broker, queueName, maxRetries: 0 });

  return {
    actors: { interopRecord, interopFail, interopAdd, interopFinish, interopFleet },
    close: () => ledger.quit().then(() => undefined, () => ledger.disconnect()),
  };
}
