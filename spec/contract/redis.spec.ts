import { randomUUID } from "node:crypto";
import { RedisBroker, type RedisConsumer } from "../../brokers/redis/index.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "../helpers/redis.ts";
import { brokerContract, type ContractFactory } from "./broker.contract.ts";
import { joinContract } from "./join.contract.ts";
import { hostileContract } from "./hostile.contract.ts";
import { queueBrowserContract } from "./queue-browser.contract.ts";
import { abandonConsumer } from "../../brokers/redis/testing.ts";

// Short heartbeats so that a crashed consumer is recovered within the test's patience.
const HEARTBEAT = { heartbeatInterval: 100, heartbeatTimeout: 400 };

/**
 * Both layouts: Dramatiq's (the default: delays in `ns:q.DQ`, held by consumers until their eta;
 * one list whatever the priority) and the fast path (`?delays=zset&priorities=levels`).
 */
const factoryFor = (params: Record<string, string>): ContractFactory => async ({ middleware }) => {
  const parsed = new URL(await redisUrl());
  for (const [key, value] of Object.entries(params)) parsed.searchParams.set(key, value);
  const url = parsed.href;
  const namespace = uniqueNamespace("dramats-contract");
  const broker = new RedisBroker({ url, namespace, middleware, ...HEARTBEAT });
  const peers: RedisBroker[] = [];
  return {
    broker,
    fifoPriorities: broker.priorities === "dramatiq",
    peer: () => {
      const peer = new RedisBroker({ url, namespace, middleware, ...HEARTBEAT });
      peers.push(peer);
      return peer;
    },
    // What a foreign producer does (Dramatiq's documented recipe, minus a valid payload).
    enqueueRaw: async (queue, body) => {
      const client = await redisClient();
      try {
        const id = `raw-${randomUUID()}`;
        await client.multi().hset(`${namespace}:${queue}.msgs`, id, body).rpush(`${namespace}:${queue}`, id).exec();
      } finally {
        client.disconnect();
      }
    },
    crash: async (consumer) => {
      const doomed = consumer as RedisConsumer;
      abandonConsumer(doomed);
      const client = await redisClient();
      try {
        const deadline = Date.now() + 10_000;
        // The live broker's maintenance must take the silent consumer for dead and requeue.
        while (await client.hexists(broker.keys.consumers, doomed.id)) {
          if (Date.now() > deadline) throw new Error("The dead consumer's messages were never recovered");
          await broker.runMaintenance();
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        client.disconnect();
      }
    },
    abandon: (consumer) => abandonConsumer(consumer),
    forgotten: async (id) => {
      const client = await redisClient();
      try {
        const [score, registered] = await Promise.all([client.zscore(broker.keys.heartbeats, id), client.hexists(broker.keys.consumers, id)]);
        return score === null && registered === 0;
      } finally {
        client.disconnect();
      }
    },
    close: async () => {
      for (const peer of peers) await peer.close();
      await broker.close();
      await deleteNamespace(namespace);
    },
  };
};

for (const [name, params] of [["redis", {}], ["redis ?delays=zset&priorities=levels", { delays: "zset", priorities: "levels" }]] as const) {
  const factory = factoryFor(params);
  brokerContract(name, factory);
  joinContract(name, factory, { shared: true });
  hostileContract(name, factory);
  queueBrowserContract(name, factory);
}
