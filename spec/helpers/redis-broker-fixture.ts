// The setup Redis broker specs share: a namespace and a queue of their own per test, an admin
// client to look at the keys, and brokers on that namespace, all closed and deleted after it.
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { Message } from "../../lib/message.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "./redis.ts";

type RedisBrokerOptions = NonNullable<ConstructorParameters<typeof RedisBroker>[0]>;

export interface RedisBrokerFixture {
  readonly url: string;
  readonly namespace: string;
  /** This test's queue (declared on every broker the fixture makes). */
  readonly queue: string;
  /** A plain client on the server, for reading and writing keys as another program would. */
  readonly admin: Redis;
  /** A broker on the namespace, with no middleware and the fixture's defaults under `options`; closed after the test. */
  broker(options?: RedisBrokerOptions): RedisBroker;
  /** A message to the test's queue for actor `redis_noop`. */
  message(args?: unknown[], options?: Record<string, unknown>): Message;
}

/** Registers the calling `describe`'s hooks; `defaults` go to every broker it makes. */
export function redisBrokerFixture(prefix: string, defaults: RedisBrokerOptions = {}): RedisBrokerFixture {
  let url = "";
  let namespace = "";
  let queue = "";
  let admin: Redis | undefined;
  const brokers: RedisBroker[] = [];

  before(async () => {
    url = await redisUrl();
  });
  beforeEach(async () => {
    namespace = uniqueNamespace(prefix);
    queue = `q_${randomUUID().slice(0, 8)}`;
    admin = await redisClient();
  });
  afterEach(async () => {
    for (const broker of brokers.splice(0)) await broker.close();
    admin?.disconnect();
    admin = undefined;
    await deleteNamespace(namespace);
  });

  return {
    get url() {
      return url;
    },
    get namespace() {
      return namespace;
    },
    get queue() {
      return queue;
    },
    get admin() {
      return admin!;
    },
    broker(options = {}) {
      const broker = new RedisBroker({ url, namespace, middleware: [], ...defaults, ...options });
      broker.declareQueue(queue);
      brokers.push(broker);
      return broker;
    },
    message(args = [], options = {}) {
      return new Message({ queueName: queue, actorName: "redis_noop", args, options });
    },
  };
}
