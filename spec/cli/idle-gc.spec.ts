import { expect } from "chai";
import { IdleCollector } from "../../lib/cli/idle-gc.ts";

describe("IdleCollector (a worker process gives memory back when it goes idle)", () => {
  it("collects after three quiet checks following boot or a busy spell, never while messages come or run", () => {
    const worker = { processed: 0, inFlight: 0 };
    let collections = 0;
    const idle = new IdleCollector(worker, () => collections++);
    const checks = (n: number) => {
      for (let i = 0; i < n; i++) idle.check();
    };

    checks(2);
    expect(collections, "two quiet checks after boot").to.equal(0);
    checks(1);
    expect(collections, "third quiet check").to.equal(1);
    checks(5);
    expect(collections, "still idle: nothing new to give back").to.equal(1);

    for (let i = 0; i < 5; i++) {
      worker.processed += 10;
      checks(1);
    }
    worker.inFlight = 1;
    checks(5);
    expect(collections, "busy, then a message still running").to.equal(1);

    // A suspended process (the bench freezes workers) sees one check on waking, then work again.
    worker.inFlight = 0;
    checks(1);
    worker.processed += 10;
    checks(1);
    expect(collections, "one quiet check between busy spells").to.equal(1);

    checks(3);
    expect(collections, "idle after the spell").to.equal(2);
  });
});
