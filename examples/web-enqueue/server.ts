// A small web app that hands work to background workers and reports the results.
//
//   POST /jobs  {"text": "...", "top": 3}  -> 202 {"id", "url"}, Location: /jobs/ID
//   GET  /jobs/ID[?wait=MS]                -> 200 {"state": "done", "result"} or {"state": "failed", "error"};
//                                             202 {"state": "pending"} while there is no result yet
//   GET  /healthz                          -> 200 (for container health checks)
//
// On its own (in-memory broker, worker in this process):  node --import tsx examples/web-enqueue/server.ts
// With Redis and separate `dramats` workers: see README.md.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { StubBroker } from "../../brokers/stub.ts";
import { getLogger, ResultFailure, ResultMissing, ResultTimeout, Worker } from "../../lib/index.ts";
import { broker, countWords, results, type WordCount } from "./actors.ts";

const MAX_BODY_BYTES = 64 * 1024;
const MAX_WAIT_MS = 30_000;
const MESSAGE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const log = getLogger("example.web");

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Reply = [status: number, body: unknown, headers?: Record<string, string>];

/** The HTTP server, not yet listening. */
export function createApp(): Server {
  return createServer((request, response) => {
    route(request).then(
      (reply) => send(response, ...reply),
      (error: unknown) => {
        if (error instanceof HttpError) return send(response, error.status, { error: error.message });
        log.error({ err: error }, "Request failed");
        send(response, 500, { error: "internal error" });
      },
    );
  });
}

async function route(request: IncomingMessage): Promise<Reply> {
  const url = new URL(request.url ?? "/", "http://localhost");
  if (url.pathname === "/healthz") return [200, { ok: true }];
  if (url.pathname === "/jobs") {
    if (request.method !== "POST") throw new HttpError(405, "use POST to create a job");
    const { text, top } = parseJob(await readJson(request));
    const message = await countWords.send(text, top);
    const location = `/jobs/${message.messageId}`;
    return [202, { id: message.messageId, url: location }, { location }];
  }
  const id = /^\/jobs\/([^/]+)$/.exec(url.pathname)?.[1];
  if (id !== undefined && MESSAGE_ID.test(id)) {
    if (request.method !== "GET") throw new HttpError(405, "use GET to read a job");
    const wait = Math.min(Math.max(Number(url.searchParams.get("wait")) || 0, 0), MAX_WAIT_MS);
    return jobStatus(id, wait);
  }
  throw new HttpError(404, "not found");
}

/** A job's state from the result backend; waits up to `wait` ms for a result, without polling. */
async function jobStatus(id: string, wait: number): Promise<Reply> {
  const source = { queueName: countWords.queueName, actorName: countWords.actorName, messageId: id };
  try {
    const result = await results.getResult<WordCount>(source, wait > 0 ? { timeout: wait } : { block: false });
    return [200, { id, state: "done", result }];
  } catch (error) {
    if (error instanceof ResultFailure) {
      return [200, { id, state: "failed", error: { type: error.origExcType, message: error.origExcMsg } }];
    }
    // No result yet. A job id that was never enqueued looks the same: results have no owner list.
    if (error instanceof ResultMissing || error instanceof ResultTimeout) return [202, { id, state: "pending" }];
    throw error;
  }
}

function parseJob(body: unknown): { text: string; top: number } {
  const { text, top = 3 } = (body ?? {}) as { text?: unknown; top?: unknown };
  if (typeof text !== "string") throw new HttpError(400, 'expected a JSON object with a string "text"');
  if (!Number.isInteger(top) || (top as number) < 1 || (top as number) > 50) throw new HttpError(400, '"top" must be an integer from 1 to 50');
  return { text, top: top as number };
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  request.setEncoding("utf8");
  let text = "";
  let size = 0;
  for await (const chunk of request as AsyncIterable<string>) {
    text += chunk;
    size += Buffer.byteLength(chunk);
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `the body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "the body is not valid JSON");
  }
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

/** Listens on HOST:PORT (default 127.0.0.1:8000; PORT=0 picks a free port) until SIGTERM or SIGINT. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // The in-memory broker exists only in this process, so this process runs the worker too.
  const worker = broker instanceof StubBroker ? new Worker(broker) : undefined;
  await worker?.start();
  const server = createApp();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(env.PORT ?? 8000), env.HOST ?? "127.0.0.1", resolve);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  log.info({ url: `http://${host}:${address.port}`, broker: broker.constructor.name, inProcessWorker: worker !== undefined }, "Listening");

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "Shutting down");
    // Finish requests in progress (a waiting GET ends by MAX_WAIT_MS at the latest), refuse new ones.
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeIdleConnections();
    await closed;
    await worker?.stop({ timeout: 10_000 });
    await broker.close();
    await results.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
