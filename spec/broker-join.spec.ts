import { expect } from "chai";
import { StubBroker } from "../brokers/stub.ts";
import { actor, MessageDeadLettered, Retries, Worker } from "../lib/index.ts";

class Numbered extends Error {
  override name = "Numbered";
}

/** What the base Broker keeps for `join`; the meaning itself is checked on every broker by spec/contract/join.contract.ts. */
describe("Broker.join's memory of actor errors", function () {
  this.timeout(20_000);

  it("keeps the errors of the last 1,000 dead letters a broker wrote: an older one fails a join as MessageDeadLettered", async () => {
    const broker = new StubBroker({ middleware: [new Retries({ maxRetries: 0 })] });
    const fail = actor(function join_memory_fails(n: number) { throw new Numbered(`failure ${n}`); }, { broker, queueName: "join_memory" });
    const worker = new Worker(broker, { queues: ["join_memory"], concurrency: 1 });
    await worker.start();
    try {
      const sent = await fail.sendMany(Array.from({ length: 1_001 }, (_, n) => [n] as [number]));
      while ((await broker.depths("join_memory")).dead < 1_001) await new Promise((resolve) => setTimeout(resolve, 10));
      // The first of 1,001 dead letters: its error is the one forgotten.
      const forgotten = await broker.join("join_memory").then(() => undefined, (e: unknown) => e);
      expect(forgotten).to.be.instanceOf(MessageDeadLettered);
      expect(forgotten).to.deep.include({ queueName: "join_memory", messageId: sent[0]!.messageId, reason: "Numbered: failure 0" });
      await fail.send(1_001);
      const kept = await broker.join("join_memory").then(() => undefined, (e: unknown) => e);
      expect(kept).to.be.instanceOf(Numbered);
      expect((kept as Error).message).to.equal("failure 1001");
    } finally {
      await worker.stop();
      await broker.close();
    }
  });
});
