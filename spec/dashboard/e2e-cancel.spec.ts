// End to end, in Chromium: an operator cancels a running message from the Workers page. On
// Redis (the Cancellation middleware with its Redis backend, on the dashboard's broker and the
// worker's) the actor's signal aborts with MessageCancelled, the message is neither retried nor
// dead-lettered, and the message running beside it is untouched. On SQLite (no cancellation
// backend) the page says why cancelling is off and the button is disabled.
import { expect } from "chai";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { Broker } from "../../lib/broker.ts";
import { actor, MessageCancelled, type ActorContext } from "../../lib/index.ts";
import { closeBrowser, launchBrowser, openPage } from "../helpers/browser.ts";
import { loginThroughForm, openFleet, until, watchPage, type E2eFleet, type FleetKind } from "../helpers/e2e-fleet.ts";

/** Per queue and tag: how each run of e2e_slow went. */
const runs = new Map<string, { tag: string; outcome: "running" | "done" | "aborted"; reason?: unknown }[]>();
const released = new Set<string>();

function declare(broker: Broker, queue: string): void {
  actor(function e2e_slow(this: ActorContext, tag: string) {
    const run: { tag: string; outcome: "running" | "done" | "aborted"; reason?: unknown } = { tag, outcome: "running" };
    runs.set(queue, [...(runs.get(queue) ?? []), run]);
    return new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (!released.has(queue)) return;
        clearInterval(timer);
        run.outcome = "done";
        resolve();
      }, 20);
      this.signal.addEventListener("abort", () => {
        clearInterval(timer);
        run.outcome = "aborted";
        run.reason = this.signal.reason;
        reject(this.signal.reason);
      });
    });
  }, { broker, queueName: queue });
}

describe("dashboard: cancel a running message from the Workers page (e2e)", function () {
  this.timeout(60_000);
  let browser: Browser | undefined;
  let fleet: E2eFleet | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let watched: { problems: string[] } | undefined;

  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await closeBrowser(browser);
  });
  afterEach(async () => {
    if (fleet) released.add(fleet.queue);
    await context?.close();
    await fleet?.close();
    fleet = context = undefined;
    const problems = watched?.problems ?? [];
    watched = undefined;
    expect(problems, "console errors, page errors or CSP violations").to.deep.equal([]);
  });

  async function start(kind: FleetKind): Promise<{ queue: string; running: (tag: string) => boolean }> {
    fleet = await openFleet(kind, declare);
    const queue = fleet.queue;
    await fleet.startWorker({ concurrency: 2 });
    ({ context, page } = await openPage(browser!));
    watched = watchPage(page);
    await page.goto(`${fleet.origin}/#/workers`);
    await loginThroughForm(page);
    return { queue, running: (tag) => (runs.get(queue) ?? []).some((r) => r.tag === tag && r.outcome === "running") };
  }

  it("on Redis: the run is aborted with MessageCancelled, not retried nor dead-lettered; the other runs on", async () => {
    const { queue, running } = await start("Redis");
    const slow = fleet!.work.actors.get("e2e_slow")!;
    const doomed = await slow.send("doomed");
    const kept = await slow.send("kept");
    await until(() => running("doomed") && running("kept"), "both running");

    const item = page.locator(`[data-test=running-message][data-id="${doomed.messageId}"]`);
    await item.waitFor({ timeout: 10_000 });
    expect(await page.locator(`[data-test=running-message][data-id="${kept.messageId}"]`).count()).to.equal(1);
    expect(await item.textContent()).to.include("e2e_slow").and.include(queue);
    await item.locator("[data-test=cancel-message]").click();
    expect(await page.locator("[data-test=confirm-dialog] h2").textContent()).to.equal("Cancel e2e_slow?");
    await page.locator("[data-test=confirm-ok]").click();
    await page.locator("[data-test=toast][data-kind=ok] [data-test=toast-text]", { hasText: `Cancelled ${doomed.messageId}: its worker aborts it` }).waitFor();

    const doomedRun = await until(() => runs.get(queue)!.find((r) => r.tag === "doomed" && r.outcome === "aborted"), "the doomed run aborted");
    expect(doomedRun.reason).to.be.instanceOf(MessageCancelled);
    await until(async () => (await page.locator(`[data-test=running-message][data-id="${doomed.messageId}"]`).count()) === 0, "the cancelled message gone from the page");
    expect(running("kept"), "the other message runs on").to.equal(true);
    released.add(queue);
    await until(async () => {
      const d = await fleet!.work.depths(queue);
      return runs.get(queue)!.some((r) => r.tag === "kept" && r.outcome === "done") && d.inFlight === 0 && d.ready === 0 && d.delayed === 0;
    }, "the queue settled");
    expect((await fleet!.work.depths(queue)).dead, "not dead-lettered").to.equal(0);
    expect(runs.get(queue)!.filter((r) => r.tag === "doomed"), "not retried").to.have.length(1);
    await page.locator("[data-test=worker-row]", { hasText: "idle" }).waitFor({ timeout: 5_000 });
  });

  it("on SQLite (no cancellation backend): the page says why, and the button is disabled", async () => {
    const { running } = await start("SQLite");
    const message = await fleet!.work.actors.get("e2e_slow")!.send("stuck");
    await until(() => running("stuck"), "running");
    const item = page.locator(`[data-test=running-message][data-id="${message.messageId}"]`);
    await item.waitFor({ timeout: 10_000 });
    expect(await page.locator("[data-test=cancel-off]").textContent()).to.include("Cancellation middleware");
    const button = item.locator("[data-test=cancel-message]");
    expect(await button.isDisabled()).to.equal(true);
    expect(await button.getAttribute("title")).to.include("Cancellation middleware");
  });
});
