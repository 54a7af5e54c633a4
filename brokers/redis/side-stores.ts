// What a Redis broker keeps in its namespace besides queues, each made on first use: the
// key-value store (cron claims, pauses), the worker registry, the queue browser and the history.
import type { Redis } from "ioredis";
import type { HistoryStore } from "../../lib/history-store.ts";
import type { QueueBrowser } from "../../lib/queue-browser.ts";
import type { Broker } from "../../lib/broker.ts";
import { RedisHistoryStore } from "./history-store.ts";
import { RedisKeyValueStore } from "./key-value-store.ts";
import type { RedisKeys } from "./keys.ts";
import { RedisQueueBrowser } from "./queue-browser.ts";
import type { Scripts } from "./scripts.ts";
import { RedisWorkerRegistry } from "./worker-registry.ts";

export type { HistoryStore, QueueBrowser, RedisKeyValueStore, RedisWorkerRegistry };

/** What the side stores need of their broker, read when the first one is made. */
export interface SideStoresHost {
  redis: Redis;
  namespace: string;
  keys: RedisKeys;
  scripts: Scripts;
  broker: Broker;
  call<T>(what: string, operation: () => Promise<T>): Promise<T>;
}

export class SideStores {
  #store: RedisKeyValueStore | undefined;
  #workerRegistry: RedisWorkerRegistry | undefined;
  #queueBrowser: QueueBrowser | undefined;
  #historyStore: HistoryStore | undefined;

  constructor(private readonly host: () => SideStoresHost) {}

  get store(): RedisKeyValueStore {
    const { redis, namespace } = this.host();
    return (this.#store ??= new RedisKeyValueStore(redis, namespace));
  }

  get workerRegistry(): RedisWorkerRegistry {
    const { redis, namespace } = this.host();
    return (this.#workerRegistry ??= new RedisWorkerRegistry(redis, namespace));
  }

  get queueBrowser(): QueueBrowser {
    const { redis, keys, scripts, broker, call } = this.host();
    return (this.#queueBrowser ??= new RedisQueueBrowser({ redis, keys, scripts, decode: (body) => broker.decode(body), encoder: broker.encoder, call }));
  }

  get historyStore(): HistoryStore {
    const { redis, namespace } = this.host();
    return (this.#historyStore ??= new RedisHistoryStore(redis, namespace));
  }
}
