import type { Broker, Delivery } from "./broker.ts";
import { getLogger, type Logger } from "./logging.ts";
import { MessageProxy } from "./message-proxy.ts";
import type { MiddlewareServices } from "./middleware.ts";
import { joinWorker } from "./worker/join.ts";
import { ConsumerLoop, type ConsumerLoopHost } from "./worker/consumer-loop.ts";
import { PrefetchWindow } from "./worker/prefetch-window.ts";
import { Processor } from "./worker/processor.ts";
import { Settler, type WorkItem } from "./worker/settler.ts";
import { StallWatchdog, type ConsumerState } from "./worker/stall-watchdog.ts";
import { Trimmer } from "./worker/trimmer.ts";
import { WorkQueue } from "./worker/work-queue.ts";
import type { WorkerOptions } from "./worker/options.ts";
import { PausePoller } from "./worker/pause-poller.ts";
export type { WorkerOptions } from "./worker/options.ts";

/**
 * Longest the worker runs messages back to back (ms) before it lets timers and I/O in: quick
 * actors finish synchronously, and a full batch must not hold back heartbeats, time limits or a
 * broker that delivers without I/O (the stub).
 */
const SLICE_MS = 10;

/** Options of `Worker.stop`. */ export interface StopOptions {
  /** How long in-flight actors may take to finish (ms). @defaultValue 600000 */
  timeout?: number;
}

/**
 * Runs actors: one consumer loop per queue feeds a work queue ordered by priority then arrival,
 * and up to `concurrency` actors run at once. Messages are acknowledged only after their actor
 * finished (late ack); failures go to the dead-letter queue; retries go back to the broker.
 */
export class Worker {
  /** The broker this worker consumes from. */ readonly broker: Broker;
  /** Actors running at once. @defaultValue 8 */ readonly concurrency: number;
  /** The prefetch window given in the options, or the adaptive window's floor (2 × concurrency). */
  readonly prefetch: number;
  /** Longest a fetch waits for messages before looping (ms). @defaultValue 1000 */ readonly fetchTimeout: number;
  /** See WorkerOptions.stallTimeout (ms; 0: off). @defaultValue 30000 */ readonly stallTimeout: number;
  /** Messages processed (settled) since start. */
  processed = 0;
  readonly #queueFilter: Set<string> | undefined;
  readonly #loops = new Map<string, ConsumerLoop>();
  readonly #work = new WorkQueue<WorkItem>();
  readonly #log: Logger;
  readonly #host: ConsumerLoopHost;
  #inFlight = 0;
  readonly #settler: Settler;
  readonly #processor: Processor;
  /** Set when the consumers start closing: late settles are then given back by the close. */
  #closing = false;
  /** True while #dispatch's loop runs. */
  #dispatching = false;
  /** True while dispatch waits for a setImmediate after a full slice. */
  #yielded = false;
  /**
   * performance.now() when the current slice began: at the last yield. Batches that follow each
   * other without I/O (the stub broker, or replies already read) are one slice; a worker that was
   * idle yields once soon after it starts again, which costs one setImmediate.
   */
  #sliceStart = 0;
  #sliceCount = 0;
  readonly #window: PrefetchWindow;
  readonly #trimmer: Trimmer;
  #watchdog: StallWatchdog | undefined;
  readonly #pauses: PausePoller | undefined;
  #state: "new" | "running" | "stopping" | "stopped" = "new";
  #paused = false;
  #idleWaiters: (() => void)[] = [];
  #unsubscribe: (() => void) | undefined;
  /** The chain's message scope, looked up once at start. */
  #scope: MiddlewareServices["messageScope"] | undefined;

  constructor(broker: Broker, options: WorkerOptions = {}) {
    this.broker = broker;
    this.concurrency = positiveInteger("concurrency", options.concurrency ?? 8);
    if (options.prefetch !== undefined) positiveInteger("prefetch", options.prefetch);
    this.#window = new PrefetchWindow({ concurrency: this.concurrency, prefetch: options.prefetch });
    this.prefetch = this.#window.floor;
    this.fetchTimeout = positiveInteger("fetchTimeout", options.fetchTimeout ?? 1000);
    this.stallTimeout = options.stallTimeout ?? 30_000;
    if (this.stallTimeout !== 0) positiveInteger("stallTimeout", this.stallTimeout);
    this.#queueFilter = options.queues ? new Set(options.queues) : undefined;
    this.#log = getLogger("worker");
    const worker = this;
    this.#host = {
      get paused() {
        return worker.#paused;
      },
      accept: (loop, deliveries) => this.#accept(loop, deliveries),
      queuePaused: (queue) => this.#pauses?.has(queue) === true,
    };
    this.#trimmer = new Trimmer({
      get running() { return worker.#state === "running"; }, // prettier-ignore
      get inFlight() { return worker.#inFlight; }, // prettier-ignore
      concurrency: this.concurrency, window: this.#window, work: this.#work, log: this.#log,
      giveBack: (items) => void this.#settler.giveBack(items),
    });
    this.#pauses = PausePoller.for(broker, options, {
      queues: () => this.#loops.keys(), log: this.#log, resumed: (queue) => this.#loops.get(queue)?.resume(),
      paused: (queue) => this.#settler.giveBack(this.#work.remove((item) => item.loop.queueName === queue)),
    });
    this.#processor = new Processor(broker, this.#log);
    this.#settler = new Settler(
      broker,
      {
        get closing() {
          return worker.#closing;
        },
        settled: () => {
          this.processed++;
          this.#wakeIdleWaiters();
        },
      },
      this.#log,
    );
  }

  /** Actors currently running. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Runs failed by a time limit, a cancel or a shutdown while their actor kept working (it ignored its
   * AbortSignal). The worker's slots are free for other messages meanwhile: real concurrency can exceed `concurrency` by `running`.
   */
  get abandoned(): {
    /** Such runs since start. */ total: number;
    /** Those not finished yet. */ running: number;
  } {
    return { total: this.#processor.abandoned, running: this.#processor.abandonedRunning };
  }

  /** Queues this worker consumes. */
  get queues(): string[] {
    return [...this.#loops.keys()];
  }

  /** True from `start()` until `stop()` begins. */ get running(): boolean {
    return this.#state === "running";
  }

  /** Queues paused fleet-wide as this worker last read the flags (see `pausePoll`). */
  get pausedQueues(): string[] {
    return this.#pauses?.queues ?? [];
  }

  /** How each queue's consumer is doing (see `stallTimeout`); every one `connected` while the watchdog is off. */
  get consumers(): ConsumerState[] {
    return this.#watchdog?.states() ?? this.queues.map((queue) => ({ queue, state: "connected" }));
  }

  /** Set when a stalled consumer could not be fixed by a restart (it stalled again, or the restart failed): why. */
  get stallFailure(): string | undefined {
    return this.#watchdog?.failed;
  }

  /** Starts consuming every selected queue (and queues declared later, when no filter was given; not those only sent to). */
  async start(): Promise<void> {
    if (this.#state !== "new") throw new Error(`Worker cannot start: it is ${this.#state}`);
    this.#state = "running";
    this.#scope = this.broker.service("messageScope");
    await this.broker.emit("beforeWorkerBoot", this.broker, this);
    await this.#pauses?.start(this.#queueFilter ?? this.broker.queues);
    for (const queue of this.broker.queues) await this.#startConsumer(queue);
    if (this.#queueFilter) {
      for (const queue of this.#queueFilter) if (!this.broker.queues.has(queue)) this.broker.declareQueue(queue);
    }
    this.#unsubscribe = this.broker.onQueueDeclared((queue) => {
      this.#pauses?.declared(queue);
      void this.#startConsumer(queue);
    });
    if (this.stallTimeout > 0) {
      const host = { running: () => this.#state === "running" && !this.#paused, loops: () => this.#loops.values(), log: this.#log };
      this.#watchdog = new StallWatchdog({ ...host, depths: (queue) => this.broker.depths(queue), restart: (loop) => this.#restartConsumer(loop) }, this.stallTimeout);
      this.#watchdog.start();
    }
    await this.broker.emit("afterWorkerThreadBoot", this.broker, this);
    await this.broker.emit("afterWorkerBoot", this.broker, this);
    this.#log.info({ queues: this.queues, concurrency: this.concurrency, prefetch: this.#window.adaptive ? "adaptive" : this.prefetch }, "Worker started");
  }

  async #startConsumer(queueName: string): Promise<void> {
    if (this.#state !== "running" || this.#loops.has(queueName)) return;
    if (this.#queueFilter ? !this.#queueFilter.has(queueName) : this.broker.declaredBySend(queueName)) return;
    this.#newLoop(queueName);
    await this.broker.emit("afterConsumerThreadBoot", this.broker, this, queueName);
  }

  #newLoop(queueName: string): ConsumerLoop {
    const consumer = this.broker.consume(queueName, { prefetch: this.prefetch });
    const loop = new ConsumerLoop({ queueName, consumer, window: this.#windowSize, fetchTimeout: this.fetchTimeout, host: this.#host, logger: this.#log });
    this.#loops.set(queueName, loop);
    loop.start();
    return loop;
  }

  /** The watchdog's cure for a stalled consumer: a new one takes over; the old one closes once what it fetched is settled. */
  #restartConsumer(stalled: ConsumerLoop): ConsumerLoop {
    const loop = this.#newLoop(stalled.queueName);
    stalled.abandon(this.stallTimeout);
    return loop;
  }

  readonly #windowSize = (): number => this.#window.size(this.#inFlight);

  /** Stops fetching and holds prefetched messages until `resume()`; running actors go on. */
  pause(): void {
    this.#paused = true;
  }

  /** Resumes fetching and running after `pause()`. */ resume(): void {
    this.#paused = false;
    for (const loop of this.#loops.values()) loop.resume();
    this.#dispatch();
  }

  /**
   * Graceful stop: stop fetching, give unstarted messages back to the broker, let running
   * actors finish within `timeout`, then close the consumers. Actors still running after the
   * timeout stay unacknowledged, so the broker redelivers them.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    if (this.#state !== "running") return;
    this.#state = "stopping";
    this.#trimmer.stop();
    this.#watchdog?.stop();
    const pauses = this.#pauses?.stop();
    const timeout = options.timeout ?? 600_000;
    const broker = this.broker;
    this.#unsubscribe?.();
    await broker.emit("beforeWorkerShutdown", broker, this);
    await Promise.all([...this.#loops.values()].map((loop) => loop.stop()));
    await pauses;
    await broker.emit("beforeWorkerThreadShutdown", broker, this);

    await this.#settler.giveBack(this.#work.drain());
    if (!(await this.#waitIdle(timeout))) {
      this.#log.warn({ running: this.#inFlight, timeoutMs: timeout }, "Shutdown timeout passed; unfinished messages will be redelivered");
    }
    this.#closing = true;
    for (const loop of this.#loops.values()) {
      await broker.emit("beforeConsumerThreadShutdown", broker, this, loop.queueName);
      await loop.consumer.close().catch((error) => this.#log.error({ err: error, queue: loop.queueName }, "Closing consumer failed"));
    }
    this.#state = "stopped";
    await broker.emit("afterWorkerShutdown", broker, this);
    this.#log.info({ processed: this.processed }, "Worker stopped");
  }

  /**
   * Resolves when every consumed queue is drained (nothing ready, delayed or running) and this
   * worker is idle. For tests and scripts; pass a timeout through the broker's `join` if needed.
   */
  join(): Promise<void> {
    return joinWorker(this.broker, () => this.#loops.keys(), () => this.#work.size === 0 && this.#inFlight === 0 && this.#settler.pending === 0);
  }

  /** Resolves true once no actor runs and no settle awaits the broker, false after `timeout`. */
  #waitIdle(timeout: number): Promise<boolean> {
    if (this.#inFlight === 0 && this.#settler.pending === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeout);
      this.#idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  #accept(loop: ConsumerLoop, deliveries: Delivery[]): void {
    for (const delivery of deliveries) {
      let proxy: MessageProxy;
      try {
        proxy = new MessageProxy(this.broker.decode(delivery.body), delivery);
      } catch (error) {
        loop.started();
        void this.#settler.rejectUndecodable(loop, delivery, error).then(() => loop.release());
        continue;
      }
      const priority = this.broker.priorityOf(proxy.message);
      this.#work.push(priority, { proxy, loop, settled: false });
    }
    this.#dispatch();
    if (this.#window.adaptive && this.#work.size > 0) this.#trimmer.arm();
  }

  #dispatch(): void {
    // Messages often finish synchronously, inside #handle: their #finish calls back here, and
    // the loop already running below takes the freed slot (no recursion, however long the run).
    if (this.#dispatching || this.#yielded) return;
    this.#dispatching = true;
    try {
      // A hook may stop or pause the worker mid-run (--max-messages does): look again each time.
      while (this.#state === "running" && !this.#paused && this.#inFlight < this.concurrency && this.#work.size > 0) {
        if (++this.#sliceCount === 32) {
          this.#sliceCount = 0;
          if (performance.now() - this.#sliceStart > SLICE_MS) {
            this.#yield();
            break;
          }
        }
        const item = this.#work.shift()!;
        item.loop.started();
        this.#window.started(++this.#inFlight);
        this.#handle(item);
      }
    } finally {
      this.#dispatching = false;
    }
  }

  /** Lets timers and I/O run, then goes on dispatching. */
  #yield(): void {
    this.#yielded = true;
    setImmediate(() => {
      this.#yielded = false;
      this.#sliceStart = performance.now();
      this.#dispatch();
    });
  }

  /**
   * The actor and its hooks are done and the settle is on its way to the broker: the slot and
   * the prefetch room free up now. Waiting for the broker's confirmation first would leave a
   * slot idle for a round trip per message (and at concurrency 1 serialize every message
   * behind its ack); the next fetch can also share the ack's write this way.
   */
  #finish(item: WorkItem): void {
    this.#inFlight--;
    if (this.#window.adaptive) {
      const startedAt = item.proxy.startedAt;
      this.#window.finished(startedAt > 0 ? Date.now() - startedAt : 0);
    }
    item.loop.release();
    this.#wakeIdleWaiters();
    if (this.#state === "running") this.#dispatch();
  }

  #wakeIdleWaiters(): void {
    if (this.#inFlight === 0 && this.#settler.pending === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /**
   * Processes one item, settles it, then frees its slot. The steps (before-hooks, actor,
   * after-hooks) run synchronously for as long as none returns a promise: a quick actor under
   * the default middleware costs no promise and no extra turn of the event loop. However the
   * steps end, the message is settled: this is the worker's one `finally`. A message scope
   * (see MiddlewareServices) covers everything from the before-hooks to the settle.
   */
  #handle(item: WorkItem): void {
    const scope = this.#scope;
    const done = scope?.active ? scope.run(item.proxy, () => this.#process(item)) : this.#process(item);
    if (done) this.#finish(item);
  }

  /** True when the message was settled synchronously; otherwise its promise settles it and frees the slot. */
  #process(item: WorkItem): boolean {
    let pending: Promise<void> | undefined;
    try {
      pending = this.#processor.process(item.proxy);
    } catch (error) {
      this.#processor.unexpected(item.proxy, error);
    }
    if (pending === undefined) {
      this.#settler.settle(item);
      return true;
    }
    pending.then(
      () => this.#endLater(item),
      (error) => {
        this.#processor.unexpected(item.proxy, error);
        this.#endLater(item);
      },
    );
    return false;
  }

  #endLater(item: WorkItem): void {
    this.#settler.settle(item);
    const scope = this.#scope;
    if (scope?.active) scope.outside(() => this.#finish(item));
    else this.#finish(item);
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`Worker option ${name} must be a positive integer, got ${value}`);
  return value;
}
