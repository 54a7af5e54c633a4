// An Express app with the dramats dashboard mounted under /jobs, next to an ordinary route that
// enqueues a job:
//
//   POST /signup {"email": "...", "name": "..."}  -> 202 {"id"}: sendWelcome enqueued on "emails"
//   /jobs/                                        -> the dashboard (its JSON API under /jobs/api/)
//
// DRAMATS_DASHBOARD_TOKEN is the operator token: whoever logs in with it may pause queues,
// requeue or purge messages; without it the dashboard is read-only. The `redact` hook hides the
// email address (sendWelcome's first argument) from every page and API answer.
//
// Run it (and the workers): see README.md.
import express, { type NextFunction, type Request, type Response } from "express";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { dashboard, type DashboardHandler, type RedactHook } from "../../lib/dashboard/index.ts";
import { getLogger } from "../../lib/index.ts";
import { broker, sendWelcome } from "./actors.ts";

const log = getLogger("example.dashboard");

/** Shown in the dashboard instead of an email address. */
export const HIDDEN = "<email hidden>";

/** The dashboard's redact hook: sendWelcome's first argument (the address) never leaves the app. */
export const hideEmail: RedactHook = (message) =>
  message.actor_name === sendWelcome.actorName ? { ...message, args: [HIDDEN, ...message.args.slice(1)] } : message;

/** The Express app and its dashboard handler (close it on shutdown). */
export function createApp(env: NodeJS.ProcessEnv = process.env): { app: express.Express; jobs: DashboardHandler } {
  const jobs = dashboard({ broker, token: env.DRAMATS_DASHBOARD_TOKEN || undefined, redact: hideEmail });
  const app = express();
  app.use(express.json({ limit: "16kb" }));

  app.post("/signup", async (request: Request, response: Response) => {
    const { email, name } = (request.body ?? {}) as { email?: unknown; name?: unknown };
    if (typeof email !== "string" || !email.includes("@") || typeof name !== "string" || name === "") {
      response.status(400).json({ error: 'expected {"email": "...@...", "name": "..."}' });
      return;
    }
    const message = await sendWelcome.send(email, name);
    response.status(202).json({ id: message.messageId });
  });

  // Mount it as any middleware; put your own authentication in front if the app has one.
  app.use("/jobs", jobs);

  app.use((error: unknown, _request: Request, response: Response, _next: NextFunction) => {
    const status = (error as { status?: unknown }).status;
    if (typeof status === "number" && status >= 400 && status < 500) {
      response.status(status).json({ error: (error as Error).message });
      return;
    }
    log.error({ err: error }, "Request failed");
    response.status(500).json({ error: "internal error" });
  });
  return { app, jobs };
}

/** Listens on HOST:PORT (default 127.0.0.1:3000; PORT=0 picks a free port) until SIGTERM or SIGINT. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { app, jobs } = createApp(env);
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(Number(env.PORT ?? 3000), env.HOST ?? "127.0.0.1", (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log.info({ url, dashboard: `${url}/jobs/`, broker: broker.constructor.name, operator: Boolean(env.DRAMATS_DASHBOARD_TOKEN) }, "Listening");

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "Shutting down");
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeIdleConnections();
    await closed;
    await jobs.close();
    await broker.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
