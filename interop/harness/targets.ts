// The two brokers an interop run covers: how each side is pointed at it, where a dead letter is
// looked for, and what is removed afterwards.
import { Redis } from "ioredis";
import { RabbitmqBroker } from "../../brokers/rabbitmq/index.ts";
import { RedisBroker } from "../../brokers/redis/index.ts";
import type { Broker, Middleware } from "../../lib/index.ts";
import { deleteQueues, rawChannel } from "../../spec/helpers/amqp.ts";
import { deleteNamespace, scanKeys } from "../../spec/helpers/redis.ts";
import { AMQP_URL, REDIS_URL } from "./env.ts";
import { checkError } from "./errors.ts";

/** Heartbeat timeout of both sides' Redis brokers (ms): the recovery bound of the SIGKILL checks is this plus 10 s. */
export const HEARTBEAT_TIMEOUT = 5_000;

export interface Target {
  readonly name: "Redis" | "RabbitMQ";
  /** The `--broker` URL of the dramats command and the Node producer. */
  nodeUrl(namespace: string): string;
  /**
   * The Node producer's broker, as app code builds it. (Not brokerFromUrl(): mocha loads these
   * files through tsx's require hook, and the adapter it imports would bring a second copy of lib/.)
   */
  nodeProducer(namespace: string, middleware: Middleware[]): Broker;
  /** INTEROP_BROKER for the Python side (interop_app.py). */
  readonly pythonUrl: string;
  /** Resolves once `messageId` sits in `<queue>.XQ`; rejects after `timeout` ms. */
  deadLettered(namespace: string, queue: string, messageId: string, timeout: number): Promise<void>;
  /** Where a message that never ran sits, for the failure message ("" when unknown). */
  locate(namespace: string, messageId: string): Promise<string>;
  /** Removes what the run left: queues (RabbitMQ) and the namespace's keys (both: ledger, results). */
  cleanup(namespace: string, queues: string[]): Promise<void>;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const redisTarget: Target = {
  name: "Redis",
  nodeUrl(namespace) {
    const url = new URL(REDIS_URL);
    url.searchParams.set("namespace", namespace);
    url.searchParams.set("heartbeat_timeout", String(HEARTBEAT_TIMEOUT));
    return url.href;
  },
  nodeProducer: (namespace, middleware) => new RedisBroker({ url: REDIS_URL, namespace, heartbeatTimeout: HEARTBEAT_TIMEOUT, middleware }),
  pythonUrl: REDIS_URL,
  async deadLettered(namespace, queue, messageId, timeout) {
    const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    client.on("error", () => undefined);
    try {
      const deadline = Date.now() + timeout;
      for (;;) {
        // Both sides keep dead letters in Dramatiq's layout: ids in the zset ns:q.XQ, bodies in ns:q.XQ.msgs.
        const bodies = await client.hvals(`${namespace}:${queue}.XQ.msgs`);
        if (bodies.some((body) => (JSON.parse(body) as { message_id?: string }).message_id === messageId)) return;
        if (Date.now() > deadline) throw checkError(`message ${messageId} is not in ${namespace}:${queue}.XQ after ${timeout} ms (${bodies.length} other dead letters there)`);
        await pause(100);
      }
    } finally {
      client.disconnect();
    }
  },
  async locate(namespace, messageId) {
    const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    client.on("error", () => undefined);
    try {
      const keys = await scanKeys(`${namespace}:*`);
      const types = await Promise.all(keys.map((key) => client.type(key)));
      // The run's private namespace holds a few dozen keys: find the body, then whatever holds its Redis id.
      const found: string[] = [];
      for (const [i, key] of keys.entries()) {
        if (types[i] !== "hash") continue;
        for (const [rid, body] of Object.entries(await client.hgetall(key))) {
          if (!body.includes(messageId)) continue;
          found.push(`its body in ${key}`);
          for (const [j, holder] of keys.entries()) {
            if (types[j] === "list" && (await client.lpos(holder, rid)) !== null) found.push(`its id in the list ${holder}`);
            if (types[j] === "zset" && (await client.zscore(holder, rid)) !== null) found.push(`its id in the sorted set ${holder}`);
            if (types[j] === "set" && (await client.sismember(holder, rid)) === 1) found.push(`its id in the set ${holder}`);
          }
        }
      }
      return found.length > 0 ? `; ${found.join(", ")}` : "; the message is in no hash of the namespace";
    } finally {
      client.disconnect();
    }
  },
  async cleanup(namespace) {
    await deleteNamespace(namespace);
    await deleteNamespace(`${namespace}-results`);
  },
};

export const rabbitmqTarget: Target = {
  name: "RabbitMQ",
  nodeUrl: () => AMQP_URL,
  nodeProducer: (_namespace, middleware) => new RabbitmqBroker({ url: AMQP_URL, middleware }),
  locate: async () => "",
  pythonUrl: AMQP_URL,
  async deadLettered(_namespace, queue, messageId, timeout) {
    const raw = await rawChannel(AMQP_URL);
    try {
      const deadline = Date.now() + timeout;
      let others = 0;
      for (;;) {
        const got = await raw.channel.get(`${queue}.XQ`, { noAck: true });
        if (got !== false) {
          if ((JSON.parse(got.content.toString()) as { message_id?: string }).message_id === messageId) return;
          others += 1;
          continue;
        }
        if (Date.now() > deadline) throw checkError(`message ${messageId} is not in ${queue}.XQ after ${timeout} ms (${others} other dead letters there)`);
        await pause(100);
      }
    } finally {
      await raw.close();
    }
  },
  async cleanup(namespace, queues) {
    await deleteQueues(AMQP_URL, queues);
    await deleteNamespace(namespace);
    await deleteNamespace(`${namespace}-results`);
  },
};
