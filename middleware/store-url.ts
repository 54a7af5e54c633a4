import type { Broker } from "../lib/broker.ts";
import { brokerFromUrl, checkBrokerUrl } from "../lib/connect.ts";
import { InvalidOptions } from "../lib/errors.ts";
import { historyStoreOf, type HistoryStore } from "../lib/history-store.ts";
import type { KeyValueStore } from "../lib/key-value-store.ts";
import { redactUrl } from "../lib/redact.ts";
import { workerRegistryOf, type WorkerRegistry } from "../lib/worker-registry.ts";

/** URL schemes of brokers whose store other processes (and hosts) share. */
const STORE_SCHEMES: ReadonlySet<string> = new Set(["redis:", "rediss:", "sqlite:"]);

/**
 * A store given by URL (`redis://...`, `rediss://...`, `sqlite://PATH`): the store of a broker
 * built from that URL with no middleware, opened on first use (a process that runs no
 * schedule never connects) and closed with {@link StoreUrl.close}.
 */
export class StoreUrl {
  readonly url: string;
  #broker: Promise<Broker> | undefined;

  /**
   * Checks the URL at once, without connecting.
   * @throws InvalidOptions for a malformed URL or a scheme with no shared store
   */
  constructor(url: string) {
    const scheme = checkBrokerUrl(url);
    if (!STORE_SCHEMES.has(scheme)) {
      throw new InvalidOptions(`A store URL must be redis://, rediss:// or sqlite://PATH (a store other processes share), got ${scheme}// in ${JSON.stringify(redactUrl(url))}`);
    }
    this.url = url;
  }

  /** The store, connecting on the first call. */
  async open(): Promise<KeyValueStore> {
    this.#broker ??= brokerFromUrl(this.url, { middleware: [] });
    const broker = await this.#broker;
    return broker.store!;
  }

  /** The worker registry of that broker (the fleet's, on RabbitMQ), connecting on the first call. */
  async openRegistry(): Promise<WorkerRegistry> {
    this.#broker ??= brokerFromUrl(this.url, { middleware: [] });
    return workerRegistryOf(await this.#broker)!;
  }

  /** The history store of that broker (the fleet's, on RabbitMQ), connecting on the first call. */
  async openHistory(): Promise<HistoryStore> {
    this.#broker ??= brokerFromUrl(this.url, { middleware: [] });
    return historyStoreOf(await this.#broker)!;
  }

  /** Closes the connection, if one was opened. */
  async close(): Promise<void> {
    const opened = this.#broker;
    this.#broker = undefined;
    if (opened !== undefined) await (await opened.catch(() => undefined))?.close();
  }
}
