// A vhost RabbitMQ will not open: the error says which vhost and user, not amqplib's
// "Expected ConnectionOpenOk; got <ConnectionClose channel:0>".
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { RabbitmqBroker } from "../../brokers/rabbitmq/index.ts";
import { ConnectionFailed } from "../../lib/errors.ts";
import { amqpUrl } from "../helpers/amqp.ts";

describe("RabbitMQ: a vhost that cannot be opened", function () {
  this.timeout(20_000);

  it("fails with ConnectionFailed naming the vhost and the user", async () => {
    const vhost = `dramats-missing-${randomUUID()}`;
    const url = new URL(await amqpUrl());
    url.pathname = `/${vhost}`;
    const broker = new RabbitmqBroker({ url: url.href, connectTimeout: 1_500 });
    broker.declareQueue("q");
    try {
      const error = await broker.depths("q").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(ConnectionFailed);
      expect((error as Error).message).to.include(`RabbitMQ refused to open vhost "${vhost}" for user "${decodeURIComponent(url.username)}"`);
    } finally {
      await broker.close();
    }
  });
});
