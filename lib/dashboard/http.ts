// The dashboard's HTTP plumbing: the headers every answer carries, JSON answers and errors,
// and request bodies read with a size limit. Nothing here knows about queues.
import type { IncomingMessage, ServerResponse } from "node:http";
import { StringDecoder } from "node:string_decoder";
import type { ApiError } from "./api-types.ts";

/** Request bodies larger than this are refused (413): selections of ids stay well below it. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Sent with every answer: a strict Content-Security-Policy (only the package's own script and
 * style; no inline code, no frames, no third-party origins), no framing, no MIME sniffing, no
 * referrer leaving the page.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/** An answer other than 200, with the API's error body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    /** See ApiError's `code`. */
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** Writes `body` as JSON with the security headers and no caching. */
export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  response.end(text);
}

/** Writes an HttpError (or an unexpected error, as a 500 that says nothing of its internals). */
export function sendError(response: ServerResponse, error: unknown): void {
  const known = error instanceof HttpError ? error : new HttpError(500, "internal", "The dashboard failed to answer; its log has the error");
  const body: ApiError = { error: { code: known.code, message: known.message } };
  sendJson(response, known.status, body, known.headers);
}

/**
 * The request's JSON body (an object), at most MAX_BODY_BYTES. A body already parsed by a
 * framework (Express's `express.json()`, Fastify) is used as it is.
 * @throws HttpError 400 (not a JSON object), 413 (too large), 415 (not application/json)
 */
export async function readJsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const parsed = (request as { body?: unknown }).body;
  if (parsed !== undefined && parsed !== null && typeof parsed === "object" && !Buffer.isBuffer(parsed)) return asObject(parsed);
  const type = request.headers["content-type"] ?? "";
  const length = Number(request.headers["content-length"] ?? "0");
  if (length > MAX_BODY_BYTES) throw new HttpError(413, "bad_request", `Request body over ${MAX_BODY_BYTES} bytes`);
  const decoder = new StringDecoder("utf8");
  let text = "";
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, "bad_request", `Request body over ${MAX_BODY_BYTES} bytes`);
    text += decoder.write(chunk);
  }
  if (size === 0) return {};
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, "bad_request", "POST bodies must be application/json");
  let value: unknown;
  try {
    value = JSON.parse(text + decoder.end());
  } catch {
    throw new HttpError(400, "bad_request", "The request body is not valid JSON");
  }
  return asObject(value);
}

function asObject(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new HttpError(400, "bad_request", "The request body must be a JSON object");
  return value as Record<string, unknown>;
}

/** Parses the Cookie header. */
export function cookies(request: IncomingMessage): Map<string, string> {
  const jar = new Map<string, string>();
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at < 0) continue;
    const name = part.slice(0, at).trim();
    if (name !== "" && !jar.has(name)) jar.set(name, part.slice(at + 1).trim());
  }
  return jar;
}
