import { expect } from "chai";
import { StubBroker } from "../brokers/stub.ts";
import {
  actor,
  DramatsError,
  Results,
  ResultFailure,
  ResultMissing,
  ResultTimeout,
  Retries,
  StubResultBackend,
  Worker,
} from "../lib/index.ts";

async function resultsWorld() {
  const backend = new StubResultBackend();
  const broker = new StubBroker({ middleware: [new Retries({ maxRetries: 0 }), new Results({ backend })] });
  const worker = new Worker(broker, { fetchTimeout: 50 });
  await worker.start();
  return { broker, backend, worker, teardown: async () => { await worker.stop(); await broker.close(); } };
}

describe("Results", () => {
  it("round-trips typed return values", async () => {
    const world = await resultsWorld();
    try {
      const add = actor(async function resultAdd(a: number, b: number) { return { sum: a + b }; }, { broker: world.broker, storeResults: true });
      const message = await add.send(2, 3);
      const value: { sum: number } = await message.result({ timeout: 2_000 });
      expect(value).to.deep.equal({ sum: 5 });
    } finally {
      await world.teardown();
    }
  });

  it("rethrows a final failure as ResultFailure with the original type and message", async () => {
    const world = await resultsWorld();
    try {
      const fail = actor(function resultFail() { throw new TypeError("bad input"); }, { broker: world.broker, storeResults: true });
      const message = await fail.send();
      const error = await message.result({ timeout: 2_000 }).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(ResultFailure);
      expect((error as ResultFailure).message).to.equal("actor raised TypeError: bad input");
      expect((error as ResultFailure).origExcType).to.equal("TypeError");
      expect((error as ResultFailure).origExcMsg).to.equal("bad input");
    } finally {
      await world.teardown();
    }
  });

  it("times out when no result arrives, and reports a missing one without blocking", async () => {
    const world = await resultsWorld();
    try {
      world.worker.pause();
      const slow = actor(function resultNever() { return 1; }, { broker: world.broker, storeResults: true });
      const message = await slow.send();
      const timedOut = await message.result({ timeout: 50 }).then(() => undefined, (e: unknown) => e);
      expect(timedOut).to.be.instanceOf(ResultTimeout);
      const missing = await message.result({ block: false }).then(() => undefined, (e: unknown) => e);
      expect(missing).to.be.instanceOf(ResultMissing);
      world.worker.resume();
      expect(await message.result({ timeout: 2_000 })).to.equal(1);
    } finally {
      await world.teardown();
    }
  });

  it("refuses at once to wait for results of an actor that does not store them", async () => {
    const world = await resultsWorld();
    try {
      const plain = actor(function resultPlain() { return 1; }, { broker: world.broker });
      const message = await plain.send();
      const error = await message.result({ timeout: 5_000 }).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(DramatsError);
      expect((error as Error).message).to.contain("does not store results");
    } finally {
      await world.teardown();
    }
  });

  it("stores results under Dramatiq's key: md5 of namespace:queue:actor:message_id", () => {
    const backend = new StubResultBackend();
    const key = backend.keyFor({ queueName: "default", actorName: "do_work", messageId: "abc" });
    // Python: hashlib.md5(b"dramatiq-results:default:do_work:abc").hexdigest()
    expect(key).to.equal("fe416469b6c678918a5399271bc93df4");
    expect(backend.keyFor({ queueName: "default.DQ", actorName: "do_work", messageId: "abc" })).to.equal(key);
  });
});
