// Results kept in a broker's own key-value store: what lets the embedded SQLite broker (and
// Redis, and the stub) return results with nothing else to run.
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteBroker } from "../brokers/sqlite/index.ts";
import { StubBroker } from "../brokers/stub.ts";
import { actor, defaultMiddleware, InvalidOptions, ResultFailure, Results, ResultTimeout, StoreResultBackend, Worker, type Broker } from "../lib/index.ts";

const worlds: [string, (dir: string) => Broker][] = [
  ["SqliteBroker", (dir) => new SqliteBroker({ path: join(dir, "results.sqlite"), middleware: defaultMiddleware() })],
  ["StubBroker", () => new StubBroker()],
];

for (const [name, makeBroker] of worlds) {
  describe(`StoreResultBackend on the ${name}'s store`, () => {
    let dir: string;
    let broker: Broker;
    let backend: StoreResultBackend;
    let worker: Worker;

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), "dramats-store-results-"));
      broker = makeBroker(dir);
      backend = new StoreResultBackend({ store: broker.store });
      broker.addMiddleware(new Results({ backend }));
      worker = new Worker(broker, { fetchTimeout: 50 });
    });
    afterEach(async () => {
      await worker.stop();
      await backend.close();
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("returns what an actor returned, waiting for it to be stored", async () => {
      const add = actor(async function storeAdd(a: number, b: number) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return a + b;
      }, { broker, storeResults: true, queueName: "store-results" });
      const message = await add.send(2, 3);
      await worker.start();
      expect(await message.result({ timeout: 5_000 })).to.equal(5);
    });

    it("raises the actor's final failure, and times out when nothing is stored", async () => {
      const fail = actor(function storeFail() {
        throw new TypeError("bad input");
      }, { broker, storeResults: true, maxRetries: 0, queueName: "store-results" });
      const idle = actor(function storeIdle() {}, { broker, queueName: "store-idle" });
      await worker.start();
      const failed = await fail.send();
      let error: unknown;
      try {
        await failed.result({ timeout: 5_000 });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(ResultFailure).with.property("message", "actor raised TypeError: bad input");
      const never = idle.message();
      error = undefined;
      try {
        await backend.getResult(never, { timeout: 100 });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(ResultTimeout);
    });
  });
}

describe("StoreResultBackend", () => {
  it("needs a store, and says where to look when a broker has none", () => {
    expect(() => new StoreResultBackend({ store: undefined })).to.throw(InvalidOptions, /RabbitMQ needs a RedisResultBackend/);
  });
});
