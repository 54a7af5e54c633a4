/**
 * The web dashboard as a Node request handler: `dashboard({ broker })` returns a
 * `(req, res, next?)` function that serves the pages and the JSON API under `/api/`. Mount it
 * on `node:http` (`createServer(handler)`), under Express (`app.use("/jobs", handler)`), or
 * under Fastify (a route that hands `req.raw`/`reply.raw` over, with `base: "/jobs"`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { Broker } from "../broker.ts";
import { brokerOrigin } from "../connect.ts";
import type { Logger } from "../logging.ts";
import { redactUrl } from "../redact.ts";
import { version } from "../cli/version.ts";
import { pausedQueues, routes, type Call } from "./api.ts";
import type { SessionInfo } from "./api-types.ts";
import { Assets } from "./assets.ts";
import { AuditLog } from "./audit.ts";
import { Fleet } from "./fleet.ts";
import { Guard } from "./guard.ts";
import { historyFor } from "./history-route.ts";
import { sparklines } from "./history.ts";
import { HttpError, readJsonBody, sendError, sendJson } from "./http.ts";
import { MessageLists } from "./messages.ts";
import { OverviewBuilder } from "./overview.ts";
import type { RedactHook } from "./views.ts";

/** Options of {@link dashboard}. */
export interface DashboardOptions {
  /** The fleet's broker (its declared actors give the schedules, its middleware Cancellation). */
  broker: Broker;
  /** The operator token: without one the dashboard is read-only. Compared in constant time. */
  token?: string | undefined;
  /**
   * The path the handler is mounted at, when the framework does not strip it from `req.url`
   * (node:http, Fastify). Express's `app.use(path, handler)` needs none. @defaultValue ""
   */
  base?: string;
  /** Applied to every message before a page or the API shows it: hide arguments here. */
  redact?: RedactHook;
  /** The URL of the store the workers share when the broker has none (RabbitMQ's `--store`). */
  store?: string | undefined;
  /** Queues to show besides those declared and those the workers consume. */
  queues?: readonly string[];
  /** Where audit lines go. @defaultValue the `dashboard.audit` logger */
  auditLogger?: Logger;
  /** Mark cookies Secure even on plain HTTP (behind a TLS-terminating proxy). @defaultValue only on TLS sockets */
  secureCookies?: boolean;
}

/** The request handler, with `close()` for what it opened. */
export interface DashboardHandler {
  (request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void): void;
  /** Closes the store connection the dashboard opened, if any (not the broker). */
  close(): Promise<void>;
}

/** Builds the dashboard's request handler. */
export function dashboard(options: DashboardOptions): DashboardHandler {
  const fixedBase = normalizeBase(options.base ?? "");
  const fleet = new Fleet(options.broker, options.store);
  const lists = new MessageLists(options.broker, fleet.browser, options.redact);
  const guard = new Guard(options.token);
  const audit = new AuditLog(options.auditLogger);
  const assets = new Assets();
  const overview = new OverviewBuilder({
    broker: options.broker,
    queues: options.queues ?? [],
    workers: async () => (await fleet.registry())?.list() ?? [],
    sparklines: async () => {
      const store = await fleet.history();
      return store === undefined ? new Map() : sparklines(store);
    },
    paused: async (queues) => {
      const store = await fleet.store();
      return store === undefined ? new Set() : pausedQueues(store, queues);
    },
  });
  const table = routes(fleet, lists, overview, (call: Call) => historyFor(fleet, call));
  const label = brokerLabel(options.broker);

  const handler = ((request: IncomingMessage, response: ServerResponse) => {
    void serve(request, response).catch((error: unknown) => {
      if (!(error instanceof HttpError)) options.broker.logger.error({ err: error, url: request.url }, "Dashboard request failed");
      if (!response.headersSent) sendError(response, error);
      else response.destroy();
    });
  }) as DashboardHandler;
  handler.close = () => fleet.close();
  return handler;

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const expressBase = (request as { baseUrl?: unknown }).baseUrl;
    const base = typeof expressBase === "string" ? normalizeBase(expressBase) : fixedBase;
    const url = new URL(request.url ?? "/", "http://dashboard.invalid");
    let path = url.pathname;
    // Express strips its mount path: `/jobs` arrives as `/`, where relative asset URLs would break.
    const original = (request as { originalUrl?: unknown }).originalUrl;
    if (typeof expressBase === "string" && typeof original === "string" && base !== "" && original.split("?")[0] === base) path = "";
    if (typeof expressBase !== "string" && fixedBase !== "") {
      if (path !== fixedBase && !path.startsWith(`${fixedBase}/`)) throw new HttpError(404, "not_found", `Not under ${fixedBase}`);
      path = path.slice(fixedBase.length);
    }
    const method = request.method ?? "GET";
    if (path === "/favicon.ico") {
      response.writeHead(204, { "cache-control": "max-age=86400" }).end();
      return;
    }
    if (path === "" || path === "/" || path === "/index.html" || path.startsWith("/assets/")) {
      if (method !== "GET" && method !== "HEAD") throw new HttpError(405, "bad_request", "Pages are read with GET", { allow: "GET, HEAD" });
      if (path === "") {
        response.writeHead(302, { location: `${base}/` }).end();
        return;
      }
      assets.send(response, path.startsWith("/assets/") ? path.slice("/assets/".length) : "index.html", method === "HEAD");
      return;
    }
    if (!path.startsWith("/api/")) throw new HttpError(404, "not_found", `No page ${path}: the dashboard is at ${base}/`);
    const secure = options.secureCookies === true || (request.socket as TLSSocket).encrypted === true;
    const visit = guard.visit(request, secure, base);
    const cookies = [...visit.setCookies];
    const route = path.slice("/api/".length);

    if (route === "session" || route === "login" || route === "logout") {
      let operator = visit.operator;
      if (route !== "session") {
        if (method !== "POST") throw new HttpError(405, "bad_request", `${route} is a POST`, { allow: "POST" });
        guard.checkCsrf(request, visit);
        const body = await readJsonBody(request);
        if (route === "login") {
          try {
            cookies.push(guard.login(body.token, visit, secure));
          } catch (error) {
            audit.record(request, visit.session, { action: "login", target: "dashboard", count: 0, error: (error as Error).message });
            throw error;
          }
          audit.record(request, visit.session, { action: "login", target: "dashboard", count: 1 });
          operator = true;
        } else {
          cookies.push(guard.logout(secure, visit));
          operator = false;
        }
      }
      const info: SessionInfo = { readOnly: guard.readOnly, operator, csrf: guard.csrf(visit.session), broker: label, base, capabilities: fleet.capabilities(), version: version() };
      sendJson(response, 200, info, cookies.length > 0 ? { "set-cookie": cookies } : {});
      return;
    }

    for (const candidate of table) {
      const match = candidate.pattern.exec(route);
      if (match === null) continue;
      if (candidate.method !== method && !(candidate.method === "GET" && method === "HEAD")) {
        throw new HttpError(405, "bad_request", `${route} takes ${candidate.method}`, { allow: candidate.method });
      }
      const call: Call = { request, params: match.slice(1), query: url.searchParams, body: {} };
      if (candidate.method === "POST") {
        guard.authorize(request, visit);
        call.body = await readJsonBody(request);
        const { action, target } = candidate.audit!(call);
        try {
          const result = (await answerWithin(candidate.run(call))) as { count: number };
          audit.record(request, visit.session, { action, target, count: result.count });
          sendJson(response, 200, result, cookies.length > 0 ? { "set-cookie": cookies } : {});
        } catch (error) {
          audit.record(request, visit.session, { action, target, count: 0, error: error instanceof Error ? error.message : String(error) });
          throw error;
        }
        return;
      }
      sendJson(response, 200, await answerWithin(candidate.run(call)), cookies.length > 0 ? { "set-cookie": cookies } : {});
      return;
    }
    throw new HttpError(404, "not_found", `No API route ${route}`);
  }
}

/** How long one API request may wait on the broker or the store (ms). */
const ANSWER_TIMEOUT = 15_000;

/** The answer, or a 503 when the broker or store does not give it in time (an action may still complete). */
async function answerWithin<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(503, "unavailable", `The broker or store did not answer within ${ANSWER_TIMEOUT / 1000} s`)), ANSWER_TIMEOUT);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

function normalizeBase(base: string): string {
  let end = base.length;
  while (end > 0 && base[end - 1] === "/") end--;
  const trimmed = base.slice(0, end);
  return trimmed === "" ? "" : trimmed.startsWith("/") ? trimmed : `/${trimmed}`;
}

function brokerLabel(broker: Broker): string {
  const url = brokerOrigin(broker)?.url;
  return url === undefined ? broker.constructor.name : `${broker.constructor.name} ${redactUrl(url)}`;
}
