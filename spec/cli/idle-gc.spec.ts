import { expect } from "chai";
import { IdleCollector } from "../../lib/cli/idle-gc.ts";

describe("IdleCollector (a worker process gives memory back when it goes idle)", () => {
  it("collects once after booting and once after each busy spell, never while messages keep coming or run", () => {
    const worker = { processed: 0, inFlight: 0 };
    let collections = 0;
    const idle = new IdleCollector(worker, () => collections++);

    idle.check();
    expect(collections, "booted and idle").to.equal(1);
    idle.check();
    expect(collections, "still idle: nothing new to give back").to.equal(1);

    for (let i = 0; i < 5; i++) {
      worker.processed += 10;
      idle.check();
    }
    worker.inFlight = 1;
    idle.check();
    expect(collections, "busy, then a message still running").to.equal(1);

    worker.inFlight = 0;
    idle.check();
    expect(collections, "idle after the spell").to.equal(2);
    idle.check();
    expect(collections).to.equal(2);
  });
});
