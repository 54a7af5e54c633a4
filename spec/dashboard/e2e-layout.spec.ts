// End to end, in Chromium, on a real Redis fleet with real data: the overview and the dead
// letters at 1280 px and at 375 px (a phone), and every page at 375 px without the document
// scrolling sideways (tables scroll inside their own container). Screenshots go under a temp dir;
// `DRAMATS_UPDATE_SCREENSHOTS=1` writes the 1280 px ones to docs/images/ (committed), so a
// plain run leaves the checkout as it was; `DRAMATS_E2E_SHOTS=DIR` keeps the temp ones in DIR.
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import type { Broker } from "../../lib/broker.ts";
import { actor } from "../../lib/index.ts";
import { closeBrowser, launchBrowser, openPage } from "../helpers/browser.ts";
import { loginThroughForm, openFleet, until, watchPage, type E2eFleet } from "../helpers/e2e-fleet.ts";
import { ROOT } from "../helpers/repo-copy.ts";

const DOCS_IMAGES = join(ROOT, "docs/images");

class SMTPError extends Error {
  override name = "SMTPError";
}
class CardDeclined extends Error {
  override name = "CardDeclined";
}

function declare(broker: Broker): void {
  actor(function send_welcome_email(userId: number, template: string) {
    if (userId % 5 === 0) throw new SMTPError("421 4.7.0 smtp.example.net Service not available, closing transmission channel");
    if (userId % 7 === 0) throw new Error(`Template ${template} has no 'first_name' placeholder value`);
  }, { broker, queueName: "emails", maxRetries: 0 });
  actor(function charge_card(invoice: string, cents: number) {
    if (cents > 50_000) throw new CardDeclined(`Insufficient funds for invoice ${invoice}`);
  }, { broker, queueName: "billing", maxRetries: 0 });
  actor(function build_monthly_report(account: string, month: string) {
    void account;
    void month;
  }, { broker, queueName: "reports" });
}

/** The document is no wider than the viewport (nothing scrolls the page sideways). */
async function overflow(page: Page): Promise<{ viewport: number; document: number; body: number }> {
  return page.evaluate(() => ({ viewport: window.innerWidth, document: document.documentElement.scrollWidth, body: document.body.scrollWidth }));
}

describe("dashboard layout at 1280 and 375 px, with screenshots (e2e)", function () {
  this.timeout(60_000);
  let browser: Browser | undefined;
  let fleet: E2eFleet | undefined;
  let phoneShots: string;
  let images: string;
  let problems: string[][] = [];

  before(async () => {
    // DRAMATS_E2E_SHOTS=DIR keeps the phone-width screenshots there, to look at them.
    phoneShots = process.env.DRAMATS_E2E_SHOTS ?? mkdtempSync(join(tmpdir(), "dramats-dashboard-375-"));
    mkdirSync(phoneShots, { recursive: true });
    images = process.env.DRAMATS_UPDATE_SCREENSHOTS === "1" ? DOCS_IMAGES : join(phoneShots, "1280");
    browser = await launchBrowser();
    fleet = await openFleet("Redis", declare, { queue: "emails" });
    const email = fleet.work.actors.get("send_welcome_email")!;
    const charge = fleet.work.actors.get("charge_card")!;
    const report = fleet.work.actors.get("build_monthly_report")!;
    // Run once through a worker: 10 emails fail (6 SMTP, 4 template), 2 charges are declined.
    for (let id = 1; id <= 30; id++) await email.send(id, "welcome-v2");
    for (const [invoice, cents] of [["INV-1041", 1_999], ["INV-1042", 72_500], ["INV-1043", 4_500], ["INV-1044", 99_000]] as const) await charge.send(invoice, cents);
    for (const account of ["acme", "globex", "initech"]) await report.send(account, "2026-11");
    const seeding = await fleet.startWorker({ queues: ["emails", "billing", "reports"], historyShift: -60_000 });
    await until(async () => {
      const [e, b, r] = await Promise.all(["emails", "billing", "reports"].map((q) => fleet!.work.depths(q)));
      return e!.dead === 10 && b!.dead === 2 && e!.ready + b!.ready + r!.ready + e!.inFlight + b!.inFlight + r!.inFlight === 0;
    }, "the first runs settled");
    await fleet.stopWorker(seeding);
    await fleet.startWorker({ queues: ["billing"] });
    for (let id = 31; id <= 42; id++) await email.send(id, "welcome-v2");
    for (let id = 43; id <= 45; id++) await email.sendWithOptions({ args: [id, "reminder"], delay: 3_600_000 });
    for (const account of ["acme", "globex", "initech", "umbrella", "hooli"]) await report.send(account, "2026-12");
  });
  after(async () => {
    await closeBrowser(browser);
    await fleet?.close();
    if (process.env.DRAMATS_E2E_SHOTS === undefined) rmSync(phoneShots, { recursive: true, force: true });
  });
  afterEach(() => {
    expect(problems.flat(), "console errors, page errors or CSP violations").to.deep.equal([]);
    problems = [];
  });

  async function open(width: number): Promise<Page> {
    const { page } = await openPage(browser!, width, width > 1000 ? 800 : 740);
    problems.push(watchPage(page).problems);
    await page.goto(`${fleet!.origin}/#/`);
    await loginThroughForm(page);
    return page;
  }
  /** Waits for the overview's data, the live worker and a drawn sparkline. */
  async function overviewReady(page: Page): Promise<void> {
    await page.evaluate(() => (location.hash = "#/"));
    const emails = page.locator('[data-test=queue-row][data-queue="emails"] td');
    await until(async () => (await emails.nth(1).textContent()) === "12", "the overview's counts");
    await until(async () => (await page.locator("[data-test=workers-live] strong").textContent()) === "1", "the live worker");
  }
  async function deadReady(page: Page): Promise<void> {
    await page.evaluate(() => (location.hash = "#/dead/emails"));
    await until(async () => (await page.locator("[data-test=dead-row]").count()) === 10 && (await page.locator("[data-test=reason-group]").count()) === 2, "the dead letters and their groups");
  }
  const clearToasts = (page: Page) => page.evaluate(() => document.getElementById("toasts")?.replaceChildren());

  it("1280 px: the overview and the dead letters (the screenshots of docs/images)", async () => {
    const page = await open(1280);
    mkdirSync(images, { recursive: true });
    await overviewReady(page);
    expect(await page.locator("[data-test=queue-row]").count()).to.equal(3);
    await clearToasts(page);
    await page.screenshot({ path: join(images, "dashboard-overview.png"), fullPage: true });
    await deadReady(page);
    await clearToasts(page);
    await page.screenshot({ path: join(images, "dashboard-dead-letters.png"), fullPage: true });
    for (const name of ["dashboard-overview.png", "dashboard-dead-letters.png"]) expect(statSync(join(images, name)).size, name).to.be.above(10_000);
    expect(await overflow(page)).to.satisfy((o: { viewport: number; document: number }) => o.document <= o.viewport);
  });

  it("375 px: no page scrolls sideways; the overview and the dead letters saved under a temp dir", async () => {
    const page = await open(375);
    const wide: string[] = [];
    const check = async (where: string): Promise<void> => {
      const o = await overflow(page);
      if (o.document > o.viewport || o.body > o.viewport) wide.push(`${where}: document ${o.document} px, body ${o.body} px in ${o.viewport} px`);
    };
    await overviewReady(page);
    await clearToasts(page);
    await check("overview");
    await page.screenshot({ path: join(phoneShots, "overview.png"), fullPage: true });
    await deadReady(page);
    await check("dead letters");
    await page.screenshot({ path: join(phoneShots, "dead-letters.png"), fullPage: true });

    await page.locator("[data-test=message-link]").first().click();
    await page.locator("[data-test=failures]").waitFor();
    await check("dead message");
    for (const [hash, ready] of [
      ["#/queues/emails", "[data-test=message-row]"],
      ["#/queues/emails?state=delayed", "[data-test=message-row]"],
      ["#/workers", "[data-test=worker-row]"],
      ["#/schedules", "[data-test=schedules-off]"],
      ["#/charts", "[data-test=chart-counts] canvas"],
    ] as const) {
      await page.evaluate((h) => (location.hash = h), hash);
      await page.locator(ready).first().waitFor();
      await check(hash);
    }
    // The confirmation dialog fits too.
    await page.evaluate(() => (location.hash = "#/queues/emails"));
    await page.locator("[data-test=purge-queue]").click();
    await page.locator("[data-test=confirm-input]").waitFor();
    await check("purge dialog");
    await page.locator("[data-test=confirm-cancel]").click();
    expect(wide).to.deep.equal([]);
    for (const name of ["overview.png", "dead-letters.png"]) expect(statSync(join(phoneShots, name)).size, name).to.be.above(5_000);
  });
});
