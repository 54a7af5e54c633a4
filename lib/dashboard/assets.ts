// The pages' files, built by `npm run build` (scripts/build-ui.mjs) into dist/ui/ and shipped in
// the package: index.html at the dashboard's root, the rest under assets/. Nothing is loaded from
// anywhere else at run time.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { HttpError, SECURITY_HEADERS } from "./http.ts";
import type { ServerResponse } from "node:http";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/** The asset names the server answers: nothing else is read from disk. */
const SERVED = /^(index\.html|app\.js|app\.css|app\.js\.map|favicon\.svg)$/;

/** Where the built pages are: dist/ui next to the compiled code, or in the checkout when run from source. */
export function uiDirectory(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/lib/dashboard → dist/ui; lib/dashboard (source, run by tsx) → dist/ui of the checkout.
  for (const candidate of [join(here, "..", "..", "ui"), join(here, "..", "..", "dist", "ui")]) {
    if (existsSync(join(candidate, "index.html")) && existsSync(join(candidate, "app.js"))) return candidate;
  }
  return undefined;
}

/** Reads the built files once and serves them from memory. */
export class Assets {
  readonly #files = new Map<string, Buffer>();
  readonly #directory: string | undefined;

  constructor(directory: string | undefined = uiDirectory()) {
    this.#directory = directory;
  }

  /**
   * Sends the asset `name` (`index.html`, `app.js`, ...).
   * @throws HttpError 404 for an unknown name, 503 when the pages were not built
   */
  send(response: ServerResponse, name: string, head: boolean): void {
    if (!SERVED.test(name)) throw new HttpError(404, "not_found", `No such page or file: ${name}`);
    const body = this.#read(name);
    const ext = name.slice(name.lastIndexOf("."));
    response.writeHead(200, {
      ...SECURITY_HEADERS,
      "content-type": TYPES[ext] ?? "application/octet-stream",
      "content-length": String(body.length),
      // index.html names the assets without a hash: revalidate both rather than cache stale code.
      "cache-control": "no-cache",
    });
    response.end(head ? undefined : body);
  }

  #read(name: string): Buffer {
    const cached = this.#files.get(name);
    if (cached !== undefined) return cached;
    if (this.#directory === undefined) {
      throw new HttpError(503, "unavailable", "The dashboard's pages are not built: run `npm run build` (the JSON API under api/ works without them)");
    }
    const path = join(this.#directory, name);
    if (!existsSync(path)) throw new HttpError(404, "not_found", `No such file: ${name}`);
    const body = readFileSync(path);
    this.#files.set(name, body);
    return body;
  }
}
