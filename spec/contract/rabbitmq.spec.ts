import { RabbitmqBroker, type RabbitmqConsumer } from "../../brokers/rabbitmq/index.ts";
import { abandon, heldBy } from "../../brokers/rabbitmq/testing.ts";
import { amqpUrl, deleteQueues, waitFor } from "../helpers/amqp.ts";
import { brokerContract, type ContractFactory } from "./broker.contract.ts";
import { joinContract } from "./join.contract.ts";
import { hostileContract } from "./hostile.contract.ts";

// With broker priorities (opt-in since the default declares queues as Python Dramatiq does): the
// contract's priority case orders waiting messages at the broker.
const factory: ContractFactory = async ({ middleware }) => {
  const url = await amqpUrl();
  const broker = new RabbitmqBroker({ url, middleware, heartbeat: 2_000, maxPriority: 10 });
  const peers: RabbitmqBroker[] = [];
  return {
    broker,
    peer: () => {
      const peer = new RabbitmqBroker({ url, middleware, heartbeat: 2_000, maxPriority: 10 });
      peers.push(peer);
      return peer;
    },
    enqueueRaw: (queue, body) => broker.enqueueRaw(queue, body),
    // A dead worker: its socket is destroyed with no goodbye; RabbitMQ requeues what it held.
    crash: async (consumer) => {
      const doomed = consumer as RabbitmqConsumer;
      const held = heldBy(doomed);
      abandon(doomed);
      await waitFor(async () => (await broker.depths(doomed.queueName)).ready >= held, 5_000, "the crashed consumer's messages to return");
    },
    close: async () => {
      const queues = [...broker.queues];
      for (const peer of peers) await peer.close();
      await broker.close();
      await deleteQueues(url, queues);
    },
  };
};

brokerContract("rabbitmq", factory);
joinContract("rabbitmq", factory, { shared: true });
hostileContract("rabbitmq", factory);
