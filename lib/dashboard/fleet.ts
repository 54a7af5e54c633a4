// What the dashboard reads and acts through, found once: the broker, its queue browser, the
// shared store (the broker's own, or the `store` URL's for RabbitMQ fleets) with the worker
// registry and the history in it, and the broker's Cancellation and Scheduler middleware.
import { Cancellation } from "../../middleware/cancellation.ts";
import { Scheduler } from "../../middleware/scheduler.ts";
import { StoreUrl } from "../../middleware/store-url.ts";
import type { Broker } from "../broker.ts";
import type { KeyValueStore } from "../key-value-store.ts";
import { queueBrowserOf, type QueueBrowser } from "../queue-browser.ts";
import { historyStoreOf, type HistoryStore } from "../history-store.ts";
import { workerRegistryOf, type WorkerRegistry } from "../worker-registry.ts";
import type { Capabilities } from "./api-types.ts";

/** The parts of a fleet the dashboard uses; any but the broker may be missing. */
export class Fleet {
  readonly browser: QueueBrowser | undefined;
  readonly cancellation: Cancellation | undefined;
  readonly scheduler: Scheduler | undefined;
  readonly #storeUrl: StoreUrl | undefined;

  /** `store`: the URL of the store the workers share when the broker has none (RabbitMQ's `--store`). */
  constructor(
    readonly broker: Broker,
    store: string | undefined,
  ) {
    this.browser = queueBrowserOf(broker);
    this.cancellation = broker.getMiddleware(Cancellation);
    this.#storeUrl = store === undefined ? undefined : new StoreUrl(store);
    let scheduler = broker.getMiddleware(Scheduler);
    // The Scheduler reads pauses and last ticks where the workers claim ticks.
    if (scheduler !== undefined && store !== undefined && scheduler.storeUrl === undefined && broker.store === undefined) {
      scheduler = new Scheduler({ enabled: false, prefix: scheduler.prefix, claimTimeout: scheduler.claimTimeout, store });
      this.#ownScheduler = scheduler;
      // It knows the schedules through the actors' declarations.
      for (const actor of broker.actors.values()) scheduler.beforeDeclareActor(broker, actor);
    }
    this.scheduler = scheduler;
  }

  readonly #ownScheduler: Scheduler | undefined;

  /** The shared store (pauses, worker control, schedule pauses), or undefined. */
  async store(): Promise<KeyValueStore | undefined> {
    if (this.broker.store !== undefined) return this.broker.store;
    return this.#storeUrl?.open();
  }

  /** The worker registry, or undefined. */
  async registry(): Promise<WorkerRegistry | undefined> {
    const own = workerRegistryOf(this.broker);
    if (own !== undefined) return own;
    return this.#storeUrl?.openRegistry();
  }

  /** The fleet's per-minute history, or undefined. */
  async history(): Promise<HistoryStore | undefined> {
    const own = historyStoreOf(this.broker);
    if (own !== undefined) return own;
    return this.#storeUrl?.openHistory();
  }

  /** What the pages may show and do, and why not where not. */
  capabilities(): Capabilities {
    const name = this.broker.constructor.name;
    const shared = this.broker.store !== undefined || this.#storeUrl !== undefined;
    const schedules = this.scheduler !== undefined && [...this.broker.actors.values()].some((a) => a.options.schedule !== undefined);
    const notes: Capabilities["notes"] = {};
    if (this.browser === undefined) {
      notes.browse = `${name} cannot list messages without consuming them: the counts come from the broker, and dead letters are read and requeued through its dead-letter queue (the ${1000} oldest)`;
      notes.deleteDeadLetters = `${name} cannot delete one dead letter without consuming the others: purge the queue, or requeue them`;
    }
    if (!shared) {
      const why = `${name} has no store of its own: start the dashboard with --store URL, the store the workers were given`;
      notes.pause = why;
      notes.workers = why;
      notes.history = why;
    }
    if (this.cancellation === undefined) notes.cancel = "Cancelling needs the Cancellation middleware: name the module that adds it to the broker";
    if (!schedules) notes.schedules = "No schedules: name the modules that declare actors with a schedule option";
    return {
      browse: this.browser !== undefined,
      deleteDeadLetters: this.browser !== undefined,
      pause: shared,
      workers: shared,
      cancel: this.cancellation !== undefined,
      schedules,
      history: shared,
      notes,
    };
  }

  /** Closes what the dashboard opened (not the broker: it was given). */
  async close(): Promise<void> {
    await this.#ownScheduler?.close();
    await this.#storeUrl?.close();
  }
}
