// The Redis side of CLI specs against the real server: a namespace of its own per test, with a
// broker on it for the spec to enqueue and inspect through, flushed and deleted after the test.
import { RedisBroker } from "../../brokers/redis/index.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "../helpers/redis.ts";

export interface RedisNamespace {
  /** The server's URL. */
  readonly url: string;
  readonly ns: string;
  /** A broker on `ns` with no middleware, declaring `queues`. */
  readonly broker: RedisBroker;
  /** `url` naming `ns`, for `--broker`. */
  brokerUrl(): string;
}

/**
 * Mocha hooks of the calling `describe`. Register the CLI's cleanup (cliSpec, or a `destroyAll`
 * hook) before this, so no worker process writes to the namespace as it is deleted.
 */
export function redisNamespace(prefix: string, queues: string[]): RedisNamespace {
  let url = "";
  let ns = "";
  let broker: RedisBroker | undefined;
  before(async () => {
    url = await redisUrl();
  });
  beforeEach(() => {
    ns = uniqueNamespace(prefix);
    broker = new RedisBroker({ url, namespace: ns, middleware: [] });
    for (const queue of queues) broker.declareQueue(queue);
  });
  afterEach(async () => {
    await broker!.flushAll();
    await broker!.close();
    // Heartbeats and consumer registries live outside the queues' keys.
    await deleteNamespace(ns);
  });
  return {
    get url() {
      return url;
    },
    get ns() {
      return ns;
    },
    get broker() {
      return broker!;
    },
    brokerUrl() {
      const named = new URL(url);
      named.searchParams.set("namespace", ns);
      return named.href;
    },
  };
}
