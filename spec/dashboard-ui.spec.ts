// The dashboard's pages (ui/) as built by scripts/build-ui.mjs: small, no HTML built from
// strings, no inline script or style, and running in Chromium under the strict CSP the server
// sends, at a mount path, calling the API by relative URLs.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import type { Browser } from "playwright-core";
import { closeBrowser, launchBrowser, openPage } from "./helpers/browser.ts";
import { ROOT } from "./helpers/repo-copy.ts";

const run = promisify(execFile);
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : [path];
  });
}

describe("Dashboard pages (ui/)", function () {
  this.timeout(60_000);
  let out: string;
  let server: Server | undefined;
  let browser: Browser | undefined;
  let base: string;
  const requests: string[] = [];

  before(async () => {
    out = mkdtempSync(join(tmpdir(), "dramats-ui-"));
    await run(process.execPath, [join(ROOT, "scripts/build-ui.mjs"), out]);
    const files: Record<string, [string, string]> = {
      "/mount/": ["index.html", "text/html; charset=utf-8"],
      "/mount/assets/app.js": ["app.js", "text/javascript"],
      "/mount/assets/app.css": ["app.css", "text/css"],
    };
    server = createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      requests.push(`${req.method} ${path}`);
      const file = files[path];
      if (file) {
        res.writeHead(200, { "content-type": file[1], "content-security-policy": CSP });
        res.end(readFileSync(join(out, file[0])));
      } else {
        res.writeHead(503, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { code: "unavailable", message: "The broker <b>is</b> down (spec)" } }));
      }
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mount/`;
    browser = await launchBrowser();
  });

  after(async () => {
    await closeBrowser(browser);
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    rmSync(out, { recursive: true, force: true });
  });

  it("builds index.html, app.js and app.css, small", () => {
    const js = readFileSync(join(out, "app.js"), "utf8");
    const css = readFileSync(join(out, "app.css"), "utf8");
    expect(gzipSync(js).length, "app.js gzipped").to.be.within(10_000, 60_000);
    expect(gzipSync(css).length, "app.css gzipped").to.be.within(1_000, 10_000);
    expect(css, "uPlot's CSS is in").to.include(".uplot");
  });

  it("loads its assets by relative paths, with no inline script, style or handler", () => {
    const html = readFileSync(join(out, "index.html"), "utf8");
    expect(html).to.include('href="assets/app.css"').and.include('src="assets/app.js"');
    expect(html).not.to.match(/<style|style=|\son[a-z]+=|<script(?![^>]*\ssrc=)/i);
  });

  it("builds no HTML from strings in its sources", () => {
    const offending = sources(join(ROOT, "ui"))
      .filter((path) => path.endsWith(".ts"))
      .filter((path) => /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|style=/.test(readFileSync(path, "utf8")));
    expect(offending).to.deep.equal([]);
  });

  it("runs under the strict CSP at a mount path, calls api/ relatively and shows the API's error as text", async () => {
    const { page } = await openPage(browser!, 375, 700);
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(error.message));
    page.on("console", (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
    });
    await page.goto(`${base}#/`);
    const error = page.locator("[data-test=load-error]");
    await error.waitFor({ timeout: 10_000 });
    expect(await error.textContent()).to.include("The broker <b>is</b> down (spec)");
    expect(await page.locator("b").count(), "the message is text, not markup").to.equal(0);
    expect(requests).to.include("GET /mount/api/session");
    expect(requests).to.include("GET /mount/assets/app.js").and.include("GET /mount/assets/app.css");
    expect(problems).to.deep.equal([]);
  });
});
