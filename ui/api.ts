/**
 * Talking to the dashboard's JSON API by relative URLs (`api/overview`), so the pages work at any
 * mount path. Every POST carries the CSRF token and a JSON body.
 */
import type { ApiError } from "../lib/dashboard/api-types.ts";

/** An answer that was not 2xx: the server's ApiError, or a network failure (status 0). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiFailure";
  }
}

let csrf = "";

/** Sets the token sent as `x-csrf-token` (from `api/session`). */
export function setCsrf(token: string): void {
  csrf = token;
}

/** Encodes one path segment (queue names and ids may hold anything). */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

/** A query string from the given values, skipping empty ones: `?state=ready&offset=0`. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** GET `api/<path>`. */
export function get<T>(path: string): Promise<T> {
  return call<T>(path, { method: "GET", headers: { accept: "application/json" } });
}

/** POST `api/<path>` with a JSON body and the CSRF token. */
export function post<T>(path: string, body: unknown = {}): Promise<T> {
  return call<T>(path, {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/json", "x-csrf-token": csrf },
    body: JSON.stringify(body),
  });
}

async function call<T>(path: string, init: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`api/${path}`, { ...init, credentials: "same-origin", cache: "no-store" });
  } catch (error) {
    throw new ApiFailure(0, "network", `The dashboard cannot be reached (${(error as Error).message}).`);
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: said below
  }
  if (response.ok && body !== null) return body as T;
  const error = (body as Partial<ApiError> | null)?.error;
  if (error && typeof error.message === "string") throw new ApiFailure(response.status, String(error.code), error.message);
  throw new ApiFailure(response.status, "internal", `HTTP ${response.status} from api/${path.split("?")[0]}${response.ok ? ": not JSON" : ""}.`);
}
