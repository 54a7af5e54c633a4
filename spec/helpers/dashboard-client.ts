// A dashboard served on a loopback port for a spec, and a client that keeps its cookies and
// CSRF token as a browser would.
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dashboard, type DashboardHandler, type DashboardOptions } from "../../lib/dashboard/handler.ts";

export interface Answer<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A client with a cookie jar. */
export class DashboardClient {
  readonly #jar = new Map<string, string>();
  csrf = "";

  constructor(readonly origin: string, readonly base = "") {}

  async request<T = any>(method: string, path: string, options: { body?: unknown; csrf?: string | false; headers?: Record<string, string> } = {}): Promise<Answer<T>> {
    const headers: Record<string, string> = { ...options.headers };
    const cookie = [...this.#jar].map(([k, v]) => `${k}=${v}`).join("; ");
    if (cookie !== "") headers.cookie = cookie;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const csrf = options.csrf === undefined ? this.csrf : options.csrf;
    if (csrf !== false && csrf !== "") headers["x-csrf-token"] = csrf;
    const response = await fetch(`${this.origin}${this.base}${path}`, {
      method,
      headers,
      redirect: "manual",
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair!.indexOf("=");
      const value = pair!.slice(at + 1);
      if (/Max-Age=0/.test(line)) this.#jar.delete(pair!.slice(0, at));
      else this.#jar.set(pair!.slice(0, at), value);
    }
    const type = response.headers.get("content-type") ?? "";
    const body = type.includes("json") ? await response.json() : await response.text();
    return { status: response.status, headers: response.headers, body: body as T };
  }

  get<T = any>(path: string): Promise<Answer<T>> {
    return this.request<T>("GET", path);
  }

  post<T = any>(path: string, body: unknown = {}, options: { csrf?: string | false } = {}): Promise<Answer<T>> {
    return this.request<T>("POST", path, { body, ...options });
  }

  /** Opens the session (cookie + CSRF token). */
  async session(): Promise<any> {
    const answer = await this.get("/api/session");
    this.csrf = answer.body.csrf;
    return answer.body;
  }

  /** Opens the session and logs in with `token`. */
  async login(token: string): Promise<Answer> {
    await this.session();
    return this.post("/api/login", { token });
  }
}

/** A server on 127.0.0.1 with any free port. */
export async function listen(listener: RequestListener): Promise<{ server: Server; origin: string; close(): Promise<void> }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The dashboard on its own server; `close` closes both. */
export async function serveDashboard(options: DashboardOptions): Promise<{ handler: DashboardHandler; client: DashboardClient; origin: string; close(): Promise<void> }> {
  const handler = dashboard(options);
  const served = await listen(handler);
  return {
    handler,
    origin: served.origin,
    client: new DashboardClient(served.origin),
    close: async () => {
      await served.close();
      await handler.close();
    },
  };
}
