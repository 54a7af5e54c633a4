import type { Consumer, Delivery } from "../broker.ts";
import type { Logger } from "../logging.ts";

/** What a consumer loop needs from its worker. */
export interface ConsumerLoopHost {
  /** The whole worker is paused (Worker.pause). */
  readonly paused: boolean;
  /** `queue` is paused fleet-wide (see PausePoller): fetch nothing of it, give back what a fetch returns. */
  queuePaused(queue: string): boolean;
  accept(loop: ConsumerLoop, deliveries: Delivery[]): void;
}

const MAX_FETCH_BACKOFF = 5_000;
/** How long past its timeout an interrupted fetch may take before a stop goes on without it (ms). */
const STUCK_FETCH_MARGIN = 1_000;

/**
 * Keeps one queue's consumer fed: fetches as many deliveries as the prefetch window has room
 * for, hands them to the worker, and waits (without polling) when the window is full.
 *
 * Fetches are batched: once the window has filled, the loop fetches again when a quarter of
 * it is free, or at once when nothing fetched is left waiting to start (so actors never idle
 * for want of a fetch). The fetch is started from inside `release()`, synchronously: it goes
 * out while the rest of the window is still being worked through (a worker may run a whole
 * window of quick messages without yielding), so the broker's reply is usually back before the
 * worker runs dry. It carries the acks settled so far.
 *
 * At most one fetch is in flight; `#pump()` is the only place that starts one.
 */
export class ConsumerLoop {
  readonly queueName: string;
  readonly consumer: Consumer;
  /** Deliveries fetched and not yet settled or given back. */
  outstanding = 0;
  /** Deliveries handed to the worker that have not started yet (the worker keeps it). */
  queued = 0;
  /** Deliveries fetched since start: the stall watchdog's sign of progress. */
  received = 0;
  /** The prefetch window: deliveries this loop may hold (it may change between fetches). */
  readonly #window: () => number;
  readonly #fetchTimeout: number;
  readonly #host: ConsumerLoopHost;
  readonly #log: Logger;
  #running = false;
  #fetching = false;
  #failures = 0;
  #backoff: NodeJS.Timeout | undefined;
  #stopped: (() => void) | undefined;
  #abandoned = false;
  #closing = false;
  /** An abandoned loop's close, once nothing it fetched is left to settle. */
  #onDrained: (() => void) | undefined;

  constructor(options: {
    queueName: string;
    consumer: Consumer;
    /** The prefetch window, read before each fetch. */
    window: () => number;
    fetchTimeout: number;
    host: ConsumerLoopHost;
    logger: Logger;
  }) {
    this.queueName = options.queueName;
    this.consumer = options.consumer;
    this.#window = options.window;
    this.#fetchTimeout = options.fetchTimeout;
    this.#host = options.host;
    this.#log = options.logger;
  }

  start(): void {
    this.#running = true;
    this.#pump();
  }

  /** Called by the worker when a delivery is settled or given back: frees prefetch room. */
  release(count = 1): void {
    this.outstanding -= count;
    if (this.outstanding <= 0 && this.#onDrained !== undefined) this.#onDrained();
    this.#pump();
  }

  /** Called by the worker when a handed-over delivery starts (or is given back unstarted). */
  started(count = 1): void {
    this.queued -= count;
    if (this.queued === 0) this.#pump();
  }

  /** Called by the worker on resume() and when its queue resumes: fetching was held while paused. */
  resume(): void {
    this.#pump();
  }

  /**
   * True while this loop would fetch (or is fetching): running, and room in the window, as
   * `#pump` counts it. A loop that stays hungry and receives nothing while its queue has ready
   * messages is stalled (see StallWatchdog).
   */
  get hungry(): boolean {
    if (!this.#running || this.#held) return false;
    const window = this.#window();
    const room = window - this.outstanding;
    return room > 0 && (this.queued === 0 || room >= Math.max(1, window >> 2));
  }

  /** True while fetches fail (the broker is unreachable); false again after one succeeds. */
  get failing(): boolean {
    return this.#failures > 0;
  }

  /** Stops fetching; resolves when no fetch is in flight (at once if `abandoned`). The consumer stays open for acks. */
  stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#backoff);
    this.#backoff = undefined;
    if (!this.#fetching || this.#abandoned) return Promise.resolve();
    this.consumer.interrupt();
    return new Promise((resolve) => {
      // A fetch returns within its timeout; one that does not is stuck, and must not hold up the stop.
      const timer = setTimeout(() => {
        this.#log.warn({ queue: this.queueName }, "A fetch did not return after being interrupted; stopping without it");
        this.#abandoned = true;
        this.#wasStopped();
      }, this.#fetchTimeout + STUCK_FETCH_MARGIN);
      this.#stopped = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Its fetch is stuck for good: `stop()` no longer waits for it. */
  stuck(): void {
    this.#abandoned = true;
  }

  /**
   * Replaced by a new loop (its fetch seems stuck): stops fetching without waiting for the fetch
   * in flight, and closes the consumer once nothing it fetched is left to settle (at once if
   * nothing is; within `closeTimeout` ms at most). What the broker still counts as held by it
   * goes back as the broker does on a consumer's close; deliveries its stuck fetch may still
   * return are given back.
   */
  abandon(closeTimeout: number): void {
    this.#abandoned = true;
    void this.stop();
    const close = () => {
      if (this.#closing) return;
      this.#closing = true;
      clearTimeout(timer);
      void Promise.race([this.consumer.close(), new Promise((resolve) => setTimeout(resolve, closeTimeout).unref())]).catch((error: unknown) =>
        this.#log.error({ err: error, queue: this.queueName }, "Closing a stalled consumer failed"),
      );
    };
    const timer = setTimeout(close, closeTimeout);
    timer.unref();
    if (this.outstanding <= 0) close();
    else this.#onDrained = close;
  }

  /** Starts a fetch when one is due: a quarter of the window free, or nothing fetched waits to start. */
  #pump(): void {
    if (!this.#running || this.#fetching || this.#backoff !== undefined || this.#held) return;
    const window = this.#window();
    const room = window - this.outstanding;
    if (room <= 0 || (this.queued > 0 && room < Math.max(1, window >> 2))) return;
    this.#fetching = true;
    let fetched: Promise<Delivery[]>;
    try {
      fetched = this.consumer.fetch(room, this.#fetchTimeout);
    } catch (error) {
      fetched = Promise.reject(error);
    }
    fetched.then(this.#onFetched, this.#onFetchFailed);
  }

  get #held(): boolean {
    return this.#host.paused || this.#host.queuePaused(this.queueName);
  }

  readonly #onFetched = (deliveries: Delivery[]): void => {
    this.#failures = 0;
    if (this.#running && deliveries.length > 0 && this.#host.queuePaused(this.queueName)) {
      // Its queue was paused while the fetch was out: give these back unstarted. The fetch
      // counts as in flight until they are back, so that a stop waits for them.
      void this.#giveBack(deliveries).finally(() => {
        this.#fetching = false;
        if (this.#running) this.#pump();
        else this.#wasStopped();
      });
      return;
    }
    this.#fetching = false;
    if (!this.#running) {
      if (deliveries.length === 0) return this.#wasStopped();
      // Stopped while the fetch was in flight: give these straight back.
      void this.#giveBack(deliveries).finally(() => this.#wasStopped());
      return;
    }
    if (deliveries.length > 0) {
      this.received += deliveries.length;
      this.outstanding += deliveries.length;
      this.queued += deliveries.length;
      this.#host.accept(this, deliveries);
    }
    this.#pump();
  };

  #giveBack(deliveries: Delivery[]): Promise<void> {
    return this.consumer
      .requeue(deliveries)
      .catch((error: unknown) => this.#log.error({ err: error, queue: this.queueName, count: deliveries.length }, "Could not give back fetched deliveries; the broker will redeliver them"));
  }

  readonly #onFetchFailed = (error: unknown): void => {
    this.#fetching = false;
    if (!this.#running) return this.#wasStopped();
    this.#failures++;
    const delay = Math.min(100 * 2 ** this.#failures, MAX_FETCH_BACKOFF);
    this.#log.error({ err: error, queue: this.queueName, retryInMs: delay }, "Fetching messages failed; retrying");
    this.#backoff = setTimeout(() => {
      this.#backoff = undefined;
      this.#pump();
    }, delay);
  };

  #wasStopped(): void {
    const stopped = this.#stopped;
    this.#stopped = undefined;
    stopped?.();
  }
}
