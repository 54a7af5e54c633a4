import type { Actor, ActorContext } from "./actor.ts";
import type { Broker, Delivery } from "./broker.ts";
import { ActorNotFound, describeError, MessageCancelled, Retry, SkipMessage } from "./errors.ts";
import { getLogger, messageFields, type Logger } from "./logging.ts";
import type { Message } from "./message.ts";
import { MessageProxy } from "./message-proxy.ts";
import { sleep } from "./sleep.ts";
import { ConsumerLoop, type ConsumerLoopHost } from "./worker/consumer-loop.ts";
import { WorkQueue } from "./worker/work-queue.ts";
import type { ProcessOutcome } from "../middleware/middleware.ts";

export interface WorkerOptions {
  /** Canonical names of the queues to consume. @defaultValue every declared queue, including later ones */
  queues?: Iterable<string>;
  /** Actors running at once in this worker (async actors share the event loop). @defaultValue 8 */
  concurrency?: number;
  /**
   * Unacknowledged deliveries each queue's consumer may hold, running ones included.
   * @defaultValue adaptive: 2 × concurrency, or more while this worker is finishing messages
   * quickly: as many as it finished in the last 10 ms or so (at most 1024)
   */
  prefetch?: number;
  /** Longest a fetch waits for messages before looping (ms). @defaultValue 1000 */
  fetchTimeout?: number;
}

/** The adaptive window holds about this many ms of the worker's recent throughput. */
const PREFETCH_WORK_MS = 10;
/** Throughput is measured over spans of at least this many ms. */
const RATE_SPAN_MS = 5;
/**
 * Longest the worker runs messages back to back (ms) before it lets timers and I/O in: quick
 * actors finish synchronously, and a full batch must not hold back heartbeats, time limits or a
 * broker that delivers without I/O (the stub).
 */
const SLICE_MS = 10;
/** The adaptive window never grows past this (or 2 × concurrency, when that is larger). */
const MAX_ADAPTIVE_PREFETCH = 1024;

export interface StopOptions {
  /** How long in-flight actors may take to finish (ms). @defaultValue 600000 */
  timeout?: number;
}

/**
 * Runs actors: one consumer loop per queue feeds a work queue ordered by priority then arrival,
 * and up to `concurrency` actors run at once. Messages are acknowledged only after their actor
 * finished (late ack); failures go to the dead-letter queue; retries go back to the broker.
 */
export class Worker {
  readonly broker: Broker;
  readonly concurrency: number;
  /** The prefetch window given in the options, or the adaptive window's floor (2 × concurrency). */
  readonly prefetch: number;
  readonly fetchTimeout: number;
  /** Messages processed (settled) since start. */
  processed = 0;
  readonly #queueFilter: Set<string> | undefined;
  readonly #loops = new Map<string, ConsumerLoop>();
  readonly #work = new WorkQueue<WorkItem>();
  readonly #log: Logger;
  readonly #host: ConsumerLoopHost;
  #inFlight = 0;
  /** The acks waiting on the latest ack promise (see #watchAcks). */
  #ackGroup: AckGroup | undefined;
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
  readonly #adaptive: boolean;
  /** Messages finished per ms, recently (a moving average over spans); 0 until measured. */
  #rate = 0;
  #spanCount = 0;
  #spanStart = performance.now();
  /** Acks, nacks and retries sent to the broker and not yet confirmed. */
  #settling = 0;
  #state: "new" | "running" | "stopping" | "stopped" = "new";
  #paused = false;
  #idleWaiters: (() => void)[] = [];
  #unsubscribe: (() => void) | undefined;

  constructor(broker: Broker, options: WorkerOptions = {}) {
    this.broker = broker;
    this.concurrency = positiveInteger("concurrency", options.concurrency ?? 8);
    this.prefetch = positiveInteger("prefetch", options.prefetch ?? this.concurrency * 2);
    this.#adaptive = options.prefetch === undefined;
    this.fetchTimeout = positiveInteger("fetchTimeout", options.fetchTimeout ?? 1000);
    this.#queueFilter = options.queues ? new Set(options.queues) : undefined;
    this.#log = getLogger("worker");
    const worker = this;
    this.#host = {
      get paused() {
        return worker.#paused;
      },
      accept: (loop, deliveries) => this.#accept(loop, deliveries),
    };
  }

  /** Actors currently running. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Queues this worker consumes. */
  get queues(): string[] {
    return [...this.#loops.keys()];
  }

  get running(): boolean {
    return this.#state === "running";
  }

  /** Starts consuming every selected queue (and queues declared later, when no filter was given). */
  async start(): Promise<void> {
    if (this.#state !== "new") throw new Error(`Worker cannot start: it is ${this.#state}`);
    this.#state = "running";
    await this.broker.emit("beforeWorkerBoot", this.broker, this);
    for (const queue of this.broker.queues) await this.#startConsumer(queue);
    if (this.#queueFilter) {
      for (const queue of this.#queueFilter) if (!this.broker.queues.has(queue)) this.broker.declareQueue(queue);
    }
    this.#unsubscribe = this.broker.onQueueDeclared((queue) => void this.#startConsumer(queue));
    await this.broker.emit("afterWorkerThreadBoot", this.broker, this);
    await this.broker.emit("afterWorkerBoot", this.broker, this);
    this.#log.info({ queues: this.queues, concurrency: this.concurrency, prefetch: this.#adaptive ? "adaptive" : this.prefetch }, "Worker started");
  }

  async #startConsumer(queueName: string): Promise<void> {
    if (this.#state !== "running" || this.#loops.has(queueName)) return;
    if (this.#queueFilter && !this.#queueFilter.has(queueName)) return;
    const loop = new ConsumerLoop({
      queueName,
      consumer: this.broker.consume(queueName, { prefetch: this.prefetch }),
      window: this.#window,
      fetchTimeout: this.fetchTimeout,
      host: this.#host,
      logger: this.#log,
    });
    this.#loops.set(queueName, loop);
    loop.start();
    await this.broker.emit("afterConsumerThreadBoot", this.broker, this, queueName);
  }

  /**
   * The prefetch window. Adaptive by default: what this worker finished in about the last
   * PREFETCH_WORK_MS. Quick messages then come in large batches (fewer round trips and acks per
   * message), while slow ones are not hoarded away from other workers: a worker holds little
   * more than it runs until it has shown it gets through more.
   */
  readonly #window = (): number => {
    const floor = this.prefetch;
    if (!this.#adaptive) return floor;
    return Math.max(floor, Math.min(Math.ceil(this.#rate * PREFETCH_WORK_MS), MAX_ADAPTIVE_PREFETCH));
  };

  /** Counts a finished message toward the throughput that sizes the adaptive window. */
  #measure(): void {
    this.#spanCount++;
    const now = performance.now();
    const elapsed = now - this.#spanStart;
    if (elapsed < RATE_SPAN_MS) return;
    // A span that began before an idle stretch counts it: the rate, and so the window, falls back.
    const rate = this.#spanCount / elapsed;
    this.#rate = this.#rate === 0 ? rate : (this.#rate + rate) / 2;
    this.#spanCount = 0;
    this.#spanStart = now;
  }

  /** Stops fetching and holds prefetched messages until `resume()`; running actors go on. */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
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
    const timeout = options.timeout ?? 600_000;
    const broker = this.broker;
    this.#unsubscribe?.();
    await broker.emit("beforeWorkerShutdown", broker, this);
    await Promise.all([...this.#loops.values()].map((loop) => loop.stop()));
    await broker.emit("beforeWorkerThreadShutdown", broker, this);

    await this.#giveBackUnstarted();
    if (!(await this.#waitIdle(timeout))) {
      this.#log.warn({ running: this.#inFlight, timeoutMs: timeout }, "Shutdown timeout passed; unfinished messages will be redelivered");
    }
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
  async join(): Promise<void> {
    for (;;) {
      for (const queue of this.#loops.keys()) await this.broker.join(queue, { failFast: false });
      if (this.#work.size === 0 && this.#inFlight === 0 && this.#settling === 0) {
        let busy = false;
        for (const queue of this.#loops.keys()) {
          const d = await this.broker.depths(queue);
          if (d.ready + d.delayed + d.inFlight > 0) busy = true;
        }
        if (!busy) return;
      }
      await sleep(5);
    }
  }

  async #giveBackUnstarted(): Promise<void> {
    const items = this.#work.drain();
    const byLoop = new Map<ConsumerLoop, Delivery[]>();
    for (const item of items) {
      const list = byLoop.get(item.loop) ?? [];
      list.push(item.proxy.delivery);
      byLoop.set(item.loop, list);
    }
    for (const [loop, deliveries] of byLoop) {
      try {
        await loop.consumer.requeue(deliveries);
      } catch (error) {
        this.#log.error({ err: error, queue: loop.queueName, count: deliveries.length }, "Could not give back unstarted messages; the broker will redeliver them");
      }
      loop.started(deliveries.length);
      loop.release(deliveries.length);
    }
  }

  /** Resolves true once no actor runs and no settle awaits the broker, false after `timeout`. */
  #waitIdle(timeout: number): Promise<boolean> {
    if (this.#inFlight === 0 && this.#settling === 0) return Promise.resolve(true);
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
        void this.#deadLetterUndecodable(loop, delivery, error);
        continue;
      }
      const priority = this.broker.priorityOf(proxy.message);
      this.#work.push(priority, { proxy, loop });
    }
    this.#dispatch();
  }

  async #deadLetterUndecodable(loop: ConsumerLoop, delivery: Delivery, error: unknown): Promise<void> {
    const reason = describeError(error);
    this.#log.error({ queue: loop.queueName, reason }, "Dead-lettering a message that cannot be decoded");
    await this.#settleWithRetry(loop, () => loop.consumer.nack(delivery, reason, error));
    loop.release();
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
        this.#inFlight++;
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
    if (this.#adaptive) this.#measure();
    item.loop.release();
    this.#wakeIdleWaiters();
    if (this.#state === "running") this.#dispatch();
  }

  /** Settles in the background; `stop()` and `join()` wait for it to be confirmed. */
  #beginSettle(loop: ConsumerLoop, proxy: MessageProxy): void {
    this.#settling++;
    const broker = this.broker;
    // The common case, a plain ack nobody hooks, without #settle's machinery: one promise.
    if (proxy.retry === undefined && !proxy.failed && !broker.hasHook("beforeAck") && !broker.hasHook("afterAck")) {
      let acked: Promise<void>;
      try {
        acked = loop.consumer.ack(proxy.delivery);
      } catch (error) {
        acked = Promise.reject(error);
      }
      // Brokers batch acks and hand every ack of a batch the same promise: wait on it once.
      const group = this.#ackGroup;
      if (group !== undefined && group.promise === acked) group.members.push(loop, proxy);
      else this.#watchAcks(acked, loop, proxy);
      return;
    }
    this.#settle(loop, proxy).then(this.#onSettled, (error) => this.#settleFailed(proxy, error));
  }

  readonly #onSettled = (): void => this.#settled();

  /** Starts watching a batch's ack promise; later acks of the same batch join its group. */
  #watchAcks(promise: Promise<void>, loop: ConsumerLoop, proxy: MessageProxy): void {
    const group: AckGroup = { promise, members: [loop, proxy] };
    this.#ackGroup = group;
    promise.then(
      () => {
        if (this.#ackGroup === group) this.#ackGroup = undefined;
        for (let i = 0; i < group.members.length; i += 2) this.#settled();
      },
      (error: unknown) => {
        if (this.#ackGroup === group) this.#ackGroup = undefined;
        const m = group.members;
        for (let i = 0; i < m.length; i += 2) this.#ackFailed(m[i] as ConsumerLoop, m[i + 1] as MessageProxy, error);
      },
    );
  }

  #ackFailed(loop: ConsumerLoop, proxy: MessageProxy, error: unknown): void {
    this.#retrySettle(loop, () => loop.consumer.ack(proxy.delivery), error).then(this.#onSettled, (e) => this.#settleFailed(proxy, e));
  }

  #settleFailed(proxy: MessageProxy, error: unknown): void {
    this.#log.error({ err: error, ...messageFields(proxy) }, "Unexpected error while settling a message");
    this.#settled();
  }

  #settled(): void {
    this.#settling--;
    this.processed++;
    this.#wakeIdleWaiters();
  }

  #wakeIdleWaiters(): void {
    if (this.#inFlight === 0 && this.#settling === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /**
   * Processes one item, then frees its slot. The steps (before-hooks, actor, after-hooks,
   * settle) run synchronously for as long as none returns a promise: a quick actor under the
   * default middleware costs no promise and no extra turn of the event loop.
   */
  #handle(item: WorkItem): void {
    let pending: Promise<void> | undefined;
    try {
      pending = this.#process(item);
    } catch (error) {
      this.#unexpected(item, error);
    }
    if (pending === undefined) return this.#finish(item);
    pending.then(
      () => this.#finish(item),
      (error) => {
        this.#unexpected(item, error);
        this.#finish(item);
      },
    );
  }

  #unexpected(item: WorkItem, error: unknown): void {
    this.#log.error({ err: error, ...messageFields(item.proxy) }, "Unexpected error while processing a message");
  }

  #process(item: WorkItem): Promise<void> | undefined {
    const { proxy, loop } = item;
    const broker = this.broker;
    const actor = broker.findActor(proxy.actorName);
    if (actor === undefined) {
      proxy.fail(new ActorNotFound(proxy.actorName));
      this.#beginSettle(loop, proxy);
      return undefined;
    }
    if (this.#log.isLevelEnabled("debug")) this.#log.debug({ ...messageFields(proxy), redelivered: proxy.redelivered }, "Message received");
    let before: void | Promise<void>;
    try {
      // Hooks return a promise only when they have something to wait for.
      before = broker.emit("beforeProcessMessage", broker, proxy);
    } catch (error) {
      return this.#skip(item, error);
    }
    if (before === undefined) return this.#runActor(item, actor);
    return before.then(
      () => this.#runActor(item, actor),
      (error) => this.#skip(item, error),
    );
  }

  /** A before-hook threw: SkipMessage settles the message unrun; anything else is unexpected. */
  async #skip({ proxy, loop }: WorkItem, error: unknown): Promise<void> {
    if (!(error instanceof SkipMessage)) throw error;
    if (proxy.failed && proxy.error === undefined) proxy.error = error;
    this.#log.info({ ...messageFields(proxy), reason: error.message }, "Message skipped");
    await this.broker.emit("afterSkipMessage", this.broker, proxy);
    return this.#beginSettle(loop, proxy);
  }

  #runActor(item: WorkItem, actor: Actor): Promise<void> | undefined {
    const proxy = item.proxy;
    if (proxy.failed) return this.#afterRun(item, NO_RESULT);
    proxy.startedAt = Date.now();
    if (this.#log.isLevelEnabled("debug")) this.#log.debug(messageFields(proxy), "Actor started");
    let out: unknown;
    try {
      out = this.#run(actor, proxy);
    } catch (error) {
      return this.#afterRun(item, this.#failed(proxy, error));
    }
    if (out instanceof Promise) {
      return out.then(
        (result: unknown) => this.#afterRun(item, this.#succeeded(proxy, result)),
        (error: unknown) => this.#afterRun(item, this.#failed(proxy, error)),
      );
    }
    return this.#afterRun(item, this.#succeeded(proxy, out));
  }

  #succeeded(proxy: MessageProxy, result: unknown): ProcessOutcome {
    if (this.#log.isLevelEnabled("debug")) this.#log.debug({ ...messageFields(proxy), durationMs: Date.now() - proxy.startedAt }, "Actor succeeded");
    return result === undefined ? NO_RESULT : { result };
  }

  #failed(proxy: MessageProxy, error: unknown): ProcessOutcome {
    proxy.error = error;
    // Once per failed attempt, with the stack; Retries then says whether it will retry.
    const level = error instanceof Retry ? "debug" : error instanceof MessageCancelled ? "info" : "warn";
    this.#log[level]({ ...messageFields(proxy), durationMs: Date.now() - proxy.startedAt, err: error }, "Actor failed");
    return { error };
  }

  #afterRun({ proxy, loop }: WorkItem, outcome: ProcessOutcome): Promise<void> | undefined {
    const broker = this.broker;
    const after = broker.emit("afterProcessMessage", broker, proxy, outcome);
    if (after !== undefined) return after.then(() => this.#beginSettle(loop, proxy));
    this.#beginSettle(loop, proxy);
    return undefined;
  }

  /** Calls the actor, and fails at once if a middleware aborts the run (time limit, shutdown). */
  #run(actor: Actor, proxy: MessageProxy): unknown {
    const message = proxy.message;
    let args: unknown[] = message.args;
    for (const _ in message.kwargs) {
      // Keyword arguments (from Python producers) arrive as one trailing object.
      args = [...args, message.kwargs];
      break;
    }
    const context = new RunContext(proxy);
    const out = this.broker.wrapProcess(proxy, () => actor.invoke(args, context));
    if (out === null || typeof out !== "object" || typeof (out as Promise<unknown>).then !== "function") return out;
    return raceAbort(out as Promise<unknown>, proxy);
  }

  async #settle(loop: ConsumerLoop, proxy: MessageProxy): Promise<void> {
    const broker = this.broker;
    const consumer = loop.consumer;
    if (proxy.retry) {
      const { message, delay } = proxy.retry;
      await broker.emit("beforeEnqueue", broker, message, delay);
      await broker.emit("beforeAck", broker, proxy);
      await this.#settleWithRetry(loop, () => consumer.retry(proxy.delivery, message, delay));
      await broker.emit("afterAck", broker, proxy);
      await broker.emit("afterEnqueue", broker, message, delay);
    } else if (proxy.failed) {
      const reason = proxy.deadLetterReason ?? (proxy.error === undefined ? "Message failed" : describeError(proxy.error));
      proxy.deadLetterReason = reason;
      const ran = proxy.startedAt > 0 ? { durationMs: Date.now() - proxy.startedAt } : {};
      this.#log.error({ ...messageFields(proxy), ...ran, reason }, "Message dead-lettered");
      await broker.emit("beforeNack", broker, proxy);
      await this.#settleWithRetry(loop, () => consumer.nack(proxy.delivery, reason, proxy.error));
      await broker.emit("afterNack", broker, proxy);
    } else {
      await broker.emit("beforeAck", broker, proxy);
      await this.#settleWithRetry(loop, () => consumer.ack(proxy.delivery));
      await broker.emit("afterAck", broker, proxy);
    }
  }

  /**
   * Acks and nacks must not be lost to a passing connection error: retry with backoff until
   * they succeed or the worker has stopped (the broker then redelivers the message).
   */
  async #settleWithRetry(loop: ConsumerLoop, operation: () => Promise<void>): Promise<void> {
    try {
      return await operation();
    } catch (error) {
      return this.#retrySettle(loop, operation, error);
    }
  }

  /** The retries of #settleWithRetry, after a first attempt failed with `error`. */
  async #retrySettle(loop: ConsumerLoop, operation: () => Promise<void>, error: unknown): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (this.#state === "stopped") throw error;
      const delay = Math.min(100 * 2 ** attempt, 5_000);
      this.#log.error({ err: error, queue: loop.queueName, attempt, retryInMs: delay }, "Settling a message failed; retrying");
      await sleep(delay);
      try {
        return await operation();
      } catch (next) {
        error = next;
      }
    }
  }
}

/** The outcome of a run that returned nothing (shared: hooks only read outcomes). */
const NO_RESULT: ProcessOutcome = Object.freeze({ result: undefined });

/** An actor's `this` while the worker runs it (a class: cheaper to make than a literal with a getter). */
class RunContext implements ActorContext {
  readonly #proxy: MessageProxy;
  readonly message: Message;

  constructor(proxy: MessageProxy) {
    this.#proxy = proxy;
    this.message = proxy.message;
  }

  /** Created on first use, by the proxy. */
  get signal(): AbortSignal {
    return this.#proxy.signal;
  }
}

/** Acks sharing one broker promise: flat pairs of loop and proxy. */
interface AckGroup {
  readonly promise: Promise<void>;
  readonly members: (ConsumerLoop | MessageProxy)[];
}

interface WorkItem {
  proxy: MessageProxy;
  loop: ConsumerLoop;
}

/** Settles with the actor's promise, or rejects as soon as the run is aborted (time limit, shutdown). */
function raceAbort<T>(promise: Promise<T>, proxy: MessageProxy): Promise<T> {
  if (proxy.abortReason !== undefined) return Promise.reject(proxy.abortReason);
  return new Promise<T>((resolve, reject) => {
    proxy.onAbort = reject;
    promise.then(
      (value) => {
        proxy.onAbort = undefined;
        resolve(value);
      },
      (error) => {
        proxy.onAbort = undefined;
        reject(error);
      },
    );
  });
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`Worker option ${name} must be a positive integer, got ${value}`);
  return value;
}
