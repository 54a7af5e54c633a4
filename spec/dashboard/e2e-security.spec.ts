// End to end, in Chromium, on a real SQLite fleet: the page arrives with its strict CSP and runs
// under it; the operator logs in through the header's form (a wrong token is refused and says
// so); a POST without the CSRF token, sent by script from the page itself, is refused with 403
// and changes nothing; a dashboard without an operator token shows every action disabled.
import { expect } from "chai";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { Broker } from "../../lib/broker.ts";
import { actor } from "../../lib/index.ts";
import { pausedQueues } from "../../lib/queue-pauses.ts";
import { closeBrowser, launchBrowser, openPage } from "../helpers/browser.ts";
import { TOKEN, loginThroughForm, openFleet, watchPage, type E2eFleet } from "../helpers/e2e-fleet.ts";

function declare(broker: Broker, queue: string): void {
  actor(function e2e_job(_n: number) {}, { broker, queueName: queue });
}

/** The browser's own report of a refused request; expected where a spec sends one. */
const REFUSED = /Failed to load resource: the server responded with a status of 403/;

describe("dashboard security in a browser (e2e)", function () {
  this.timeout(60_000);
  let browser: Browser | undefined;
  let fleet: E2eFleet | undefined;
  let readOnly: E2eFleet | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let watched: { problems: string[] };

  before(async () => {
    browser = await launchBrowser();
    fleet = await openFleet("SQLite", declare);
    await fleet.work.actors.get("e2e_job")!.send(1);
    ({ context, page } = await openPage(browser));
    watched = watchPage(page, [REFUSED]);
  });
  after(async () => {
    await context?.close();
    await closeBrowser(browser);
    await readOnly?.close();
    await fleet?.close();
  });
  afterEach(() => {
    expect(watched.problems, "console errors, page errors or CSP violations").to.deep.equal([]);
  });

  it("serves the page with a strict CSP, and the page runs under it", async () => {
    const response = await page.goto(`${fleet!.origin}/#/`);
    const csp = response!.headers()["content-security-policy"] ?? "";
    expect(csp).to.include("default-src 'none'").and.include("script-src 'self'").and.include("style-src 'self'").and.include("frame-ancestors 'none'");
    expect(csp).not.to.include("unsafe");
    expect(response!.headers()["x-frame-options"]).to.equal("DENY");
    await page.locator(`[data-test=queue-row][data-queue="${fleet!.queue}"]`).waitFor();
    expect(await page.locator("[data-test=session-state]").textContent()).to.equal("viewer");
  });

  it("logs the operator in through the form: a wrong token is refused, the right one enables the actions", async () => {
    await page.evaluate((q) => (location.hash = `#/queues/${q}`), fleet!.queue);
    const pause = page.locator("[data-test=pause-queue]");
    await pause.waitFor();
    expect(await pause.isDisabled(), "viewer: disabled").to.equal(true);
    expect(await pause.getAttribute("title")).to.include("Log in as operator");

    await page.locator("[data-test=login-token]").fill("not-the-token");
    await page.locator("[data-test=login-submit]").click();
    await page.locator("[data-test=toast][data-kind=error]", { hasText: "Wrong operator token" }).waitFor();
    expect(await page.locator("[data-test=session-state]").textContent()).to.equal("viewer");

    await loginThroughForm(page, TOKEN);
    await page.locator("[data-test=logout]").waitFor();
    expect(await page.locator("[data-test=login-form]").count()).to.equal(0);
    await page.locator("[data-test=pause-queue]:enabled").waitFor();
    expect(await page.locator("[data-test=actions-note]").count()).to.equal(0);
  });

  it("refuses a POST from the page without the CSRF token (403 csrf), and changes nothing; with it, acts", async () => {
    const queue = fleet!.queue;
    // No named function inside: tsx would wrap it in a helper the page does not have.
    const answers = await page.evaluate(async (q) => {
      const sent: { status: number; body: { error: { code: string } } }[] = [];
      for (const headers of [{}, { "x-csrf-token": "forged" }] as Record<string, string>[]) {
        const response = await fetch(`api/queues/${q}/pause`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" });
        sent.push({ status: response.status, body: await response.json() });
      }
      const session = await (await fetch("api/session")).json();
      return { without: sent[0]!, wrong: sent[1]!, operator: session.operator as boolean, csrf: session.csrf as string };
    }, queue);
    expect(answers.operator, "the session is an operator's: only the token is missing").to.equal(true);
    expect(answers.without.status).to.equal(403);
    expect(answers.without.body.error.code).to.equal("csrf");
    expect(answers.wrong.status).to.equal(403);
    expect(answers.wrong.body.error.code).to.equal("csrf");
    expect([...(await pausedQueues(fleet!.dash.store!, [queue]))], "nothing paused").to.deep.equal([]);

    const withToken = await page.evaluate(
      async ({ q, csrf }) => (await fetch(`api/queues/${q}/pause`, { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: "{}" })).status,
      { q: queue, csrf: answers.csrf },
    );
    expect(withToken).to.equal(200);
    expect([...(await pausedQueues(fleet!.dash.store!, [queue]))]).to.deep.equal([queue]);
  });

  it("read-only (no operator token): no login form, every action disabled, saying why", async () => {
    readOnly = await openFleet("SQLite", declare, { token: null });
    await page.goto(`${readOnly.origin}/#/queues/${readOnly.queue}`);
    const pause = page.locator("[data-test=pause-queue]");
    await pause.waitFor();
    expect(await page.locator("[data-test=session-state]").textContent()).to.equal("read-only");
    expect(await page.locator("[data-test=login-form]").count()).to.equal(0);
    for (const test of ["pause-queue", "purge-queue"]) {
      const button = page.locator(`[data-test=${test}]`);
      expect(await button.isDisabled(), test).to.equal(true);
      expect(await button.getAttribute("title"), test).to.include("Read-only dashboard");
    }
    expect(await page.locator("[data-test=actions-note]").textContent()).to.include("Read-only dashboard");
    const refused = await page.evaluate(async (q) => {
      const { csrf } = await (await fetch("api/session")).json();
      const response = await fetch(`api/queues/${q}/pause`, { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: "{}" });
      return { status: response.status, code: (await response.json()).error.code };
    }, readOnly.queue);
    expect(refused).to.deep.equal({ status: 403, code: "read_only" });
  });
});
