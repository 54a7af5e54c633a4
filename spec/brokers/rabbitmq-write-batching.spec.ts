import { expect } from "chai";
import type { Socket } from "node:net";
import { RabbitmqBroker } from "../../brokers/rabbitmq/index.ts";
import { brokerSocket } from "../../brokers/rabbitmq/testing.ts";
import { connectWithSocket, WriteBatcher } from "../../brokers/rabbitmq/write-batching.ts";
import { Message } from "../../lib/message.ts";
import { amqpUrl, deleteQueues, uniqueQueue } from "../helpers/amqp.ts";

describe("RabbitMQ socket write batching", function () {
  this.timeout(15_000);

  /** Counts the socket's writes to the kernel (one per `_write`, or per `_writev` batch). */
  function countWrites(socket: Socket): { readonly count: number } {
    const counter = { count: 0 };
    const target = socket as unknown as Record<"_write" | "_writev", (...args: unknown[]) => unknown>;
    for (const method of ["_write", "_writev"] as const) {
      const original = target[method];
      target[method] = function (this: unknown, ...args: unknown[]) {
        counter.count++;
        return original.apply(this, args);
      };
    }
    return counter;
  }

  async function publishBurst(batched: boolean): Promise<{ writes: number; order: number[] }> {
    const { model, socket } = await connectWithSocket(await amqpUrl(), {});
    const queue = uniqueQueue("rmq_batch");
    try {
      // amqplib's own socket, reached through Node's public diagnostics channel.
      expect(socket).to.not.equal(undefined);
      const batcher = batched ? new WriteBatcher(socket!) : undefined;
      const channel = await model.createConfirmChannel();
      await channel.assertQueue(queue, { durable: false, autoDelete: false });
      const writes = countWrites(socket!);
      const count = 300;
      for (let i = 0; i < count; i++) {
        channel.publish("", queue, Buffer.from(JSON.stringify({ i })), { persistent: true });
        batcher?.batch();
      }
      await channel.waitForConfirms();
      const sent = writes.count;
      expect((await channel.checkQueue(queue)).messageCount).to.equal(count);
      const order: number[] = [];
      for (let message = await channel.get(queue, { noAck: true }); message !== false; message = await channel.get(queue, { noAck: true })) {
        order.push((JSON.parse(message.content.toString()) as { i: number }).i);
      }
      await channel.deleteQueue(queue);
      return { writes: sent, order };
    } finally {
      await model.close();
    }
  }

  it("writes a burst of publishes in a few socket writes instead of one per frame, every frame in order", async () => {
    const plain = await publishBurst(false);
    const batched = await publishBurst(true);
    const inOrder = Array.from({ length: 300 }, (_, i) => i);
    expect(plain.order).to.deep.equal(inOrder);
    expect(batched.order).to.deep.equal(inOrder);
    // Unbatched, every frame is a write of its own; batched, a 16 KiB socket buffer's worth per write.
    expect(plain.writes).to.be.at.least(300);
    expect(batched.writes).to.be.below(300 / 10);
  });

  it("is on for the broker's own connection: concurrent enqueues go out in a few socket writes", async () => {
    const url = await amqpUrl();
    const broker = new RabbitmqBroker({ url, middleware: [] });
    const queue = uniqueQueue("rmq_batch_broker");
    broker.declareQueue(queue);
    const message = (i: number) => new Message({ queueName: queue, actorName: "rmq_batch", args: [i], options: {} });
    try {
      await broker.enqueue(message(-1)); // connects and opens the channel
      const socket = brokerSocket(broker);
      expect(socket).to.not.equal(undefined);
      const writes = countWrites(socket!);
      await Promise.all(Array.from({ length: 300 }, (_, i) => broker.enqueue(message(i))));
      expect(writes.count).to.be.below(300 / 10);
      expect((await broker.depths(queue)).ready).to.equal(301);
    } finally {
      await broker.close();
      await deleteQueues(url, [queue]);
    }
  });
});
