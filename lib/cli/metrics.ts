import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../logging.ts";
import type { Endpoints } from "./endpoints.ts";

/** One metric as prom-client's `getMetricsAsJSON` gives it. */
interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  values: SampleJson[];
}

interface SampleJson {
  value: number;
  labels: Record<string, string | number>;
  /** Histograms: `<name>_bucket`, `<name>_sum` or `<name>_count`. */
  metricName?: string;
}

/** Metric types whose samples only grow in a live process: a departed process's last values stay in the sum (when summed). */
const MONOTONIC = new Set(["counter", "histogram"]);

/**
 * The fleet's `/metrics`: at each scrape, asks every worker process for its prom-client JSON
 * and serves the aggregate (counters summed; gauges as each metric's aggregator says). One
 * port for the whole process tree, as Prometheus expects one target per host.
 *
 * Counters must not go backwards when a process is replaced (a crash, a recycle, a reload):
 * Prometheus would read the drop as a reset and miscount. So the counters and histograms of a
 * process that left stay in the sum, at their last known values: the final ones a process sends
 * as it stops gracefully, else those of the last scrape before it died. A process that does not
 * answer a scrape in time counts with its previous answer.
 */
export class FleetMetrics {
  #server: Server | undefined;
  readonly #pending = new Map<number, (metrics: unknown[]) => void>();
  #nextId = 0;
  /** Each live process's latest answer. */
  readonly #latest = new Map<object, MetricJson[]>();
  /** Departed processes' last answers, for a final report that arrives after the exit. */
  readonly #departedLast = new WeakMap<object, MetricJson[]>();
  /** Sum of the departed processes' counters and histograms: name → series key → sample. */
  readonly #departed = new Map<string, { meta: Omit<MetricJson, "values">; samples: Map<string, SampleJson> }>();

  constructor(
    readonly options: { host: string; port: number },
    /** Asks every live process for its metrics (through `request`); resolves once all answered or timed out. */
    readonly refresh: () => Promise<unknown>,
    readonly log: Logger,
    /** The supervisor's probes, served beside the metrics (see serveEndpoints); without them those paths are 404. */
    readonly probes: Pick<Endpoints, "healthz" | "readyz"> = {},
  ) {}

  /** Starts listening; resolves with the URL, or undefined (logged) if the port is taken. */
  async start(): Promise<string | undefined> {
    // Loaded only when metrics are served: prom-client stays out of a supervisor that serves none.
    const { serveEndpoints } = await import("./endpoints.ts");
    const { AggregatorRegistry } = await import("prom-client");
    const source = async () => {
      await this.refresh();
      const perProcess = this.snapshot().filter((list) => list.length > 0);
      if (perProcess.length === 0) return "";
      return AggregatorRegistry.aggregate(perProcess as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
    };
    try {
      this.#server = await serveEndpoints({ metrics: source, ...this.probes }, this.options, this.log);
    } catch (error) {
      this.log.warn({ err: error, ...this.options }, "Cannot serve metrics (is the port taken?); running without");
      return undefined;
    }
    const { address, port } = this.#server.address() as AddressInfo;
    const url = `http://${address.includes(":") ? `[${address}]` : address}:${port}/metrics`;
    this.log.info({ url }, "Serving the worker processes' metrics");
    return url;
  }

  /** What to aggregate now: the departed processes' totals, then each live process's latest answer. */
  snapshot(): unknown[][] {
    const departed: MetricJson[] = [...this.#departed.values()].map(({ meta, samples }) => ({ ...meta, values: [...samples.values()] }));
    return [departed, ...this.#latest.values()];
  }

  /**
   * Asks one process for its metrics: `send` delivers the request id; `answer` resolves it.
   * Resolves with nothing if no answer comes within `timeout` ms (a busy or dying process).
   */
  request(send: (id: number) => void, timeout = 1_000): Promise<unknown[]> {
    return new Promise((resolve) => {
      const id = ++this.#nextId;
      const done = (metrics: unknown[]) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        resolve(metrics);
      };
      const timer = setTimeout(() => done([]), timeout);
      this.#pending.set(id, done);
      send(id);
    });
  }

  /** Records `process`'s answer (id 0: its final metrics, unasked) and resolves the request. */
  answer(id: number, metrics: unknown[], process: object): void {
    const list = metrics as MetricJson[];
    const last = this.#departedLast.get(process);
    if (last !== undefined) {
      // The final report overtook by the exit: replace the last values kept for it.
      this.#addDeparted(last, -1);
      this.#addDeparted(list, 1);
      this.#departedLast.set(process, list);
    } else {
      this.#latest.set(process, list);
    }
    this.#pending.get(id)?.(metrics);
  }

  /** `process` exited: its counters and histograms stay in the sum at their last known values. */
  departed(process: object): void {
    const last = this.#latest.get(process) ?? [];
    this.#latest.delete(process);
    this.#addDeparted(last, 1);
    this.#departedLast.set(process, last);
  }

  #addDeparted(metrics: MetricJson[], sign: 1 | -1): void {
    for (const metric of metrics) {
      if (!MONOTONIC.has(metric.type) || (metric.aggregator ?? "sum") !== "sum") continue;
      let entry = this.#departed.get(metric.name);
      if (entry === undefined) {
        const { values: _values, ...meta } = metric;
        entry = { meta, samples: new Map() };
        this.#departed.set(metric.name, entry);
      }
      for (const sample of metric.values) {
        const key = `${sample.metricName ?? metric.name}${JSON.stringify(Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
        const kept = entry.samples.get(key);
        if (kept === undefined) entry.samples.set(key, { ...sample, value: sign * sample.value });
        else kept.value += sign * sample.value;
      }
    }
  }

  close(): void {
    this.#server?.close();
    this.#server?.closeAllConnections();
  }
}
