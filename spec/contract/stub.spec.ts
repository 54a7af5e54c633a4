import { StubBroker, type StubConsumer } from "../../brokers/stub.ts";
import { brokerContract, type ContractFactory } from "./broker.contract.ts";
import { joinContract } from "./join.contract.ts";
import { hostileContract } from "./hostile.contract.ts";
import { queueBrowserContract } from "./queue-browser.contract.ts";

const factory: ContractFactory = async ({ middleware }) => {
  const broker = new StubBroker({ middleware });
  return {
    broker,
    enqueueRaw: async (queue, body) => broker.enqueueRaw(queue, body),
    // In memory, a vanished consumer is a closed one: its held messages go back at once.
    crash: (consumer) => (consumer as StubConsumer).close(),
    close: () => broker.close(),
  };
};

brokerContract("stub", factory);
// No peer: a stub broker shares its queues with no other.
joinContract("stub", factory, { shared: false });
hostileContract("stub", factory);
queueBrowserContract("stub", factory);
