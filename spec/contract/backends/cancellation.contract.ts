// What every CancellationBackend must do, whatever its store: record with a TTL, list the live
// ones, and announce each cancellation to every subscriber, also one on another instance
// (another process's view of the store).
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { elapse, until, type BackendFactory, type BackendPlace } from "./place.ts";

export function cancellationContract(name: string, factory: BackendFactory): void {
  describe(`cancellation backend contract: ${name}`, function () {
    this.timeout(15_000);
    let place: BackendPlace;

    beforeEach(async () => {
      place = await factory();
    });

    afterEach(async () => {
      await place.close();
    });

    it("lists a cancellation with its expiry, to this instance and to another on the same store", async () => {
      const [a, b] = [place.cancellation(), place.cancellation()];
      expect(a === b, "a shared place opens a new instance per call").to.equal(!place.shared);
      const id = randomUUID();
      const before = Date.now();
      await a.cancel(id, 60_000);
      for (const backend of [a, b]) {
        const expiresAt = (await backend.list()).get(id);
        expect(expiresAt).to.be.a("number");
        expect(expiresAt!).to.be.within(before + 60_000 - 1_000, Date.now() + 60_000 + 1_000);
      }
    });

    it("forgets a cancellation once its ttl passed", async () => {
      const backend = place.cancellation();
      const [short, long] = [randomUUID(), randomUUID()];
      await backend.cancel(short, 150);
      await backend.cancel(long, 60_000);
      expect([...(await backend.list()).keys()]).to.include.members([short, long]);
      await elapse(250);
      const listed = await place.cancellation().list();
      expect(listed.has(short)).to.equal(false);
      expect(listed.has(long)).to.equal(true);
    });

    it("tells subscribers of this and other instances of every later cancellation, with its expiry", async () => {
      const [a, b] = [place.cancellation(), place.cancellation()];
      const heardA: [string, number][] = [];
      const heardB: [string, number][] = [];
      const earlier = randomUUID();
      await a.cancel(earlier, 60_000);
      const stopA = await a.subscribe((id, expiresAt) => heardA.push([id, expiresAt]));
      const stopB = await b.subscribe((id, expiresAt) => heardB.push([id, expiresAt]));
      const [first, second] = [randomUUID(), randomUUID()];
      await a.cancel(first, 60_000);
      await b.cancel(second, 30_000);
      await until(() => heardA.length >= 2 && heardB.length >= 2, 5_000, "both subscribers to hear both cancellations");
      for (const heard of [heardA, heardB]) {
        const ids = heard.map(([id]) => id);
        expect(ids).to.include.members([first, second]);
        expect(ids, "a cancellation made before subscribing is not announced").not.to.include(earlier);
        const expiry = new Map(heard);
        expect(expiry.get(first)! - expiry.get(second)!).to.be.within(25_000, 35_000);
      }
      await stopA();
      await stopB();
    });

    it("stops calling a listener once unsubscribed", async () => {
      const [a, b] = [place.cancellation(), place.cancellation()];
      const heard: string[] = [];
      const witness: string[] = [];
      const stop = await b.subscribe((id) => heard.push(id));
      const stopWitness = await b.subscribe((id) => witness.push(id));
      const first = randomUUID();
      await a.cancel(first, 60_000);
      await until(() => heard.includes(first), 5_000, "the first cancellation");
      await stop();
      const second = randomUUID();
      await a.cancel(second, 60_000);
      // The witness, subscribed alongside, hears the second: by then the stopped one would have too.
      await until(() => witness.includes(second), 5_000, "the witness to hear the second cancellation");
      expect(heard).to.deep.equal([first]);
      await stopWitness();
    });
  });
}
