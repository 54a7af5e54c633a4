// End to end, in Chromium, on a real Redis fleet and a real SQLite fleet with a real Worker
// consuming: an operator requeues dead letters by filter (an actor, then a reason group) and sees
// them run; pauses a queue and sees consumption stop within the workers' poll, the messages stay
// ready; resumes it and sees them run.
import { expect } from "chai";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { Broker } from "../../lib/broker.ts";
import { actor } from "../../lib/index.ts";
import type { Worker } from "../../lib/worker.ts";
import { closeBrowser, launchBrowser, openPage } from "../helpers/browser.ts";
import { loginThroughForm, openFleet, until, watchPage, type E2eFleet, type FleetKind } from "../helpers/e2e-fleet.ts";

/** Per queue: whether the failing actors are fixed, and what ran (actor, arg, start time, outcome). */
const fixed = new Set<string>();
const runs = new Map<string, { actor: string; arg: string; at: number; ok: boolean }[]>();

function record(queue: string, actorName: string, arg: string, ok: boolean): void {
  runs.set(queue, [...(runs.get(queue) ?? []), { actor: actorName, arg, at: Date.now(), ok }]);
}

function declare(broker: Broker, queue: string): void {
  actor(function e2e_flaky(arg: string) {
    record(queue, "e2e_flaky", arg, fixed.has(queue));
    if (!fixed.has(queue)) throw new Error("Card declined");
  }, { broker, queueName: queue, maxRetries: 0 });
  actor(function e2e_boom(arg: string) {
    record(queue, "e2e_boom", arg, fixed.has(queue));
    if (!fixed.has(queue)) throw new Error("Boom");
  }, { broker, queueName: queue, maxRetries: 0 });
  actor(async function e2e_tick(arg: string) {
    record(queue, "e2e_tick", arg, true);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }, { broker, queueName: `${queue}_ticks` });
}

const okRuns = (queue: string, actorName: string) => (runs.get(queue) ?? []).filter((r) => r.actor === actorName && r.ok);

describe("dashboard actions in a browser, on real fleets with a real Worker (e2e)", function () {
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
        ({ context, page } = await openPage(browser!));
        watched = watchPage(page);
        await page.goto(`${fleet.origin}/#/`);
        await loginThroughForm(page);
      });
      after(async () => {
        await context?.close();
        await fleet?.close();
      });
      afterEach(() => {
        expect(watched.problems, "console errors, page errors or CSP violations").to.deep.equal([]);
      });

      /** Confirms the dialog and waits for the toast saying `said`. */
      const confirm = async (said: string): Promise<void> => {
        await page.locator("[data-test=confirm-ok]").click();
        await page.locator("[data-test=toast][data-kind=ok] [data-test=toast-text]", { hasText: said }).waitFor();
      };

      it("requeues the dead letters of one actor, then of one reason group, and the worker runs each once", async () => {
        const flaky = fleet!.work.actors.get("e2e_flaky")!;
        const boom = fleet!.work.actors.get("e2e_boom")!;
        for (let i = 0; i < 4; i++) await flaky.send(`f${i}`);
        for (let i = 0; i < 2; i++) await boom.send(`b${i}`);
        await fleet!.startWorker();
        await until(async () => (await fleet!.work.depths(queue)).dead === 6, "6 dead letters");
        fixed.add(queue);

        // By actor: 4 of the 6 match.
        await page.evaluate((q) => (location.hash = `#/dead/${q}`), queue);
        await page.locator("[data-test=dead-row]").first().waitFor();
        expect(await page.locator("[data-test=dead-row]").count()).to.equal(6);
        await page.locator("[data-test=filter-actor]").fill("e2e_flaky");
        await page.locator("[data-test=filter-apply]").click();
        const summary = page.locator("[data-test=filter-summary]");
        await until(async () => (await summary.textContent())?.startsWith("Matched 4 of 6"), "the filter's summary");
        const bulk = page.locator("[data-test=requeue-matching]");
        expect(await bulk.textContent()).to.equal("Requeue all 4 matching");
        await bulk.click();
        expect(await page.locator("[data-test=confirm-dialog] h2").textContent()).to.equal("Requeue 4 dead letters?");
        await confirm(`Requeued 4 dead letters of ${queue}`);
        await until(() => okRuns(queue, "e2e_flaky").length === 4, "4 successful runs of e2e_flaky", 15_000);
        await until(async () => (await fleet!.work.depths(queue)).dead === 2, "2 dead letters left");
        expect(okRuns(queue, "e2e_flaky").map((r) => r.arg).sort()).to.deep.equal(["f0", "f1", "f2", "f3"]);
        expect(okRuns(queue, "e2e_boom"), "the other actor's dead letters untouched").to.have.length(0);
        await until(async () => (await page.locator("[data-test=dead-row]").count()) === 0 && (await summary.textContent())?.startsWith("Matched 0 of 2"), "the list reloaded: none match");

        // By reason group: the 2 left, all "Boom".
        await page.locator("[data-test=filter-clear]").click();
        const group = page.locator("[data-test=reason-group]");
        await until(async () => (await group.count()) === 1, "one reason group left");
        expect(await group.locator(".count").textContent()).to.equal("2");
        await group.click();
        await page.locator("[data-test=reason-filter]").waitFor();
        await until(async () => (await bulk.textContent()) === "Requeue all 2 matching", "the bulk button's count");
        await bulk.click();
        await confirm(`Requeued 2 dead letters of ${queue}`);
        await until(() => okRuns(queue, "e2e_boom").length === 2, "2 successful runs of e2e_boom", 15_000);
        await until(async () => (await fleet!.work.depths(queue)).dead === 0, "no dead letter left");
        await page.locator("[data-test=nav-overview]").click();
        const dead = page.locator(`[data-test=queue-row][data-queue="${queue}"] td`).nth(4);
        await until(async () => (await dead.textContent()) === "0", "the overview's dead count at 0");
        // Each requeued message ran once more, and only once.
        expect(okRuns(queue, "e2e_flaky")).to.have.length(4);
        expect(okRuns(queue, "e2e_boom")).to.have.length(2);
      });

      it("pauses a queue: no message starts after the click + 1.5 s, they stay ready; resume: all run once", async () => {
        const ticks = `${queue}_ticks`;
        const tick = fleet!.work.actors.get("e2e_tick")!;
        const worker: Worker = await fleet!.startWorker({ queues: [ticks], concurrency: 1 });
        expect(worker.pausedQueues).to.deep.equal([]);
        for (let i = 0; i < 40; i++) await tick.send(`t${i}`);
        const started = () => (runs.get(queue) ?? []).filter((r) => r.actor === "e2e_tick");
        await until(() => started().length >= 3, "consumption under way");

        await page.evaluate((q) => (location.hash = `#/queues/${q}`), ticks);
        const pause = page.locator("[data-test=pause-queue]");
        await pause.waitFor();
        const clickedAt = Date.now();
        await pause.click();
        await page.locator("[data-test=paused-badge]").waitFor();
        expect(await page.locator("[data-test=resume-queue]").isEnabled()).to.equal(true);
        // Watch past the bound: nothing may start after click + 1.5 s.
        await until(() => Date.now() > clickedAt + 3_000 || undefined, "the watch window", 5_000);
        const late = started().filter((r) => r.at > clickedAt + 1_500);
        expect(late, "messages started after the pause took effect").to.deep.equal([]);
        const ranBefore = started().length;
        expect(ranBefore).to.be.below(40);
        const depths = await fleet!.work.depths(ticks);
        expect(depths.ready, "the rest stay ready").to.equal(40 - ranBefore);
        expect(worker.pausedQueues).to.deep.equal([ticks]);
        await page.locator("[data-test=nav-overview]").click();
        const row = page.locator(`[data-test=queue-row][data-queue="${ticks}"]`);
        await row.locator("[data-test=paused-badge]").waitFor();
        await until(async () => (await row.locator("td").nth(1).textContent()) === String(40 - ranBefore), "the overview's ready count");

        await page.evaluate((q) => (location.hash = `#/queues/${q}`), ticks);
        const resumedAt = Date.now();
        await page.locator("[data-test=resume-queue]").click();
        await page.locator("[data-test=pause-queue]").waitFor();
        await until(() => started().length === 40, "all 40 run", 20_000);
        expect(started().slice(ranBefore).every((r) => r.at >= resumedAt), "the rest started after the resume").to.equal(true);
        expect(new Set(started().map((r) => r.arg)).size, "each once").to.equal(40);
        await until(async () => (await fleet!.work.depths(ticks)).ready === 0, "none ready");
      });
    });
  }
});
