import type { QueueDepths } from "../broker-types.ts";
import type { Logger } from "../logging.ts";
import type { ConsumerLoop } from "./consumer-loop.ts";

/**
 * How one of a worker's consumers is doing: `connected` (fetching, or full), `failing` (its
 * fetches fail: the broker is unreachable), `stalled` (see StallWatchdog; until the consumer
 * that replaced it fetched messages or its queue was seen without ready messages).
 */
export interface ConsumerState {
  /** The queue the consumer consumes. */
  readonly queue: string;
  /** How it is doing. */
  readonly state: "connected" | "failing" | "stalled";
}

/** What a StallWatchdog needs from its worker. */
export interface StallWatchdogHost {
  /** False while the worker is paused or stopping: no consumer stalls then. */
  running(): boolean;
  loops(): Iterable<ConsumerLoop>;
  depths(queue: string): Promise<QueueDepths>;
  /** Closes the loop's consumer and starts a new loop on a new one; throws if that fails. */
  restart(loop: ConsumerLoop): ConsumerLoop;
  readonly log: Logger;
}

interface Watch {
  loop: ConsumerLoop;
  /** `loop.received` when last seen moving; `since` is when. */
  received: number;
  since: number;
  checking: boolean;
  stalled: boolean;
}

/**
 * Detects consumers that stay connected but stop consuming (Dramatiq #578, Celery #10205,
 * BullMQ #4479): a consumer loop that has had room to fetch and received nothing for `timeout`
 * ms while its queue has ready messages. Looks at the loops every `timeout / 4` ms (at most
 * every second); asks the broker for the queue's depths only then, once per `timeout` per idle
 * loop, never per fetch. A stalled consumer is logged and restarted (a new consumer replaces
 * it; see ConsumerLoop.abandon). If the new one stalls too, or the restart fails, `failed`
 * says why: the process must be replaced (the CLI's worker processes then retire).
 */
export class StallWatchdog {
  readonly #host: StallWatchdogHost;
  readonly #timeout: number;
  readonly #watches = new Map<string, Watch>();
  #timer: NodeJS.Timeout | undefined;
  #failed: string | undefined;

  constructor(host: StallWatchdogHost, timeout: number) {
    this.#host = host;
    this.#timeout = timeout;
  }

  start(): void {
    this.#timer = setInterval(() => this.#tick(), Math.max(10, Math.min(1_000, this.#timeout / 4)));
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Why this worker's consumers cannot be fixed in place, if they cannot. */
  get failed(): string | undefined {
    return this.#failed;
  }

  /** Each consumed queue's state. */
  states(): ConsumerState[] {
    return [...this.#host.loops()].map((loop) => ({
      queue: loop.queueName,
      state: this.#watches.get(loop.queueName)?.stalled ? "stalled" : loop.failing ? "failing" : "connected",
    }));
  }

  #tick(): void {
    const now = Date.now();
    const running = this.#host.running();
    for (const loop of this.#host.loops()) {
      let watch = this.#watches.get(loop.queueName);
      if (watch === undefined || watch.loop !== loop) {
        watch = { loop, received: loop.received, since: now, checking: false, stalled: watch?.stalled ?? false };
        this.#watches.set(loop.queueName, watch);
      }
      if (!running || loop.received !== watch.received || !loop.hungry) {
        // Busy, full or held: no stall (and one that was is over).
        if (watch.stalled && running && !watch.checking) this.#recovered(watch);
        watch.received = loop.received;
        watch.since = now;
        continue;
      }
      if (watch.checking || now - watch.since < this.#timeout) continue;
      watch.checking = true;
      this.#host.depths(loop.queueName).then(
        (depths) => this.#checked(watch, depths.ready),
        (error: unknown) => {
          watch.checking = false;
          watch.since = Date.now();
          this.#host.log.debug({ err: error, queue: loop.queueName }, "Stall check: cannot read the queue's depths");
        },
      );
    }
  }

  #checked(watch: Watch, ready: number): void {
    watch.checking = false;
    const idleMs = Date.now() - watch.since;
    watch.since = Date.now();
    const { loop } = watch;
    if (this.#watches.get(loop.queueName) !== watch || loop.received !== watch.received || !loop.hungry || !this.#host.running()) return;
    if (ready === 0) {
      if (watch.stalled) this.#recovered(watch);
      return;
    }
    const fields = { queue: loop.queueName, ready, idleMs, stallTimeoutMs: this.#timeout };
    if (watch.stalled) {
      loop.stuck();
      this.#fail(fields, `the consumer of ${loop.queueName} stalled again after a restart`);
      return;
    }
    watch.stalled = true;
    this.#host.log.error(fields, "Consumer stalled: it has room for messages, its queue has ready ones, and it fetched nothing; restarting it");
    try {
      watch.loop = this.#host.restart(loop);
      watch.received = watch.loop.received;
    } catch (error) {
      loop.stuck();
      this.#fail({ ...fields, err: error }, `the consumer of ${loop.queueName} stalled and could not be restarted`);
    }
  }

  #recovered(watch: Watch): void {
    watch.stalled = false;
    this.#host.log.info({ queue: watch.loop.queueName }, "Consumer recovered: fetching again");
  }

  #fail(fields: Record<string, unknown>, reason: string): void {
    if (this.#failed !== undefined) return;
    this.#failed = reason;
    this.#host.log.error(fields, `Consumer stalled and a restart did not help: ${reason}; this process needs replacing`);
  }
}
