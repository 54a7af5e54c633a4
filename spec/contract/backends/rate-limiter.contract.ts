// What every RateLimiterBackend must do, whatever its store, across instances (processes):
// slots (limit, release, a dead holder's slot expiring), sliding windows, token buckets, and the
// group barriers GroupCallbacks relies on.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { elapse, type BackendFactory, type BackendPlace } from "./place.ts";

export function rateLimiterContract(name: string, factory: BackendFactory): void {
  describe(`rate-limiter backend contract: ${name}`, function () {
    this.timeout(15_000);
    let place: BackendPlace;
    const key = () => `contract-${randomUUID()}`;

    beforeEach(async () => {
      place = await factory();
    });

    afterEach(async () => {
      await place.close();
    });

    describe("slots", () => {
      it("hold at most `limit` holders across instances; a holder asking again keeps its slot", async () => {
        const [a, b] = [place.rateLimiter(), place.rateLimiter()];
        const k = key();
        expect(await a.acquireSlot(k, "h1", 2, 60_000)).to.equal(true);
        expect(await b.acquireSlot(k, "h2", 2, 60_000)).to.equal(true);
        expect(await b.acquireSlot(k, "h3", 2, 60_000)).to.equal(false);
        expect(await a.acquireSlot(k, "h3", 2, 60_000)).to.equal(false);
        expect(await b.acquireSlot(k, "h1", 2, 60_000), "a holder's own slot").to.equal(true);
        expect(await a.acquireSlot(key(), "h3", 2, 60_000), "another key has its own slots").to.equal(true);
      });

      it("admit exactly `limit` of many concurrent holders", async () => {
        const [a, b] = [place.rateLimiter(), place.rateLimiter()];
        const k = key();
        const taken = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).acquireSlot(k, `h${i}`, 3, 60_000)));
        expect(taken.filter(Boolean)).to.have.length(3);
      });

      it("free a slot on release, for every instance", async () => {
        const [a, b] = [place.rateLimiter(), place.rateLimiter()];
        const k = key();
        expect(await a.acquireSlot(k, "h1", 1, 60_000)).to.equal(true);
        expect(await b.acquireSlot(k, "h2", 1, 60_000)).to.equal(false);
        await a.releaseSlot(k, "h1");
        expect(await b.acquireSlot(k, "h2", 1, 60_000)).to.equal(true);
        await a.releaseSlot(k, "never-held");
        expect(await a.acquireSlot(k, "h3", 1, 60_000)).to.equal(false);
      });

      it("free a dead holder's slot once its ttl passed", async () => {
        const [a, b] = [place.rateLimiter(), place.rateLimiter()];
        const k = key();
        expect(await a.acquireSlot(k, "dead", 1, 150)).to.equal(true);
        expect(await b.acquireSlot(k, "alive", 1, 60_000)).to.equal(false);
        await elapse(250);
        expect(await b.acquireSlot(k, "alive", 1, 60_000)).to.equal(true);
      });
    });

    describe("windows", () => {
      it("admit `limit` hits per sliding window across instances, then admit again once old hits leave it", async () => {
        const [a, b] = [place.rateLimiter(), place.rateLimiter()];
        const k = key();
        const hits = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).hitWindow(k, 3, 300)));
        expect(hits.filter(Boolean)).to.have.length(3);
        expect(await a.hitWindow(key(), 3, 300), "another key has its own window").to.equal(true);
        await elapse(400);
        expect(await b.hitWindow(k, 3, 300)).to.equal(true);
      });
    });

    describe("token buckets", () => {
      it("allow a burst of `capacity` across instances, then refill at capacity per period", async () => {
        const [a, b] = [place.rateLimiter(), place.rateLimiter()];
        const k = key();
        const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).takeToken(k, 2, 400)));
        expect(burst.filter(Boolean)).to.have.length(2);
        // One token back takes period / capacity = 200 ms.
        await elapse(260);
        expect(await a.takeToken(k, 2, 400)).to.equal(true);
        expect(await b.takeToken(k, 2, 400)).to.equal(false);
      });
    });

    describe("barriers", () => {
      it("are created once while alive", async () => {
        const [a, b] = [place.rateLimiter(), place.rateLimiter()];
        const k = key();
        expect(await a.createBarrier(k, 2, 60_000)).to.equal(true);
        expect(await b.createBarrier(k, 5, 60_000)).to.equal(false);
        const created = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).createBarrier(`${k}-race`, 2, 60_000)));
        expect(created.filter(Boolean)).to.have.length(1);
      });

      it("count each member once, report complete from the last arrival on until closed, on every instance", async () => {
        const [a, b] = [place.rateLimiter(), place.rateLimiter()];
        const k = key();
        await a.createBarrier(k, 2, 60_000);
        expect(await a.arriveAtBarrier(k, "m1")).to.equal(false);
        expect(await b.arriveAtBarrier(k, "m1"), "a member arriving again counts once").to.equal(false);
        expect(await b.arriveAtBarrier(k, "m2")).to.equal(true);
        expect(await a.arriveAtBarrier(k, "m2"), "a redelivered member before the close").to.equal(true);
        await b.closeBarrier(k);
        expect(await a.arriveAtBarrier(k, "m1")).to.equal(false);
        expect(await b.arriveAtBarrier(k, "m2")).to.equal(false);
      });

      it("report complete to exactly one of many members arriving at once, each once", async () => {
        const instances = [place.rateLimiter(), place.rateLimiter(), place.rateLimiter()];
        for (let round = 0; round < 5; round++) {
          const k = key();
          const parties = 12;
          await instances[0]!.createBarrier(k, parties, 60_000);
          const arrivals = await Promise.all(Array.from({ length: parties }, (_, i) => instances[i % instances.length]!.arriveAtBarrier(k, `m${i}`)));
          expect(arrivals.filter(Boolean), `round ${round}`).to.have.length(1);
        }
      });

      it("report nothing for a barrier never created or expired, and a close does not create one", async () => {
        const [a, b] = [place.rateLimiter(), place.rateLimiter()];
        const missing = key();
        expect(await a.arriveAtBarrier(missing, "m1")).to.equal(false);
        await b.closeBarrier(missing);
        expect(await a.createBarrier(missing, 1, 60_000)).to.equal(true);
        expect(await b.arriveAtBarrier(missing, "m1")).to.equal(true);
        const short = key();
        expect(await a.createBarrier(short, 1, 150)).to.equal(true);
        await elapse(250);
        expect(await b.arriveAtBarrier(short, "m1"), "an expired barrier").to.equal(false);
        expect(await b.createBarrier(short, 1, 60_000), "an expired barrier can be created again").to.equal(true);
      });
    });
  });
}
