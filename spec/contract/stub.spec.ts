import { StubBroker, type StubConsumer } from "../../brokers/stub.ts";
import { brokerContract } from "./broker.contract.ts";

brokerContract("stub", async ({ middleware }) => {
  const broker = new StubBroker({ middleware });
  return {
    broker,
    enqueueRaw: async (queue, body) => broker.enqueueRaw(queue, body),
    // In memory, a vanished consumer is a closed one: its held messages go back at once.
    crash: (consumer) => (consumer as StubConsumer).close(),
    close: () => broker.close(),
  };
});
