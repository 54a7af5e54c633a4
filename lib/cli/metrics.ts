import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../logging.ts";

/**
 * The fleet's `/metrics`: at each scrape, asks every worker process for its prom-client JSON
 * and serves the aggregate (counters summed; gauges as each metric's aggregator says). One
 * port for the whole process tree, as Prometheus expects one target per host.
 */
export class FleetMetrics {
  #server: Server | undefined;
  readonly #pending = new Map<number, (metrics: unknown[]) => void>();
  #nextId = 0;

  constructor(
    readonly options: { host: string; port: number },
    readonly collect: () => Promise<unknown[][]>,
    readonly log: Logger,
  ) {}

  /** Starts listening; resolves with the URL, or undefined (logged) if the port is taken. */
  async start(): Promise<string | undefined> {
    // Loaded only when metrics are served: prom-client stays out of a supervisor that serves none.
    const { serveMetrics } = await import("../../middleware/prometheus.ts");
    const { AggregatorRegistry } = await import("prom-client");
    const source = async () => {
      const perProcess = (await this.collect()).filter((list) => list.length > 0);
      if (perProcess.length === 0) return "";
      return AggregatorRegistry.aggregate(perProcess as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
    };
    try {
      this.#server = await serveMetrics(source, this.options);
    } catch (error) {
      this.log.warn({ err: error, ...this.options }, "Cannot serve metrics (is the port taken?); running without");
      return undefined;
    }
    const { address, port } = this.#server.address() as AddressInfo;
    const url = `http://${address.includes(":") ? `[${address}]` : address}:${port}/metrics`;
    this.log.info({ url }, "Serving the worker processes' metrics");
    return url;
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

  /** Delivers a process's answer to its request. */
  answer(id: number, metrics: unknown[]): void {
    this.#pending.get(id)?.(metrics);
  }

  close(): void {
    this.#server?.close();
    this.#server?.closeAllConnections();
  }
}
