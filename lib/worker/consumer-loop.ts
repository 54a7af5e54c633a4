import type { Consumer, Delivery } from "../broker.ts";
import type { Logger } from "../logging.ts";
import { sleep } from "../sleep.ts";

/** What a consumer loop needs from its worker. */
export interface ConsumerLoopHost {
  readonly paused: boolean;
  waitUntilResumed(): Promise<void>;
  accept(loop: ConsumerLoop, deliveries: Delivery[]): void;
}

const MAX_FETCH_BACKOFF = 5_000;

const nextTick = () => new Promise<void>((resolve) => process.nextTick(resolve));

/**
 * Keeps one queue's consumer fed: fetches as many deliveries as the prefetch window has room
 * for, hands them to the worker, and waits (without polling) when the window is full.
 *
 * Fetches are batched: once the window has filled, the loop fetches again when a quarter of
 * it is free, or at once when nothing fetched is left waiting to start (so actors never idle
 * for want of a fetch). After being woken it also lets the current turn's settles finish
 * (one process.nextTick), so that messages done together free their room together, and the
 * fetch goes out in the same write as their acks. Fewer, larger fetches cut round trips.
 */
export class ConsumerLoop {
  readonly queueName: string;
  readonly consumer: Consumer;
  /** Deliveries fetched and not yet settled or given back. */
  outstanding = 0;
  /** Deliveries handed to the worker that have not started yet (the worker keeps it). */
  queued = 0;
  readonly #prefetch: number;
  /** Free room worth a fetch while fetched messages still wait to start. */
  readonly #refill: number;
  readonly #fetchTimeout: number;
  readonly #host: ConsumerLoopHost;
  readonly #log: Logger;
  #running = false;
  #done: Promise<void> = Promise.resolve();
  #wakeUp: (() => void) | undefined;

  constructor(options: {
    queueName: string;
    consumer: Consumer;
    prefetch: number;
    fetchTimeout: number;
    host: ConsumerLoopHost;
    logger: Logger;
  }) {
    this.queueName = options.queueName;
    this.consumer = options.consumer;
    this.#prefetch = options.prefetch;
    this.#refill = Math.max(1, Math.floor(options.prefetch / 4));
    this.#fetchTimeout = options.fetchTimeout;
    this.#host = options.host;
    this.#log = options.logger;
  }

  start(): void {
    this.#running = true;
    this.#done = this.#run();
  }

  /** Called by the worker when a delivery is settled or given back: frees prefetch room. */
  release(count = 1): void {
    this.outstanding -= count;
    this.#wake();
  }

  /** Called by the worker when a handed-over delivery starts (or is given back unstarted). */
  started(count = 1): void {
    this.queued -= count;
    if (this.queued === 0) this.#wake();
  }

  /** Stops fetching; resolves when the loop has exited. The consumer stays open for acks. */
  stop(): Promise<void> {
    this.#running = false;
    this.consumer.interrupt();
    this.#wake();
    return this.#done;
  }

  #wake(): void {
    const wake = this.#wakeUp;
    if (wake) {
      this.#wakeUp = undefined;
      wake();
    }
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (this.#running) {
      if (this.#host.paused) {
        await this.#host.waitUntilResumed();
        continue;
      }
      const room = this.#prefetch - this.outstanding;
      if (room <= 0 || (room < this.#refill && this.queued > 0)) {
        await new Promise<void>((resolve) => (this.#wakeUp = resolve));
        await nextTick();
        continue;
      }
      let deliveries: Delivery[];
      try {
        deliveries = await this.consumer.fetch(room, this.#fetchTimeout);
        failures = 0;
      } catch (error) {
        failures++;
        const delay = Math.min(100 * 2 ** failures, MAX_FETCH_BACKOFF);
        this.#log.error({ err: error, queue: this.queueName, retryInMs: delay }, "Fetching messages failed; retrying");
        await sleep(delay);
        continue;
      }
      if (deliveries.length === 0) continue;
      if (!this.#running) {
        // Stopped while the fetch was in flight: give these straight back.
        await this.consumer.requeue(deliveries).catch((error) => {
          this.#log.error({ err: error, queue: this.queueName }, "Could not requeue deliveries fetched during stop");
        });
        return;
      }
      this.outstanding += deliveries.length;
      this.queued += deliveries.length;
      this.#host.accept(this, deliveries);
    }
  }
}
