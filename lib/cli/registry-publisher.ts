import { hostname } from "node:os";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type { Broker } from "../broker.ts";
import { MessageCancelled } from "../errors.ts";
import { getLogger } from "../logging.ts";
import type { MessageProxy } from "../message-proxy.ts";
import { Middleware, type ProcessOutcome } from "../middleware.ts";
import type { Worker } from "../worker.ts";
import { MAX_RUNNING_LISTED, workerRegistryOf, type WorkerRecord, type WorkerRegistry } from "../worker-registry.ts";
import { StoreUrl } from "../../middleware/store-url.ts";
import { version } from "./version.ts";

/** A record outlives its last beat by this many periods, so a dead worker stays listed a while. */
export const TTL_PERIODS = 12;
/** Sampling period of the event-loop delay histogram (ms). */
const LAG_RESOLUTION = 50;
/** How long the final ("stopped") write may hold up the shutdown (ms). */
const FINAL_WRITE_TIMEOUT = 2_000;

export interface RegistryPublisherOptions {
  /** The registry, opened on first use; undefined: there is none (nothing is published). */
  registry: () => Promise<WorkerRegistry | undefined>;
  /** Publishing period (ms). */
  interval: number;
  dramatsVersion: string;
  supervisorPid: number | null;
  /** Releases the registry's connection, if it has one of its own (a `--store` URL). */
  close?: () => Promise<void>;
}

/**
 * Publishes this worker process's record to the worker registry: at boot, every `interval`
 * ms, when a stop begins ("stopping") and when it ended ("stopped", kept until the TTL). A
 * middleware, for the messages running now and the failed and retried counts: per message it
 * only adds to and deletes from a set and bumps counters; the store sees one small write per
 * period. Writes are fire-and-forget with a queue of one: while a write is pending, a newer
 * record replaces the waiting one, so a slow or down store never holds up message processing
 * nor piles up writes.
 */
export class RegistryPublisher extends Middleware {
  readonly id: string;
  readonly #options: RegistryPublisherOptions;
  /**
   * The messages running now, oldest first. An array, not a Set or Map: add/delete churn on a
   * small hash table rehashes it every few messages (measured near 1 µs per message); messages
   * mostly finish in the order they started, so the one to remove is found near the front.
   */
  readonly #running: MessageProxy[] = [];
  readonly #startedAt = Date.now();
  readonly #log = getLogger("registry");
  #failed = 0;
  #retried = 0;
  #worker: Worker | undefined;
  #state: WorkerRecord["state"] = "running";
  #timer: NodeJS.Timeout | undefined;
  #lag: IntervalHistogram | undefined;
  #cpu = process.cpuUsage();
  #cpuAt = performance.now();
  #registry: Promise<WorkerRegistry | undefined> | undefined;
  #writing: Promise<void> | undefined;
  #waiting: WorkerRecord | undefined;
  #failing = false;

  constructor(options: RegistryPublisherOptions) {
    super();
    this.#options = options;
    this.id = `${hostname()}/${process.pid}/${this.#startedAt.toString(36)}`;
  }

  /** The record's TTL (ms). */
  get ttl(): number {
    return TTL_PERIODS * this.#options.interval;
  }

  beforeProcessMessage(_broker: Broker, proxy: MessageProxy): void {
    this.#running.push(proxy);
  }

  afterProcessMessage(_broker: Broker, proxy: MessageProxy, outcome: ProcessOutcome): void {
    this.#finished(proxy);
    if (outcome.error === undefined || outcome.error instanceof MessageCancelled) return;
    this.#failed++;
    // After-hooks run in reverse order and this one sits before Retries: it has decided.
    if (proxy.retry !== undefined) this.#retried++;
  }

  afterSkipMessage(_broker: Broker, proxy: MessageProxy): void {
    this.#finished(proxy);
  }

  #finished(proxy: MessageProxy): void {
    const running = this.#running;
    const at = running.indexOf(proxy);
    if (at === 0) running.shift();
    else if (at > 0) running.splice(at, 1);
  }

  afterWorkerBoot(_broker: Broker, worker: Worker): void {
    this.#worker = worker;
    this.#lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION });
    this.#lag.enable();
    this.#timer = setInterval(() => this.publish(), this.#options.interval);
    this.#timer.unref();
    this.publish();
  }

  beforeWorkerShutdown(): void {
    this.#state = "stopping";
    this.publish();
  }

  /** The "stopped" record, waited for up to 2 s (the store may be down). */
  async afterWorkerShutdown(): Promise<void> {
    this.#stopTimers();
    this.#state = "stopped";
    this.publish();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#drained(), new Promise((resolve) => (timer = setTimeout(resolve, FINAL_WRITE_TIMEOUT)))]);
    clearTimeout(timer);
  }

  override async close(): Promise<void> {
    this.#stopTimers();
    await this.#options.close?.();
  }

  /** Queues a write of the current record (never waits for the store). */
  publish(): void {
    const record = this.record();
    if (record === undefined) return;
    if (this.#writing !== undefined) {
      this.#waiting = record;
      return;
    }
    this.#write(record);
  }

  /** This process's record now; undefined before the worker booted. */
  record(now: number = Date.now()): WorkerRecord | undefined {
    const worker = this.#worker;
    if (worker === undefined) return undefined;
    const cpu = process.cpuUsage(this.#cpu);
    const at = performance.now();
    const cpuPercent = ((cpu.user + cpu.system) / 1000 / Math.max(1, at - this.#cpuAt)) * 100;
    this.#cpu = process.cpuUsage();
    this.#cpuAt = at;
    let lag = 0;
    if (this.#lag !== undefined) {
      lag = Math.max(0, this.#lag.percentile(99) / 1e6 - LAG_RESOLUTION);
      this.#lag.reset();
    }
    const running = [];
    for (const proxy of this.#running) {
      if (running.length >= MAX_RUNNING_LISTED) break;
      running.push({ id: proxy.messageId, actor: proxy.actorName, queue: proxy.queueName, startedAt: proxy.startedAt || now });
    }
    return {
      version: 1,
      id: this.id,
      host: hostname(),
      pid: process.pid,
      supervisorPid: this.#options.supervisorPid,
      dramatsVersion: this.#options.dramatsVersion,
      nodeVersion: process.version,
      queues: worker.queues,
      concurrency: worker.concurrency,
      startedAt: this.#startedAt,
      lastBeat: now,
      interval: this.#options.interval,
      ttl: this.ttl,
      state: this.#state,
      rss: process.memoryUsage.rss(),
      cpu: Math.round(cpuPercent * 10) / 10,
      eventLoopLag: Math.round(lag * 10) / 10,
      counters: { processed: worker.processed, failed: this.#failed, retried: this.#retried },
      running,
      runningCount: this.#running.length,
    };
  }

  #write(record: WorkerRecord): void {
    this.#registry ??= this.#options.registry().catch((error: unknown) => {
      this.#log.warn({ err: error }, "The worker registry could not be opened: this process is not listed by dramats workers");
      return undefined;
    });
    this.#writing = this.#registry
      .then((registry) => registry?.write(record, this.ttl))
      .then(
        () => {
          if (this.#failing) this.#log.info("Worker registry writes succeed again");
          this.#failing = false;
        },
        (error: unknown) => {
          if (!this.#failing) this.#log.warn({ err: error }, "Writing this process's worker record failed (retried next period)");
          this.#failing = true;
        },
      )
      .finally(() => {
        this.#writing = undefined;
        const next = this.#waiting;
        this.#waiting = undefined;
        if (next !== undefined) this.#write(next);
      });
  }

  /** Resolves once no write is pending or waiting. */
  async #drained(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }

  #stopTimers(): void {
    clearInterval(this.#timer);
    this.#lag?.disable();
  }
}

/**
 * The publisher a CLI worker process adds to its broker (first in the chain, so its after-hooks
 * see what Retries decided): into the `--store` store when given, else the broker's own
 * registry; undefined when the interval is 0 or there is no registry (RabbitMQ without
 * `--store`: logged once).
 */
export function publisherFor(
  broker: Broker,
  options: { store: string | undefined; registryInterval: number },
  supervisorPid: number | null,
  /** The `--store` store, when the process opened it already (the publisher closes it). */
  shared?: StoreUrl,
): RegistryPublisher | undefined {
  if (options.registryInterval <= 0) return undefined;
  const log = getLogger("registry");
  const store = shared ?? (options.store === undefined ? undefined : new StoreUrl(options.store));
  const own = workerRegistryOf(broker);
  if (store === undefined && own === undefined) {
    log.info(`${broker.constructor.name} has no store for the worker registry: pass --store URL to be listed by dramats workers`);
    return undefined;
  }
  return new RegistryPublisher({
    registry: store === undefined ? async () => own : () => store.openRegistry(),
    interval: options.registryInterval,
    dramatsVersion: version(),
    supervisorPid,
    ...(store === undefined ? {} : { close: () => store.close() }),
  });
}
