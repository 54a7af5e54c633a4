// What every ResultBackend must do, whatever its store, across instances (processes): store and
// read a result, wait for one stored later, time out, report a failure, forget after the TTL.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { ResultFailure, ResultMissing, ResultTimeout, type ResultKeySource } from "../../../lib/index.ts";
import { elapse, type BackendFactory, type BackendPlace } from "./place.ts";

const source = (): ResultKeySource => ({ queueName: "contract", actorName: "contractActor", messageId: randomUUID() });

export function resultsContract(name: string, factory: BackendFactory): void {
  describe(`result backend contract: ${name}`, function () {
    this.timeout(15_000);
    let place: BackendPlace;

    beforeEach(async () => {
      place = await factory();
    });

    afterEach(async () => {
      await place.close();
    });

    it("returns a stored result to this instance and another, at once", async () => {
      const [a, b] = [place.results(), place.results()];
      const s = source();
      await a.storeResult(s, { sum: 5, tags: ["x"] }, 60_000);
      expect(await a.getResult(s, { block: false })).to.deep.equal({ sum: 5, tags: ["x"] });
      expect(await b.getResult(s, { block: false })).to.deep.equal({ sum: 5, tags: ["x"] });
      const none = source();
      await a.storeResult(none, undefined, 60_000);
      expect(await b.getResult(none, { block: false }), "undefined is stored as null, as in Dramatiq").to.equal(null);
    });

    it("waits for a result another instance stores later", async () => {
      const [a, b] = [place.results(), place.results()];
      const s = source();
      const waiting = b.getResult(s, { timeout: 5_000 });
      const storedAt = Date.now();
      await a.storeResult(s, 42, 60_000);
      expect(await waiting).to.equal(42);
      expect(Date.now() - storedAt, "the reader saw it soon after the store").to.be.below(1_000);
    });

    it("throws ResultMissing without blocking and ResultTimeout after the timeout when nothing is stored", async () => {
      const backend = place.results();
      const s = source();
      expect(await backend.getResult(s, { block: false }).then(() => undefined, (e: unknown) => e)).to.be.instanceOf(ResultMissing);
      const started = Date.now();
      const error = await backend.getResult(s, { timeout: 200 }).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(ResultTimeout);
      expect(Date.now() - started).to.be.within(150, 3_000);
    });

    it("stores a final failure that every instance raises as ResultFailure, in Dramatiq's form", async () => {
      const [a, b] = [place.results(), place.results()];
      const s = source();
      await a.storeFailure(s, new TypeError("bad input"), 60_000);
      const error = await b.getResult(s, { block: false }).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(ResultFailure);
      expect((error as ResultFailure).origExcType).to.equal("TypeError");
      expect((error as ResultFailure).origExcMsg).to.equal("bad input");
    });

    it("forgets a result once its ttl passed", async () => {
      const [a, b] = [place.results(), place.results()];
      const [short, long] = [source(), source()];
      await a.storeResult(short, 1, 150);
      await a.storeResult(long, 2, 60_000);
      expect(await b.getResult(short, { block: false })).to.equal(1);
      await elapse(250);
      expect(await b.getResult(short, { block: false }).then(() => undefined, (e: unknown) => e)).to.be.instanceOf(ResultMissing);
      expect(await b.getResult(long, { block: false })).to.equal(2);
    });
  });
}
