import { createServer, type Server } from "node:http";
import type { Logger } from "../logging.ts";

/** A probe's answer: the HTTP status and a JSON body. */
export interface ProbeAnswer {
  status: 200 | 503;
  body: Record<string, unknown>;
}

/** What the supervisor's HTTP port serves. */
export interface Endpoints {
  /** The fleet's metrics, in Prometheus' text format. */
  metrics(): Promise<string>;
  /** Liveness: is the supervisor up and are its processes beating? */
  healthz?: () => ProbeAnswer;
  /** Readiness: is every process booted with its consumers fetching? */
  readyz?: () => ProbeAnswer;
}

const METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * The metrics port's routes: `/metrics` (and `/`, as before these routes existed, for scrape
 * configs that name no path) the metrics; `/healthz` and `/readyz` a JSON body with status 200
 * or 503; any other path 404. GET and HEAD only (405 otherwise). A query string is ignored.
 */
export async function serveEndpoints(endpoints: Endpoints, options: { host: string; port: number }, log: Logger): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const path = (request.url ?? "/").split("?")[0];
    if (path === "/metrics" || path === "/") {
      endpoints.metrics().then(
        (text) => response.writeHead(200, { "content-type": METRICS_TYPE }).end(text),
        (error: unknown) => {
          log.error({ err: error }, "Collecting metrics failed");
          response.writeHead(500).end();
        },
      );
      return;
    }
    const probe = path === "/healthz" ? endpoints.healthz : path === "/readyz" ? endpoints.readyz : undefined;
    if (probe === undefined) {
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not found: this port serves /metrics, /healthz and /readyz\n");
      return;
    }
    let answer: ProbeAnswer;
    try {
      answer = probe();
    } catch (error) {
      log.error({ err: error, path }, "Probe failed");
      answer = { status: 503, body: { status: "error", reasons: [{ reason: "probe failed" }] } };
    }
    response.writeHead(answer.status, { "content-type": "application/json", "cache-control": "no-store" }).end(`${JSON.stringify(answer.body)}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return server;
}
