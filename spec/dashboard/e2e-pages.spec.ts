// End to end, in Chromium: every page of the dashboard on a real Redis fleet and a real SQLite
// fleet with real data (messages run and dead-lettered by a real Worker, its minutes in the
// history, a live worker in the registry, a periodic actor), asserting what each page shows,
// and that no page logs an error, throws, or trips the Content-Security-Policy.
import { expect } from "chai";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { Broker } from "../../lib/broker.ts";
import { actor } from "../../lib/index.ts";
import { closeBrowser, launchBrowser, openPage } from "../helpers/browser.ts";
import { openFleet, until, watchPage, type E2eFleet, type FleetKind } from "../helpers/e2e-fleet.ts";

/** Runs of e2e_greet per queue (the workers run in this process). */
const greeted = new Map<string, string[]>();

function declare(broker: Broker, queue: string): void {
  actor(function e2e_greet(name: string) {
    greeted.set(queue, [...(greeted.get(queue) ?? []), name]);
  }, { broker, queueName: queue });
  actor(function e2e_charge(kind: string) {
    throw new Error(kind === "timeout" ? "Timeout talking to the bank" : "Card declined");
  }, { broker, queueName: queue, maxRetries: 0 });
  actor(function e2e_nightly() {}, { broker, queueName: queue, schedule: { every: 3_600_000 } });
  broker.declareQueue(`${queue}_side`);
}

describe("dashboard pages in a browser, on real fleets (e2e)", function () {
  this.timeout(60_000);
  let browser: Browser | undefined;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await closeBrowser(browser);
  });

  for (const kind of ["Redis", "SQLite"] as FleetKind[]) {
    describe(`on ${kind}`, () => {
      let fleet: E2eFleet | undefined;
      let context: BrowserContext | undefined;
      let page: Page;
      let watched: { problems: string[] };
      let queue: string;

      before(async () => {
        fleet = await openFleet(kind, declare);
        queue = fleet.queue;
        const greet = fleet.work.actors.get("e2e_greet")!;
        const charge = fleet.work.actors.get("e2e_charge")!;
        for (const name of ["ran-1", "ran-2", "ran-3"]) await greet.send(name);
        for (const kindOf of ["declined", "declined", "declined", "timeout", "timeout"]) await charge.send(kindOf);
        const worker = await fleet.startWorker({ historyShift: -60_000 });
        await until(async () => {
          const d = await fleet!.work.depths(queue);
          return d.dead === 5 && d.ready === 0 && d.inFlight === 0 && greeted.get(queue)?.length === 3;
        }, "3 runs and 5 dead letters");
        // Its shutdown writes its minute (filed a minute back: the charts show finished minutes) to the history.
        await fleet.stopWorker(worker);
        await fleet.startWorker({ queues: [`${queue}_side`] });
        for (let i = 0; i < 4; i++) await greet.send(`alice-${i}`);
        for (let i = 0; i < 2; i++) await greet.sendWithOptions({ args: [`later-${i}`], delay: 3_600_000 });
        ({ context, page } = await openPage(browser!));
        watched = watchPage(page);
        await page.goto(`${fleet.origin}/#/`);
      });
      after(async () => {
        await context?.close();
        await fleet?.close();
      });
      afterEach(() => {
        expect(watched.problems, "console errors, page errors or CSP violations").to.deep.equal([]);
      });

      const go = async (hash: string): Promise<void> => {
        await page.evaluate((h) => (location.hash = h), hash);
      };

      it("overview: the queue's counts, its dead link, the live worker", async () => {
        const row = page.locator(`[data-test=queue-row][data-queue="${queue}"]`);
        await row.waitFor();
        const cells = row.locator("td");
        expect(await cells.nth(1).textContent(), "ready").to.equal("4");
        expect(await cells.nth(2).textContent(), "delayed").to.equal("2");
        expect(await cells.nth(3).textContent(), "running").to.equal("0");
        expect(await row.locator("[data-test=dead-link]").textContent(), "dead").to.equal("5");
        expect(await cells.nth(6).textContent(), "consumers").to.equal("0");
        expect(await row.locator("[data-test=warning-badge]").allTextContents()).to.include("no consumers");
        const side = page.locator(`[data-test=queue-row][data-queue="${queue}_side"] td`);
        await until(async () => (await side.nth(6).textContent()) === "1", "the side queue's consumer");
        expect(await page.locator("[data-test=workers-live] strong").textContent()).to.equal("1");
        expect(await row.locator("[data-test=spark-processed]").count()).to.equal(1);
      });

      it("queue page: ready, delayed and dead tabs with their rows and counts", async () => {
        await page.locator(`[data-test=queue-row][data-queue="${queue}"] [data-test=queue-link]`).click();
        await page.locator("[data-test=message-row]").first().waitFor();
        expect(await page.locator("[data-test=tab-ready] .count").textContent()).to.equal("4");
        expect(await page.locator("[data-test=tab-delayed] .count").textContent()).to.equal("2");
        expect(await page.locator("[data-test=tab-dead] .count").textContent()).to.equal("5");
        const ready = await page.locator("[data-test=message-row]").allTextContents();
        expect(ready).to.have.length(4);
        expect(ready.join(" ")).to.include('"alice-0"').and.include('"alice-3"').and.include("e2e_greet");

        await page.locator("[data-test=tab-delayed]").click();
        await until(async () => (await page.locator("[data-test=message-row]").allTextContents()).join(" ").includes("later-0"), "the delayed rows");
        expect(await page.locator("[data-test=message-row]").count()).to.equal(2);

        await page.locator("[data-test=tab-dead]").click();
        await page.locator("[data-test=dead-row]").first().waitFor();
        expect(await page.locator("[data-test=dead-row]").count()).to.equal(5);
        expect((await page.locator("[data-test=dead-row]").allTextContents()).join(" ")).to.include("Card declined").and.include("Timeout talking to the bank");
        expect(await page.locator("[data-test=manage-dead]").count()).to.equal(1);
      });

      it("message detail: a ready message's actor and args, a dead one's failure", async () => {
        await go(`#/queues/${queue}?state=ready&text=alice-2`);
        await until(async () => (await page.locator("[data-test=message-row]").count()) === 1, "the one message with alice-2");
        await page.locator("[data-test=message-link]").click();
        const json = page.locator("[data-test=message-json]");
        await json.waitFor();
        const message = JSON.parse((await json.textContent())!);
        expect(message).to.deep.include({ actor_name: "e2e_greet", queue_name: queue });
        expect(message.args).to.deep.equal(["alice-2"]);
        expect(await page.locator("[data-test=message-state]").textContent()).to.equal("ready");
        expect(await page.locator('[data-field="Actor"]').textContent()).to.equal("e2e_greet");

        await go(`#/queues/${queue}?state=dead&text=timeout`);
        await until(async () => (await page.locator("[data-test=dead-row]").count()) === 2, "the two timeouts");
        await page.locator("[data-test=message-link]").first().click();
        await page.locator("[data-test=failure]").first().waitFor();
        expect(await page.locator("[data-test=message-state]").textContent()).to.equal("dead");
        expect(await page.locator("[data-test=failures]").textContent()).to.include("Timeout talking to the bank");
        expect(await page.locator("[data-test=requeue-message]").count()).to.equal(1);
      });

      it("dead letters: reasons grouped with counts, every row listed", async () => {
        await go(`#/dead/${queue}`);
        await page.locator("[data-test=reason-group]").first().waitFor();
        const groups = await page.locator("[data-test=reason-group]").evaluateAll((links) => links.map((a) => [a.querySelector(".reason")!.textContent, a.querySelector(".count")!.textContent]));
        expect(groups).to.have.length(2);
        expect(groups.find(([reason]) => reason!.includes("Card declined"))?.[1]).to.equal("3");
        expect(groups.find(([reason]) => reason!.includes("Timeout talking to the bank"))?.[1]).to.equal("2");
        await page.locator("[data-test=dead-row]").first().waitFor();
        expect(await page.locator("[data-test=dead-row]").count()).to.equal(5);
        // Logged out: the bulk actions are shown, disabled, and the page says why.
        expect(await page.locator("[data-test=requeue-matching]").textContent()).to.equal("Requeue all 5");
        expect(await page.locator("[data-test=requeue-matching]").isDisabled()).to.equal(true);
        expect(await page.locator("[data-test=actions-note]").textContent()).to.include("Log in as operator");
      });

      it("workers: the live worker, its queue, its idle slots", async () => {
        await page.locator("[data-test=nav-workers]").click();
        const live = page.locator("[data-test=worker-row]", { has: page.locator("[data-test=worker-status]", { hasText: "live" }) });
        await live.first().waitFor();
        expect(await live.count()).to.equal(1);
        const text = (await live.textContent())!;
        expect(text).to.include(`${queue}_side`).and.include(String(process.pid)).and.include("idle").and.include("ve2e");
      });

      it("schedules: the periodic actor, its schedule in words and its next run", async () => {
        await page.locator("[data-test=nav-schedules]").click();
        const row = page.locator("[data-test=schedule-row][data-actor=e2e_nightly]");
        await row.waitFor();
        const text = (await row.textContent())!;
        expect(text).to.include(queue).and.match(/every|hour/i);
        expect(await row.locator("[data-test=schedule-paused]").count()).to.equal(0);
        expect(await page.locator("[data-test=schedule-row]").count()).to.equal(1);
      });

      it("charts: the history's queue and actors in the pickers, three charts drawn", async () => {
        await page.locator("[data-test=nav-charts]").click();
        const queues = page.locator("[data-test=pick-queue] option");
        await until(async () => (await queues.allTextContents()).includes(queue), "the queue in the picker");
        const actors = await page.locator("[data-test=pick-actor] option").allTextContents();
        expect(actors).to.include("e2e_greet").and.include("e2e_charge");
        for (const chart of ["chart-counts", "chart-wait", "chart-run"]) expect(await page.locator(`[data-test=${chart}] canvas`).count(), chart).to.equal(1);
        // What the charts draw: 8 processed (3 greets, 5 charges), 5 of them failed.
        const totals = await page.evaluate(async () => {
          const data = (await (await fetch("api/history?minutes=60")).json()) as { points: { processed: number; failed: number }[] };
          return data.points.reduce((sum, p) => ({ processed: sum.processed + p.processed, failed: sum.failed + p.failed }), { processed: 0, failed: 0 });
        });
        expect(totals).to.deep.equal({ processed: 8, failed: 5 });
      });
    });
  }
});
