import { expect } from "chai";
import amqp from "amqplib";
import { batchSocketWrites, channelFlusher } from "../../brokers/rabbitmq/write-batching.ts";
import { amqpUrl, uniqueQueue } from "../helpers/amqp.ts";

describe("RabbitMQ socket write batching", function () {
  this.timeout(15_000);

  it("writes bursts of publishes in a few socket writes, on demand or when the multiplexer runs, every frame in order", async () => {
    const model = await amqp.connect(await amqpUrl());
    model.on("error", () => {}); // calls fail on their own; an unheard 'error' would end the mocha run
    const queue = uniqueQueue("rmq_batch");
    try {
      // Fails when an amqplib upgrade moves the internals it patches.
      expect(batchSocketWrites(model)).to.equal(true);
      const channel = await model.createConfirmChannel();
      await channel.assertQueue(queue, { durable: false, autoDelete: false });
      const socket = (model as unknown as { connection: { stream: { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void } } }).connection.stream;
      let writes = 0;
      for (const method of ["_write", "_writev"] as const) {
        const original = socket[method];
        socket[method] = function (this: unknown, ...args: unknown[]) {
          writes++;
          return original.apply(this, args);
        };
      }
      const count = 300;
      const flush = channelFlusher(channel);
      expect(flush).to.be.a("function");
      for (let i = 0; i < count / 2; i++) channel.publish("", queue, Buffer.from(JSON.stringify({ i })), { persistent: true });
      // Flushed mid-loop: written before the loop yields (the multiplexer would wait for setImmediate).
      flush!();
      expect(writes).to.be.above(0);
      for (let i = count / 2; i < count; i++) channel.publish("", queue, Buffer.from(JSON.stringify({ i })), { persistent: true });
      await channel.waitForConfirms();
      // One write per frame without batching; a 16 KiB socket buffer's worth per write with it.
      expect(writes).to.be.below(count / 10);
      expect((await channel.checkQueue(queue)).messageCount).to.equal(count);
      const got: number[] = [];
      for (let message = await channel.get(queue, { noAck: true }); message !== false; message = await channel.get(queue, { noAck: true })) {
        got.push((JSON.parse(message.content.toString()) as { i: number }).i);
      }
      expect(got).to.deep.equal(Array.from({ length: count }, (_, i) => i));
      await channel.deleteQueue(queue);
    } finally {
      await model.close();
    }
  });
});
