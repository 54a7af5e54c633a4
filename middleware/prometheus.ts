import { createServer, type Server } from "node:http";
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from "prom-client";
import type { Broker } from "../lib/broker.ts";
import { MessageCancelled } from "../lib/errors.ts";
import { getLogger } from "../lib/logging.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import type { Worker } from "../lib/worker.ts";
import { Middleware, type ProcessOutcome } from "./middleware.ts";
import { LabelledHistogram, type HistogramSeries } from "./prometheus-histogram.ts";
import { BusySlots, registerKeepingUp } from "./prometheus-keeping-up.ts";

/** Dramatiq's duration buckets (ms), so existing dashboards and alerts work unchanged. */
export const DURATION_BUCKETS = [5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000, 30000, 60000, 600000, 900000];

/** Wait buckets (ms): Dramatiq's duration buckets, then up to a day (a backlog waits longer than a run lasts). */
export const WAIT_BUCKETS = [...DURATION_BUCKETS, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000];

const LABELS = ["queue_name", "actor_name"] as const;
type Label = (typeof LABELS)[number];

/**
 * One actor's series. The two figures every message moves (messages_total and
 * messages_inprogress) are plain numbers here, handed to prom-client when metrics are collected:
 * a labelled prom-client update hashes its labels each time, which cost more per message than
 * everything else this middleware does. The duration histogram is our own for the same reason
 * (prometheus-histogram.ts); the rarer ones (errors, retries, rejects) go to prom-client at once.
 */
interface ActorSeries {
  readonly labels: Record<Label, string>;
  /** Messages finished since the counter was last collected. */
  pendingTotal: number;
  inProgress: number;
  errors: Counter.Internal;
  retries: Counter.Internal;
  rejects: Counter.Internal;
  requeues: Counter.Internal;
  cancellations: Counter.Internal;
  duration: HistogramSeries;
  wait: HistogramSeries;
}

let processRegistry: Registry | undefined;

/**
 * How the `dramats` supervisor combines Node's process metrics across worker processes, where
 * prom-client's default (a sum) would lie. A limit is per process: four processes with 10,000
 * file descriptors each do not have 40,000. The event loop's worst lag is the worst process's.
 * The rest are fleet totals and stay summed (resident memory, heap, open handles and fds, CPU
 * seconds), or prom-client already says (version: first; start time: omitted; lag mean: average).
 */
const FLEET_AGGREGATORS: Readonly<Record<string, "max">> = {
  process_max_fds: "max",
  nodejs_eventloop_lag_p99_seconds: "max",
};

/** Node's process metrics (CPU, memory, event loop, GC), registered once per process. */
function defaultMetricsRegistry(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** Options of {@link Prometheus}. */
export interface PrometheusOptions {
  /** Prefix of the message metrics. @defaultValue "dramatiq" (Dramatiq's names) */
  prefix?: string;
  /** Also export Node's process metrics. @defaultValue true */
  processMetrics?: boolean;
}

/**
 * Message metrics with Dramatiq's names, types, labels and buckets:
 * `dramatiq_messages_total`, `dramatiq_message_errors_total`, `dramatiq_message_retries_total`
 * (each retry counted once), `dramatiq_message_rejects_total`, `dramatiq_messages_inprogress`,
 * `dramatiq_message_duration_milliseconds`; plus `dramats_queue_messages{queue_name,state}`
 * read from the broker at scrape time (delays live in the broker, so this is where they show),
 * and whether the workers keep up: `dramats_message_wait_milliseconds` (enqueue, or eta, to
 * start), `dramats_queue_oldest_message_age_seconds` and the utilization counter pair
 * (prometheus-keeping-up.ts).
 *
 * Unlike Dramatiq, a message that did not run to an outcome is not a processed message: one
 * put back unrun (a rate limit) counts in `dramats_message_requeues_total` and one cancelled,
 * queued or running, in `dramats_message_cancellations_total`; neither counts in
 * messages_total, errors_total or the duration histogram. So messages_total counts each
 * delivery that ran, failed or was dead-lettered exactly once, and errors_total actor failures.
 */
export class Prometheus extends Middleware {
  /** The prom-client registry holding this middleware's message metrics. */
  readonly registry = new Registry();
  /** Whether Node's process metrics are exported too. @defaultValue true */
  readonly processMetrics: boolean;
  /** By queue, then by actor name (no key string built per message). */
  readonly #series = new Map<string, Map<string, ActorSeries>>();
  readonly #counters: { total: Counter; errors: Counter; retries: Counter; rejects: Counter; requeues: Counter; cancellations: Counter };
  readonly #duration: LabelledHistogram;
  readonly #wait: LabelledHistogram;
  readonly #busy = new BusySlots();
  #broker: Broker | undefined;
  #queues: Iterable<string> = [];
  #worker: Worker | undefined;
  /** The worker's abandoned-run total when last collected. */
  #abandonedSeen = 0;

  constructor(options: PrometheusOptions = {}) {
    super();
    const prefix = options.prefix ?? "dramatiq";
    this.processMetrics = options.processMetrics ?? true;
    const registers = [this.registry];
    const counter = (name: string, help: string) => new Counter({ name: `${prefix}_${name}`, help, labelNames: LABELS, registers });
    const self = this;
    this.#counters = {
      total: new Counter({
        name: `${prefix}_messages_total`,
        help: "The total number of messages processed.",
        labelNames: LABELS,
        registers,
        collect() {
          for (const series of self.#allSeries()) {
            if (series.pendingTotal === 0) continue;
            this.inc(series.labels, series.pendingTotal);
            series.pendingTotal = 0;
          }
        },
      }),
      errors: counter("message_errors_total", "The total number of errors while processing messages."),
      retries: counter("message_retries_total", "The total number of retries scheduled."),
      rejects: counter("message_rejects_total", "The total number of messages dead-lettered."),
      requeues: new Counter({
        name: "dramats_message_requeues_total",
        help: "The total number of messages put back in the broker unrun (rate limits); not counted as processed.",
        labelNames: LABELS,
        registers,
      }),
      cancellations: new Counter({
        name: "dramats_message_cancellations_total",
        help: "The total number of cancelled messages, queued or running; not counted as processed nor as errors.",
        labelNames: LABELS,
        registers,
      }),
    };
    new Gauge({
      name: `${prefix}_messages_inprogress`,
      help: "The number of messages in progress.",
      labelNames: LABELS,
      registers,
      aggregator: "sum",
      collect() {
        for (const series of self.#allSeries()) this.set(series.labels, series.inProgress);
      },
    });
    this.#duration = new LabelledHistogram({
      name: `${prefix}_message_duration_milliseconds`,
      help: "The time spent processing messages.",
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#wait = new LabelledHistogram({
      name: "dramats_message_wait_milliseconds",
      help: "Time from enqueue (message_timestamp), or from the eta of a delayed message or retry, to the start of processing.",
      buckets: WAIT_BUCKETS,
      registers,
    });
    registerKeepingUp(registers, this.#busy, () => ({ broker: this.#broker, worker: this.#worker, queues: this.#queues }));
    new Counter({
      name: "dramats_abandoned_runs_total",
      help: "Runs failed by a time limit, cancel or shutdown while their async actor kept working (it ignored its AbortSignal).",
      registers,
      collect() {
        const total = self.#worker?.abandoned.total ?? 0;
        if (total > self.#abandonedSeen) this.inc(total - self.#abandonedSeen);
        self.#abandonedSeen = total;
      },
    });
    new Gauge({
      name: "dramats_abandoned_runs",
      help: "Abandoned runs whose actor is still working: real concurrency is messages_inprogress plus this.",
      registers,
      aggregator: "sum",
      collect() {
        this.set(self.#worker?.abandoned.running ?? 0);
      },
    });
    new Gauge({
      name: "dramats_queue_messages",
      help: "Messages held by the broker, by queue and state (ready, delayed, in_flight, dead).",
      labelNames: ["queue_name", "state"],
      registers,
      aggregator: "max",
      async collect() {
        this.reset();
        const broker = self.#broker;
        if (broker === undefined) return;
        for (const queue of self.#queues) {
          try {
            const d = await broker.depths(queue);
            this.set({ queue_name: queue, state: "ready" }, d.ready);
            this.set({ queue_name: queue, state: "delayed" }, d.delayed);
            this.set({ queue_name: queue, state: "in_flight" }, d.inFlight);
            this.set({ queue_name: queue, state: "dead" }, d.dead);
          } catch (error) {
            getLogger("middleware.prometheus").warn({ err: error, queue }, "Could not read queue depths");
          }
        }
      },
    });
  }

  // Labelled children are cached per actor: label lookups are the costly part of an update.
  #seriesFor(proxy: MessageProxy): ActorSeries {
    const { queueName, actorName } = proxy.message;
    let byActor = this.#series.get(queueName);
    if (byActor === undefined) this.#series.set(queueName, (byActor = new Map()));
    let series = byActor.get(actorName);
    if (series === undefined) {
      const labels = { queue_name: queueName, actor_name: actorName };
      series = {
        labels,
        pendingTotal: 0,
        inProgress: 0,
        errors: this.#counters.errors.labels(labels),
        retries: this.#counters.retries.labels(labels),
        rejects: this.#counters.rejects.labels(labels),
        requeues: this.#counters.requeues.labels(labels),
        cancellations: this.#counters.cancellations.labels(labels),
        duration: this.#duration.series(labels),
        wait: this.#wait.series(labels),
      };
      byActor.set(actorName, series);
    }
    return series;
  }

  *#allSeries(): Iterable<ActorSeries> {
    for (const byActor of this.#series.values()) yield* byActor.values();
  }

  /** {@inheritDoc MiddlewareHooks.afterWorkerBoot} */
  afterWorkerBoot(broker: Broker, worker: Worker): void {
    this.#broker = broker;
    this.#worker = worker;
    this.#busy.bootedAt = Date.now();
    this.#queues = { [Symbol.iterator]: () => worker.queues[Symbol.iterator]() };
  }

  // Every message whose before-hook ran here reaches exactly one of afterProcessMessage and
  // afterSkipMessage, so the gauge needs no per-message bookkeeping.
  /** {@inheritDoc MiddlewareHooks.beforeProcessMessage} */
  beforeProcessMessage(_broker: Broker, proxy: MessageProxy): void {
    const series = this.#seriesFor(proxy);
    series.inProgress++;
    const now = Date.now();
    this.#busy.start(now);
    // From the eta where the broker carried one (a delay or a retry), else from the enqueue.
    const wait = now - (proxy.delivery.eta ?? proxy.message.messageTimestamp);
    series.wait.observe(wait > 0 ? wait : 0); // a producer's clock ahead of ours: 0; NaN: 0
  }

  /** {@inheritDoc MiddlewareHooks.afterProcessMessage} */
  afterProcessMessage(_broker: Broker, proxy: MessageProxy, outcome: ProcessOutcome): void {
    const series = this.#seriesFor(proxy);
    series.inProgress--;
    const now = Date.now();
    this.#busy.end(now);
    const error = outcome.error;
    if (error instanceof MessageCancelled) {
      series.cancellations.inc();
      return;
    }
    if (proxy.startedAt > 0) series.duration.observe(now - proxy.startedAt);
    series.pendingTotal++;
    if (error === undefined) return;
    series.errors.inc();
    // After-hooks run in reverse order, so Retries (later in the chain) has already decided.
    if (proxy.retry) series.retries.inc();
  }

  // A skip either ends the message (AgeLimit dead-letters it: a processed message, as in
  // Dramatiq) or does not: a middleware that put it back unrun set a retry before skipping
  // (RateLimit), and Cancellation marks it with MessageCancelled.
  /** {@inheritDoc MiddlewareHooks.afterSkipMessage} */
  afterSkipMessage(_broker: Broker, proxy: MessageProxy): void {
    const series = this.#seriesFor(proxy);
    series.inProgress--;
    this.#busy.end(Date.now());
    if (proxy.failed) series.pendingTotal++;
    else if (proxy.retry !== undefined) series.requeues.inc();
    else if (proxy.error instanceof MessageCancelled) series.cancellations.inc();
    else series.pendingTotal++;
  }

  /** {@inheritDoc MiddlewareHooks.afterNack} */
  afterNack(_broker: Broker, proxy: MessageProxy): void {
    this.#seriesFor(proxy).rejects.inc();
  }

  /** This process's metrics as prom-client JSON (what a supervisor aggregates across processes). */
  async metricsJson(): Promise<MetricObjectWithValues<MetricValue<string>>[]> {
    const own = await this.registry.getMetricsAsJSON();
    if (!this.processMetrics) return own as MetricObjectWithValues<MetricValue<string>>[];
    const proc = (await defaultMetricsRegistry().getMetricsAsJSON()).map((metric) => {
      const aggregator = FLEET_AGGREGATORS[metric.name];
      return aggregator === undefined ? metric : { ...metric, aggregator };
    });
    return [...own, ...proc] as MetricObjectWithValues<MetricValue<string>>[];
  }

  /** This process's metrics in Prometheus text format. */
  async metricsText(): Promise<string> {
    return AggregatorRegistry.aggregate([await this.metricsJson()]).metrics();
  }
}

/**
 * Serves `/metrics` for one process (the `dramats` CLI serves the whole process tree instead).
 * Binds to loopback unless told otherwise.
 */
export async function serveMetrics(
  source: () => Promise<string>,
  options: { host?: string; port?: number } = {},
): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== "GET") {
      response.writeHead(405).end();
      return;
    }
    source().then(
      (text) => {
        response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
        response.end(text);
      },
      (error: unknown) => {
        getLogger("middleware.prometheus").error({ err: error }, "Collecting metrics failed");
        response.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 9191, options.host ?? "127.0.0.1", () => resolve());
  });
  return server;
}
