import { expect } from "chai";
import { StubBroker } from "../brokers/stub.ts";
import { actor, configureLogging, InvalidOptions, MemoryKeyValueStore, Middleware, MiddlewareError, Schedule, Scheduler, Worker } from "../lib/index.ts";
import { waitFor } from "./fixtures/sqlite-files.ts";

describe("Scheduler", () => {
  it("rejects an invalid cron string at declaration, with the reason", () => {
    const broker = new StubBroker();
    expect(() => actor(function badCron() {}, { broker, schedule: "61 * * * *" })).to.throw(InvalidOptions, /invalid cron schedule "61 \* \* \* \*"/);
    expect(() => actor(function tooFast() {}, { broker, schedule: { every: 10 } })).to.throw(InvalidOptions, "at least 1000");
  });

  it("computes cron ticks with seconds and time zones, and aligned intervals", () => {
    const everyTwo = new Schedule("*/2 * * * * *", "x");
    const base = Date.UTC(2026, 0, 1, 0, 0, 1);
    expect(everyTwo.upcoming(3, base)).to.deep.equal([base + 1000, base + 3000, base + 5000]);
    expect(everyTwo.previousAt(base + 1000)).to.equal(base + 1000);
    const paris = new Schedule({ cron: "0 9 * * *", timezone: "Europe/Paris" }, "x");
    expect(new Date(paris.nextAfter(base)!).toISOString()).to.equal("2026-01-01T08:00:00.000Z");
    const interval = new Schedule({ every: 5_000 }, "x");
    expect(interval.nextAfter(12_345)).to.equal(15_000);
  });

  it("enqueues each tick exactly once across several workers sharing a store", async function () {
    this.timeout(10_000);
    const store = new MemoryKeyValueStore();
    const runs: { worker: number; tick: unknown }[] = [];
    const worlds = await Promise.all(
      [0, 1, 2].map(async (i) => {
        // Three "processes", each with its own broker, claiming ticks in one shared store.
        const broker = new StubBroker({ middleware: [new Scheduler({ store })] });
        actor(function tick(this: { message: { options: Record<string, unknown> } | undefined }) {
          runs.push({ worker: i, tick: this.message?.options.schedule_tick });
        }, { broker, schedule: "* * * * * *" });
        const worker = new Worker(broker, { fetchTimeout: 50 });
        await worker.start();
        return { broker, worker };
      }),
    );
    await new Promise((r) => setTimeout(r, 2_600));
    for (const { worker, broker } of worlds) {
      await broker.join("default");
      await worker.stop();
    }
    const ticks = runs.map((r) => r.tick as number);
    expect(ticks.length).to.be.within(2, 3);
    expect(new Set(ticks).size).to.equal(ticks.length);
    for (const tick of ticks) expect(tick % 1000).to.equal(0);
  });

  it("runs the most recent missed tick once on boot when catchUp is set, and skips it otherwise", async () => {
    const store = new MemoryKeyValueStore();
    const broker = new StubBroker({ middleware: [new Scheduler({ store })] });
    const ran: string[] = [];
    actor(function catching() { ran.push("catching"); }, { broker, schedule: { every: 3_600_000, catchUp: true } });
    actor(function skipping() { ran.push("skipping"); }, { broker, schedule: { every: 3_600_000 } });
    const longAgo = String(Date.now() - 10 * 3_600_000);
    await store.set("dramats:schedule-last:catching", longAgo, 60_000);
    await store.set("dramats:schedule-last:skipping", longAgo, 60_000);
    const worker = new Worker(broker, { fetchTimeout: 50 });
    await worker.start();
    await broker.join("default");
    await worker.stop();
    expect(ran).to.deep.equal(["catching"]);
    const info = await broker.getMiddleware(Scheduler)!.describe(broker);
    expect(info.map((s) => [s.actorName, s.schedule, s.next.length])).to.deep.equal([
      ["catching", "every 3600000 ms", 3],
      ["skipping", "every 3600000 ms", 3],
    ]);
    expect(info[0]!.lastTick).to.equal(Math.floor(Date.now() / 3_600_000) * 3_600_000);
  });

  it("after an outage runs the latest failed tick once and drops the earlier failed ones", async function () {
    this.timeout(15_000);
    let down = true;
    const failed = new Set<number>();
    class Outage extends Middleware {
      beforeEnqueue(_broker: unknown, message: { options: Record<string, unknown> }): void {
        if (!down) return;
        failed.add(message.options.schedule_tick as number);
        throw new MiddlewareError("the broker takes no writes");
      }
    }
    const broker = new StubBroker({ middleware: [new Scheduler(), new Outage()] });
    const runs: number[] = [];
    actor(function everySecond(this: { message: { options: Record<string, unknown> } | undefined }) {
      runs.push(this.message!.options.schedule_tick as number);
    }, { broker, schedule: "* * * * * *" });
    const dropped = new Set<number>();
    configureLogging({ level: "warn" }, {
      write(line: string) {
        const entry = JSON.parse(line) as { msg: string; tick: string };
        if (entry.msg.startsWith("Dropping a failed tick")) dropped.add(Date.parse(entry.tick));
      },
    });
    const worker = new Worker(broker, { fetchTimeout: 50 });
    await worker.start();
    try {
      await waitFor(() => failed.size >= 3, 10_000, "three ticks to fail");
      down = false;
      const latest = Math.max(...failed);
      await waitFor(() => runs.includes(latest), 10_000, "the latest failed tick to run");
      const earlier = [...failed].filter((tick) => tick !== latest);
      await waitFor(() => earlier.every((tick) => dropped.has(tick)), 10_000, "the earlier failed ticks to be dropped");
      await broker.join("default");
      expect(runs.filter((tick) => failed.has(tick))).to.deep.equal([latest]);
      expect(new Set(runs).size).to.equal(runs.length);
    } finally {
      configureLogging();
      await worker.stop();
      await broker.close();
    }
  });
});
